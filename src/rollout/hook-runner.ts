import { request } from 'undici';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export type HookOutcome = { ok: true } | { ok: false; detail: string };

/**
 * Calls rollout webhooks. Gate hooks (beforeAllowTraffic, afterAllowTraffic) must answer 2xx
 * within their timeout or the rollout fails; event notifications are best effort and never
 * block or fail a rollout. Redirects are not followed.
 */
export class HookRunner {
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  async gate(url: string, payload: unknown, timeoutMs: number): Promise<HookOutcome> {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'shiftproxy' },
        body: JSON.stringify(payload),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text().catch(() => '');
      if (response.statusCode >= 200 && response.statusCode < 300) return { ok: true };
      const excerpt = text.trim().slice(0, 200);
      return { ok: false, detail: `HTTP ${response.statusCode}${excerpt ? `: ${excerpt}` : ''}` };
    } catch (err) {
      // AbortSignal.timeout rejects with a DOMException named TimeoutError (its numeric `code` is not a string code).
      const { code, name } = err as { code?: unknown; name?: string };
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || name === 'TimeoutError' || name === 'AbortError') {
        return { ok: false, detail: `timed out after ${timeoutMs} ms` };
      }
      return { ok: false, detail: errorMessage(err) };
    }
  }

  notify(url: string, payload: unknown, timeoutMs: number): void {
    void this.gate(url, payload, timeoutMs).then((outcome) => {
      if (!outcome.ok) this.logger.warn({ url, detail: outcome.detail }, 'onEvent hook delivery failed');
    });
  }
}
