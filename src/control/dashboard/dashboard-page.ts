import { createHash } from 'node:crypto';
import { readChartLibrary } from '../../core/chart-library.js';
import { PAGE_MARKUP } from './page-markup.js';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';

export interface DashboardPage {
  html: string;
  headers: Record<string, string>;
}

/**
 * One self-contained HTML document. Every inline script and style is allowed by its hash, and
 * nothing else is: no other origin, no eval, no inline handlers, no framing, and the only
 * connection the page may open is back to this admin server.
 */
export function buildDashboardPage(chart: { script: string; style: string } = readChartLibrary()): DashboardPage {
  const style = `${chart.style}\n${PAGE_STYLE}`;
  const scripts = [chart.script, PAGE_SCRIPT];
  for (const script of scripts) if (/<\/script/i.test(script)) throw new Error('an inline script contains "</script"');
  if (/<\/style/i.test(style)) throw new Error('the inline style contains "</style"');
  const html = PAGE_MARKUP.replace('{{STYLE}}', () => style)
    .replace('{{CHART_LIB}}', () => chart.script)
    .replace('{{SCRIPT}}', () => PAGE_SCRIPT);
  const csp = [
    "default-src 'none'",
    `script-src ${scripts.map(hashSource).join(' ')}`,
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

function hashSource(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}
