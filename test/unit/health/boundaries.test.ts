import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../../src');

/** The top-level src folders each relative import of the files in `area` lands in. */
function importsOf(area: string): { file: string; lands: string }[] {
  const dir = join(SRC, area);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) => {
      const file = join(dir, name);
      const text = readFileSync(file, 'utf8');
      return [...text.matchAll(/from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => ({
        file: `${area}/${name}`,
        lands: relative(SRC, resolve(dirname(file), (m[1] ?? m[2]) as string)).split('/')[0] as string,
      }));
    });
}

describe('health module boundaries', () => {
  it('health imports only core, proxy and itself', () => {
    expect(importsOf('health').filter((i) => !['core', 'proxy', 'health'].includes(i.lands))).toEqual([]);
  });

  it('the data plane never imports health (health sets flags; the hot path only reads them)', () => {
    expect(importsOf('proxy').filter((i) => i.lands === 'health')).toEqual([]);
  });
});
