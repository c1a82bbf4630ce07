import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The dependency gate, the part that needs no network: the pinned parser-facing
// dependencies and the lenient-parser ban. `npm audit --omit=dev --audit-level=high` runs in
// .ci/run, which has the registry at hand.

const root = resolve(__dirname, '../../..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function versionOf(pkg: string): [number, number, number] {
  const { version } = JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
  return version.split('.').map(Number) as [number, number, number];
}

describe('dependency gate', () => {
  it('undici is 8.x at 8.9 or later (every 8.x has the 2026 smuggling and CRLF fixes of 7.24; 8.9 also checks coerced header values for CRLF)', () => {
    const [major, minor] = versionOf('undici');
    expect(major).toBe(8);
    expect(minor).toBeGreaterThanOrEqual(9);
  });

  it('the lenient HTTP parser is enabled nowhere: not in the sources, the bin, the manifest or this process', () => {
    const files = [...filesUnder(join(root, 'src')), ...filesUnder(join(root, 'bin')), join(root, 'package.json')];
    const offenders = files.filter((file) => /insecureHTTPParser\s*:(?!\s*false\b)|--insecure-http-parser/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
    expect([...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')).not.toContain('insecure-http-parser');
  });

  it('http-proxy (unmaintained since 2020) is no runtime dependency and no source imports it', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain('http-proxy');
    const importers = filesUnder(join(root, 'src')).filter((file) => /from ['"]http-proxy['"]|require\(['"]http-proxy['"]\)/.test(readFileSync(file, 'utf8')));
    expect(importers).toEqual([]);
  });
});
