import { createHash } from 'node:crypto';
import { readChartLibrary } from '../../core/chart-library.js';
import type { DashboardAsset } from './dashboard-asset.js';
import { PAGE_MARKUP } from './page-markup.js';
import { PAGE_STYLE } from './page-style.js';

export interface DashboardPage {
  html: string;
  headers: Record<string, string>;
}

/**
 * The page: markup, its style inline (allowed by its hash) and one script from this admin
 * server (the bundle, under its content hash, with Subresource Integrity). Nothing else runs:
 * no other origin, no inline script, no eval, no framing, and the only connection the page may
 * open is back to this admin server.
 */
export function buildDashboardPage(script: Pick<DashboardAsset, 'path' | 'integrity'>, chartStyle: string = readChartLibrary().style): DashboardPage {
  const style = `${chartStyle}\n${PAGE_STYLE}`;
  if (/<\/style/i.test(style)) throw new Error('the inline style contains "</style"');
  const html = PAGE_MARKUP.replace('{{STYLE}}', () => style)
    .replace('{{SCRIPT_SRC}}', () => escapeAttribute(script.path))
    .replace('{{SCRIPT_INTEGRITY}}', () => escapeAttribute(script.integrity));
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    `style-src ${hashSource(style)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    html,
    headers: {
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    },
  };
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c] as string);
}

function hashSource(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}
