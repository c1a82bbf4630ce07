import { readChartLibrary } from '../core/chart-library.js';
import { formatDuration } from '../core/duration.js';
import type { HistoryEntry } from '../rollout/rollout-record.js';
import type { PlanStep } from '../strategies/step-plan.js';
import { describeLoad } from './production-rate.js';
import { formatStepTimes } from './step-times.js';
import { describeMirror, type SimulationResult } from './simulation.js';
import { describeFault } from './fault-spec.js';

/**
 * One self-contained HTML file: the outcome, a timeline chart per quantity (canary weight,
 * per-slot request rate, error rate and p99, each alarm's value against its threshold) with the
 * first fault and the decision marked, and the decision trail as a table.
 */
export function renderReport(result: SimulationResult): string {
  const { script, style: css } = readChartLibrary();
  const d = result.details;
  const data = {
    // JSON has no Infinity: an infinite ratio (canary failed, stable did not) travels as the string "Infinity".
    timeline: d.timeline.map((p) => ({ ...p, alarms: Object.fromEntries(Object.entries(p.alarms).map(([k, v]) => [k, v === Infinity ? 'Infinity' : v])) })),
    decidedAtMs: result.decidedAtMs,
    faultAtMs: d.faults.canary ? d.faults.canary.afterMs : null,
    from: d.from,
    to: d.to,
    alarms: d.alarms.map((a) => ({ name: a.name, max: a.max ?? null, min: a.min ?? null, maxRatio: a.maxRatio ?? null, metric: a.metric ?? 'promql' })),
  };
  const atRate = result.load.productionRps === null ? '' : ` at ${result.load.productionRps} production requests/s`;
  const facts: [string, string][] = [
    ['outcome', result.outcome],
    ['reason', result.reason ?? '-'],
    ['decided at', `${formatDuration(result.decidedAtMs)} of schedule time`],
    ['time to rollback', result.timeToRollbackMs === null ? '-' : `${formatDuration(result.timeToRollbackMs)} after the canary's first fault`],
    ['canary exposure', `${result.exposure.canaryRequests} requests, ${result.exposure.canaryErrors} errors${atRate}`],
    ['requests', `blue ${result.requests.blue}, green ${result.requests.green}${atRate}`],
    ...(result.mirror ? [['mirrored', describeMirror(result.mirror)] as [string, string]] : []),
    ['load', describeLoad(result.load)],
    ['schedule', `${d.plan.strategy}${d.plan.preset ? ` (${d.plan.preset})` : ''}: ${d.plan.steps.map(describeStep).join(', ')}${d.plan.bakeTimeMs ? `, bake ${formatDuration(d.plan.bakeTimeMs)}` : ''}`],
    ['steps', formatStepTimes(result.steps)],
    ['run', `${d.speed}x speed, ${d.rps} requests/s, seed ${d.seed}`],
    ['faults', [d.faults.canary ? `canary ${describeFault(d.faults.canary)}` : '', d.faults.stable ? `stable ${describeFault(d.faults.stable)}` : ''].filter(Boolean).join('; ') || 'none'],
    ...d.notes.map((n): [string, string] => ['note', n]),
  ];
  const title = `${d.service}: ${result.outcome === 'promoted' ? 'promoted' : 'rolled back'}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shiftproxy simulation: ${escapeHtml(title)}</title>
<style>${css}
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d232a; max-width: 1100px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.outcome-promoted { color: #1a7f37; } .outcome-rolled_back { color: #cf222e; }
table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
table.facts td:first-child { width: 150px; color: #57606a; }
table.trail td:nth-child(1), table.trail td:nth-child(3) { white-space: nowrap; font-variant-numeric: tabular-nums; }
table.trail td:nth-child(4) { font-size: 12px; word-break: break-word; }
table.checks, table.kv { border-collapse: collapse; margin: 0; }
table.checks th, table.checks td, table.kv td { border: 0; border-bottom: 1px solid #eaeef2; padding: 2px 8px 2px 0; font-size: 12px; text-align: left; }
table.checks .v-breach { color: #cf222e; font-weight: 600; } table.checks .v-pass { color: #1a7f37; } table.checks .v-inconclusive { color: #9a6700; }
.chart { margin: 8px 0 20px; } .note { color: #57606a; font-size: 12px; }
</style>
</head>
<body>
<h1>shiftproxy simulation: <span class="outcome-${result.outcome}">${escapeHtml(title)}</span></h1>
<p class="note">Times are schedule time (the rollout ran ${d.speed}x faster than real time). The dashed red line is the decision${d.faults.canary ? ', the dashed orange line the canary\u2019s first fault' : ''}.</p>
<table class="facts">${facts.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
<h2>Timeline</h2>
<div id="charts"></div>
<h2>Decision trail</h2>
<table class="trail"><thead><tr><th>at</th><th>event</th><th>weight</th><th>detail</th></tr></thead><tbody>
${trailRows(result.history)}
</tbody></table>
<script id="data" type="application/json">${safeJson(data)}</script>
<script>${script}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}

function trailRows(history: HistoryEntry[]): string {
  const start = Date.parse(history[0]?.at ?? '') || 0;
  return history
    .map((entry) => {
      const at = formatDuration(Math.max(0, Date.parse(entry.at) - start));
      return `<tr><td>+${escapeHtml(at)}</td><td>${escapeHtml(entry.event)}</td><td>${entry.canaryWeight}%</td><td>${detailHtml(entry)}</td></tr>`;
    })
    .join('\n');
}

interface TrailCheck {
  alarm: string;
  verdict: string;
  value: number | null;
  threshold?: Record<string, number>;
  reason?: string;
}

/** A trail entry's detail as people read it: sentences for the known shapes, a check table for analysis, key/value rows otherwise; never raw JSON. */
function detailHtml(entry: HistoryEntry): string {
  const detail = entry.detail;
  if (detail === undefined || detail === null) return '';
  if (typeof detail !== 'object') return escapeHtml(String(detail));
  const d = detail as Record<string, unknown>;
  if (Array.isArray(d.alarms)) {
    const rows = (d.alarms as TrailCheck[]).map((a) => {
      const bound = a.threshold ? Object.entries(a.threshold).map(([k, v]) => `${k} ${v}`).join(', ') : '';
      return `<tr><td>${escapeHtml(a.alarm)}</td><td class="v-${escapeHtml(a.verdict)}">${escapeHtml(a.verdict)}</td><td>${escapeHtml(valueText(a.value))}</td><td>${escapeHtml(bound)}</td><td>${escapeHtml(a.reason ?? '')}</td></tr>`;
    });
    return `<table class="checks"><thead><tr><th>alarm</th><th>verdict</th><th>value</th><th>bound</th><th>why</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  }
  if (entry.event === 'step' && typeof d.step === 'number') {
    const hold = d.hold === 'manual' ? 'until released' : typeof d.hold === 'number' ? `holds ${formatDuration(d.hold)}` : '';
    return escapeHtml(`step ${d.step} of ${String(d.of)}: ${String(d.weight)}%${hold ? `, ${hold}` : ''}`);
  }
  if (entry.event === 'started' && typeof d.from === 'string') {
    const steps = Array.isArray(d.steps) ? `, ${d.steps.length} steps` : '';
    return escapeHtml(`${d.from} -> ${String(d.to)}, ${String(d.strategy)}${d.preset ? ` (${String(d.preset)})` : ''}${steps}`);
  }
  if (typeof d.cause === 'string' && typeof d.reason === 'string') return escapeHtml(`${d.cause}: ${d.reason}`);
  const rows = Object.entries(d).map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))}</td></tr>`);
  return `<table class="kv">${rows.join('')}</table>`;
}

function valueText(value: number | null): string {
  if (value === null) return '-';
  if (!Number.isFinite(value)) return value > 0 ? 'infinite' : String(value);
  return String(Math.round(value * 10_000) / 10_000);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** JSON inside a script element: `<` escaped so no value can close the element. */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** Runs in the report: builds the uPlot charts from the embedded data. */
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('data').textContent);
  var t = data.timeline.map(function (p) { return p.t / 1000; });
  var colors = { blue: '#0969da', green: '#1a7f37', canary: '#8250df', limit: '#cf222e' };
  var width = Math.min(1100, document.body.clientWidth);
  function markers(u) {
    var ctx = u.ctx;
    [[data.faultAtMs, '#bc4c00'], [data.decidedAtMs, '#cf222e']].forEach(function (m) {
      if (m[0] === null || m[0] === undefined) return;
      var x = u.valToPos(m[0] / 1000, 'x', true);
      ctx.save(); ctx.strokeStyle = m[1]; ctx.setLineDash([6, 4]); ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke(); ctx.restore();
    });
  }
  function chart(title, unit, series) {
    var el = document.createElement('div'); el.className = 'chart'; document.getElementById('charts').appendChild(el);
    new uPlot({
      title: title, width: width, height: 220,
      // A static file: the legend names the series, nothing follows a pointer.
      legend: { live: false },
      cursor: { show: false },
      scales: { x: { time: false } },
      axes: [{ label: 'schedule time (s)' }, { label: unit }],
      series: [{ label: 't (s)' }].concat(series.map(function (s) {
        var spec = { label: s.label, stroke: s.color, width: 2, dash: s.dash, paths: s.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined, spanGaps: false };
        if (s.marks) { spec.width = 0; spec.paths = function () { return null; }; spec.points = { show: true, size: 9, stroke: s.color, fill: s.color }; }
        return spec;
      })),
      hooks: { draw: [markers] }
    }, [t].concat(series.map(function (s) { return s.values; })), el);
  }
  function slot(key, scale) {
    return ['blue', 'green'].map(function (s) {
      return { label: s + (s === data.to ? ' (canary)' : ' (stable)'), color: colors[s], values: data.timeline.map(function (p) { var v = p[key][s]; return v === null ? null : v * scale; }) };
    });
  }
  chart('Canary weight', '% to ' + data.to, [{ label: 'canary weight', color: colors.canary, stepped: true, values: data.timeline.map(function (p) { return p.weight; }) }]);
  chart('Requests per second', 'req/s', slot('rps', 1));
  chart('Error rate', '%', slot('errorRate', 100));
  chart('p99 latency', 'seconds', slot('p99', 1));
  data.alarms.forEach(function (a) {
    var raw = data.timeline.map(function (p) { var v = p.alarms[a.name]; return v === undefined ? null : v; });
    var finite = raw.filter(function (v) { return typeof v === 'number'; });
    // An infinite ratio (the canary failed, stable did not) is the strongest breach there is: it is
    // drawn above both the threshold and every finite value, as its own marked series, never as the last finite ratio.
    var top = Math.max.apply(null, finite.concat([a.max || 0, a.maxRatio || 0, 1])) * 1.5;
    var series = [{ label: a.name, color: colors.canary, values: raw.map(function (v) { return v === 'Infinity' ? top : v; }) }];
    if (raw.some(function (v) { return v === 'Infinity'; })) {
      series.push({ label: 'breach: ratio infinite (stable had no failures)', color: colors.limit, marks: true, values: raw.map(function (v) { return v === 'Infinity' ? top : null; }) });
    }
    [['max', a.max], ['min', a.min], ['maxRatio', a.maxRatio]].forEach(function (th) {
      if (th[1] === null) return;
      series.push({ label: th[0] + ' ' + th[1], color: colors.limit, dash: [4, 4], values: data.timeline.map(function () { return th[1]; }) });
    });
    chart('Alarm ' + a.name + ' (' + a.metric + (a.maxRatio !== null ? ', canary/stable ratio' : '') + ')', 'value', series);
  });
})();
`;

function describeStep(s: PlanStep): string {
  const weight = `${s.weight}%${s.mirror ? ` (${s.mirror}% mirrored)` : ''}`;
  if (s.hold === 'manual') return `${weight} until released`;
  if (s.minHold !== undefined) return `${weight} for ${formatDuration(s.minHold)} to ${formatDuration(s.hold)}`;
  return `${weight}${s.hold > 0 ? ` for ${formatDuration(s.hold)}` : ''}`;
}
