import { createHash, type Hash } from 'node:crypto';
import type { MirrorCompareConfig } from '../core/config-types.js';
import { firstDifference, parseJsonPath, removeJsonPath, type JsonPathSegment } from '../core/json-path.js';

/** Never compared: they describe one connection or the framing, not the answer. */
const NOT_COMPARED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'content-length']);

const NOT_JSON = Symbol('not json');

/** A mirror's comparison settings, compiled once per config. */
export class CompareSettings {
  readonly status: boolean;
  readonly body: boolean;
  readonly allHeaders: boolean;
  readonly headers: ReadonlySet<string>;
  readonly ignoreHeaders: ReadonlySet<string>;
  readonly ignoreJsonPaths: readonly (readonly JsonPathSegment[])[];
  readonly maxBodyBytes: number;

  constructor(config: MirrorCompareConfig, maxBodyBytes: number) {
    this.status = config.status;
    this.body = config.body;
    this.allHeaders = config.headers === 'all';
    this.headers = new Set(config.headers === 'all' ? [] : config.headers);
    this.ignoreHeaders = new Set(config.ignoreHeaders);
    this.ignoreJsonPaths = config.ignoreJsonPaths.map((path) => parseJsonPath(path) as JsonPathSegment[]);
    this.maxBodyBytes = maxBodyBytes;
  }

  compares(header: string): boolean {
    if (NOT_COMPARED.has(header) || this.ignoreHeaders.has(header)) return false;
    return this.allHeaders || this.headers.has(header);
  }
}

/**
 * What one side of a mirrored request answered, reduced to what the comparison needs: the
 * status, the compared headers, and the body as a SHA-256 of at most `maxBodyBytes` (streamed,
 * nothing kept) and, for a JSON answer, its bytes too (buffered up to the same limit): when the
 * two hashes differ, the documents are parsed so ignored paths can be taken out and the first
 * differing field named. Equal bytes need no parse, which is the common case of a dark launch.
 */
export class AnswerDigest {
  status = 0;
  /** Compared headers, `name: value` with the name lower-cased, in the order received. */
  readonly headers: string[] = [];
  truncated = false;
  bodyHash = '';
  /** The JSON body's bytes until parsed, then the document (NOT_JSON when it was not JSON after all). */
  private jsonBody: Buffer[] | null = null;
  private document: unknown = NOT_JSON;
  private readonly settings: CompareSettings;
  private hash: Hash | null = null;
  private bytes = 0;
  private jsonChunks: Buffer[] | null = null;

  constructor(settings: CompareSettings) {
    this.settings = settings;
  }

  head(status: number, rawHeaders: readonly (Buffer | string)[]): void {
    this.status = status;
    const settings = this.settings;
    let json = false;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = String(rawHeaders[i]).toLowerCase();
      const value = String(rawHeaders[i + 1]);
      if (name === 'content-type' && /\bjson\b/i.test(value)) json = true;
      if (settings.compares(name)) this.headers.push(`${name}: ${value}`);
    }
    if (settings.body) {
      this.hash = createHash('sha256');
      if (json) this.jsonChunks = [];
    }
  }

  chunk(chunk: Buffer): void {
    const hash = this.hash;
    if (hash === null || this.truncated) return;
    const room = this.settings.maxBodyBytes - this.bytes;
    let part = chunk;
    if (chunk.length > room) {
      part = chunk.subarray(0, room);
      this.truncated = true;
      this.jsonChunks = null;
    }
    this.bytes += part.length;
    hash.update(part);
    // Copied: the document is parsed once the other side has answered too, after this buffer may be reused.
    if (this.jsonChunks !== null) this.jsonChunks.push(Buffer.from(part));
  }

  /** True once the body read so far reached the limit: the rest need not be read at all. */
  get full(): boolean {
    return this.truncated;
  }

  end(): void {
    if (this.hash === null) return;
    this.bodyHash = this.hash.digest('hex');
    this.hash = null;
    this.jsonBody = this.jsonChunks;
    this.jsonChunks = null;
  }

  /** The JSON body with the ignored paths taken out, parsed on first use; NOT_JSON when it is not JSON. */
  private json(): unknown {
    const chunks = this.jsonBody;
    if (chunks === null) return this.document;
    this.jsonBody = null;
    try {
      const document: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const path of this.settings.ignoreJsonPaths) removeJsonPath(document, path);
      this.document = document;
    } catch {
      // Not JSON after all: compared by its hash.
    }
    return this.document;
  }

  /** What differs between the live answer and the copy's: one kind per field, none when they match. */
  static differences(live: AnswerDigest, copy: AnswerDigest): string[] {
    const kinds: string[] = [];
    const settings = live.settings;
    if (settings.status && live.status !== copy.status) kinds.push(`status: live ${live.status}, copy ${copy.status}`);
    if (live.headers.length > 0 || copy.headers.length > 0) {
      for (const name of differingHeaders(live.headers, copy.headers)) kinds.push(`header ${name}`);
    }
    // The same bytes are the same document, whatever paths are ignored.
    if (settings.body && (live.bodyHash !== copy.bodyHash || live.truncated !== copy.truncated)) {
      const liveDocument = live.json();
      const copyDocument = copy.json();
      if (liveDocument !== NOT_JSON && copyDocument !== NOT_JSON) {
        const at = firstDifference(liveDocument, copyDocument);
        if (at !== null) kinds.push(`body ${at.replace(/\[\d+\]/g, '[*]')}`);
      } else {
        kinds.push(live.truncated || copy.truncated ? `body (first ${settings.maxBodyBytes} bytes)` : 'body');
      }
    }
    return kinds;
  }
}

function differingHeaders(live: readonly string[], copy: readonly string[]): string[] {
  const group = (list: readonly string[]) => {
    const byName = new Map<string, string[]>();
    for (const line of list) {
      const name = line.slice(0, line.indexOf(':'));
      byName.set(name, [...(byName.get(name) ?? []), line]);
    }
    return byName;
  };
  const a = group(live);
  const b = group(copy);
  const names = [...new Set([...a.keys(), ...b.keys()])].sort();
  return names.filter((name) => (a.get(name) ?? []).join('\n') !== (b.get(name) ?? []).join('\n'));
}
