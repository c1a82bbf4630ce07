import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { readDashboardAsset } from '../../../src/control/dashboard/dashboard-asset.js';
import { buildDashboardPage } from '../../../src/control/dashboard/dashboard-page.js';
import { readChartLibrary } from '../../../src/core/chart-library.js';

describe('the dashboard page', () => {
  it('loads one bundled script (the TypeScript client with uPlot) that parses, under a path made of its hash', () => {
    const asset = readDashboardAsset();
    expect(() => new Script(asset.body, { filename: 'dashboard.js' })).not.toThrow();
    expect(asset.body).toContain('"uplot"');
    expect(asset.path).toMatch(/^\/assets\/dashboard-[0-9a-f]{16}\.js$/);
    expect(asset.integrity).toMatch(/^sha384-[A-Za-z0-9+/]+=*$/);
  });

  it('references it with its integrity, allows only scripts from the admin server, and inlines only the style', () => {
    const chart = readChartLibrary();
    const page = buildDashboardPage({ path: '/assets/dashboard-0123456789abcdef.js', integrity: 'sha384-abc' }, chart.style);
    expect(page.html).toContain('<script src="/assets/dashboard-0123456789abcdef.js" integrity="sha384-abc" crossorigin="anonymous"></script>');
    expect(page.html).toContain(chart.style);
    expect(page.html).not.toMatch(/<script>/);
    expect(page.html).not.toMatch(/\{\{[A-Z_]+\}\}/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self';/);
  });

  it('refuses a style that would end its own element early', () => {
    expect(() => buildDashboardPage({ path: '/a.js', integrity: 'x' }, 'a{content:"</style>"}')).toThrow('"</style"');
  });

  it("keeps `$` patterns in the style as they are (String.replace would expand them)", () => {
    const page = buildDashboardPage({ path: '/a.js', integrity: 'x' }, "a{content:'$&$1$$'}");
    expect(page.html).toContain("a{content:'$&$1$$'}");
  });
});
