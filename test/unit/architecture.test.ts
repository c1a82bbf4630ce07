import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, as the top-level src folder it lands in. */
function importedAreas(file: string): { specifier: string; area: string }[] {
  const text = readFileSync(file, 'utf8');
  const out: { specifier: string; area: string }[] = [];
  for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const specifier = (match[1] ?? match[2]) as string;
    if (!specifier.startsWith('.')) continue;
    const target = relative(SRC, resolve(dirname(file), specifier));
    out.push({ specifier, area: target.split('/')[0] as string });
  }
  return out;
}

const files = sourceFiles(SRC);
const areaOf = (file: string) => relative(SRC, file).split('/')[0] as string;

describe('module boundaries', () => {
  it('core imports nothing else in src', () => {
    const offenders = files
      .filter((f) => areaOf(f) === 'core')
      .flatMap((f) => importedAreas(f).filter((i) => i.area !== 'core').map((i) => `${relative(SRC, f)} -> ${i.specifier}`));
    expect(offenders).toEqual([]);
  });

  it('the data plane (proxy) imports only core, not even types from the control plane', () => {
    const offenders = files
      .filter((f) => areaOf(f) === 'proxy')
      .flatMap((f) => importedAreas(f).filter((i) => i.area !== 'core' && i.area !== 'proxy').map((i) => `${relative(SRC, f)} -> ${i.specifier}`));
    expect(offenders).toEqual([]);
  });

  it('strategies stay pure: they import only core and themselves', () => {
    const offenders = files
      .filter((f) => areaOf(f) === 'strategies')
      .flatMap((f) => importedAreas(f).filter((i) => i.area !== 'core' && i.area !== 'strategies').map((i) => `${relative(SRC, f)} -> ${i.specifier}`));
    expect(offenders).toEqual([]);
  });

  it('the command line never reaches into the data plane except through the composition root', () => {
    const offenders = files
      .filter((f) => areaOf(f) === 'cli')
      .flatMap((f) => importedAreas(f).filter((i) => i.area === 'proxy').map((i) => `${relative(SRC, f)} -> ${i.specifier}`));
    expect(offenders).toEqual([]);
  });

  it('no source file enables the lenient HTTP parser', () => {
    const offenders = files.filter((f) => /insecureHTTPParser:\s*true|--insecure-http-parser/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
