import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { buildDashboardPage } from '../../../src/control/dashboard/dashboard-page.js';
import { readChartLibrary } from '../../../src/core/chart-library.js';
import { PAGE_SCRIPT } from '../../../src/control/dashboard/page-script.js';

describe('the dashboard page', () => {
  it('has browser code that compiles', () => {
    expect(() => new Script(PAGE_SCRIPT, { filename: 'dashboard.js' })).not.toThrow();
  });

  it('inlines uPlot from the installed package', () => {
    const chart = readChartLibrary();
    expect(chart.script).toContain('uPlot');
    expect(chart.style).toContain('.uplot');
    const page = buildDashboardPage(chart);
    expect(page.html).toContain(chart.script);
    expect(page.html).toContain(chart.style);
    expect(page.html).not.toMatch(/\{\{[A-Z_]+\}\}/);
  });

  it('refuses an asset that would end its own element early', () => {
    expect(() => buildDashboardPage({ script: 'a("</script>")', style: '' })).toThrow('"</script"');
    expect(() => buildDashboardPage({ script: '', style: 'a{content:"</style>"}' })).toThrow('"</style"');
  });

  it("keeps `$` patterns in an asset as they are (String.replace would expand them)", () => {
    const page = buildDashboardPage({ script: "var s = '$&$1$$';", style: '' });
    expect(page.html).toContain("var s = '$&$1$$';");
  });
});
