import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface YamlSnippet {
  /** The README line the block's text starts on. */
  line: number;
  text: string;
}

/** Every ```yaml block of the README, as written. */
export function readmeYamlBlocks(): YamlSnippet[] {
  const lines = readFileSync(resolve(__dirname, '../../README.md'), 'utf8').split('\n');
  const blocks: YamlSnippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```yaml') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end += 1;
    blocks.push({ line: start + 1, text: `${lines.slice(start, end).join('\n')}\n` });
    i = end;
  }
  return blocks;
}

/** The README's blocks that are whole config files (they list services). */
export function readmeConfigs(): YamlSnippet[] {
  return readmeYamlBlocks().filter((block) => /^services:/m.test(block.text));
}
