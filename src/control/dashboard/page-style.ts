/** The dashboard's stylesheet, inlined into the page (a `style-src` hash covers it). */
export const PAGE_STYLE = String.raw`
:root {
  --blue: #2563eb; --green: #16a34a; --ink: #111827; --muted: #6b7280; --line: #e5e7eb;
  --bg: #f3f4f6; --card: #ffffff; --ok: #15803d; --bad: #b91c1c; --warn: #b45309;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
[hidden] { display: none !important; }
.muted { color: var(--muted); }
.num { font-variant-numeric: tabular-nums; }

.top { position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px; flex-wrap: wrap;
  padding: 10px 24px; background: #111827; color: #f9fafb; }
.top h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .01em; }
.top .muted { color: #9ca3af; }
.conn { padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; max-width: 560px;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.conn-connecting { background: #374151; color: #e5e7eb; }
.conn-live { background: #14532d; color: #bbf7d0; }
.conn-retry { background: #78350f; color: #fde68a; }
.conn-error { background: #7f1d1d; color: #fecaca; }
.token { margin-left: auto; display: flex; align-items: center; gap: 6px; }
.token label { font-size: 12px; color: #d1d5db; }
.token input { width: 200px; padding: 4px 8px; border-radius: 6px; border: 1px solid #4b5563; background: #1f2937; color: #f9fafb; }
.token button { padding: 4px 10px; border-radius: 6px; border: 1px solid #4b5563; background: #374151; color: #f9fafb; cursor: pointer; }
.token button:hover { background: #4b5563; }

.banner { margin: 12px 24px 0; padding: 10px 14px; border-radius: 8px; background: #fee2e2; color: #7f1d1d; border: 1px solid #fecaca; font-weight: 500; }
.fleet { margin: 12px 24px 0; padding: 10px 18px 12px; background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
.fleet h2 { margin: 0 0 6px; font-size: 15px; }
.fleet table { border-collapse: collapse; width: 100%; font-size: 13px; }
.fleet th, .fleet td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid var(--line); }
.fleet th { color: var(--muted); font-weight: 500; }
.fleet .is-leader { font-weight: 650; color: var(--ok); }
.fleet .is-degraded { color: var(--bad); font-weight: 600; }
.fleet .is-mismatch { color: var(--warn); font-weight: 600; }
main { padding: 4px 24px 32px; }
.empty { color: var(--muted); padding: 24px 0; }

.card { background: var(--card); border: 1px solid var(--line); border-left: 6px solid #9ca3af; border-radius: 10px;
  padding: 14px 18px 16px; margin-top: 16px; }
.card.is-pending { border-left-color: #64748b; }
.card.is-progressing { border-left-color: #2563eb; }
.card.is-paused { border-left-color: #d97706; }
.card.is-baking { border-left-color: #7c3aed; }
.card.is-promoted { border-left-color: #16a34a; }
.card.is-rolled_back { border-left-color: #dc2626; }
.card-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.card-head h2 { margin: 0 6px 0 0; font-size: 20px; }

.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px; font-weight: 650; white-space: nowrap; }
.slot-blue { background: #dbeafe; color: #1e40af; }
.slot-green { background: #dcfce7; color: #166534; }
.state { text-transform: uppercase; letter-spacing: .04em; }
.st-idle { background: #f3f4f6; color: #374151; }
.st-pending { background: #e2e8f0; color: #334155; }
.st-progressing { background: #dbeafe; color: #1d4ed8; }
.st-paused { background: #fef3c7; color: #92400e; }
.st-baking { background: #ede9fe; color: #5b21b6; }
.st-promoted { background: #dcfce7; color: #166534; }
.st-rolled_back { background: #fee2e2; color: #991b1b; }

.split { margin: 12px 0 4px; }
.bar { display: flex; height: 14px; border-radius: 7px; overflow: hidden; background: var(--line); }
.bar .seg { height: 100%; transition: width .4s ease; min-width: 0; }
.bar .seg-blue { background: var(--blue); }
.bar .seg-green { background: var(--green); }
.bar-labels { display: flex; justify-content: space-between; font-size: 13px; margin-top: 3px; font-weight: 600; }
.bar-labels .l-blue { color: #1e40af; }
.bar-labels .l-green { color: #166534; }

.summary { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 12px 24px; align-items: end; }
.facts { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 8px 16px; margin: 8px 0 0; }
.facts div { min-width: 0; }
.facts dt { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.facts dd { margin: 2px 0 0; font-size: 17px; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.facts dd.small { font-size: 13px; font-weight: 500; }
.reason { margin: 10px 0 0; padding: 8px 12px; border-radius: 8px; background: #f9fafb; border: 1px solid var(--line); }
.reason.bad { background: #fef2f2; border-color: #fecaca; color: #7f1d1d; }
.reason.warn { background: #fffbeb; border-color: #fde68a; color: #78350f; }

.actions { display: flex; gap: 6px; flex-wrap: wrap; justify-content: flex-end; }
.actions button { padding: 6px 14px; border-radius: 7px; border: 1px solid #d1d5db; background: #fff; font-weight: 600; cursor: pointer; color: var(--ink); }
.actions button:hover:not(:disabled) { background: #f3f4f6; }
.actions button:disabled { opacity: .4; cursor: not-allowed; }
.actions button.cmd-start { border-color: #93c5fd; color: #1d4ed8; }
.actions button.cmd-promote { border-color: #86efac; color: #166534; }
.actions button.cmd-abort { border-color: #fca5a5; color: #b91c1c; }
/* Armed buttons stay solid under the pointer that just armed them (the hover rule above is more specific than a class alone). */
.actions button.armed, .actions button.armed:hover:not(:disabled) { background: #b91c1c; border-color: #b91c1c; color: #fff; }
.actions button.cmd-promote.armed, .actions button.cmd-promote.armed:hover:not(:disabled) { background: #15803d; border-color: #15803d; }
.actions button.cmd-start.armed, .actions button.cmd-start.armed:hover:not(:disabled) { background: #1d4ed8; border-color: #1d4ed8; }
.who { font-size: 12px; color: #e5e7eb; }
.action-msg { grid-column: 1 / -1; justify-self: end; font-size: 13px; min-height: 18px; }
.action-msg.error { color: var(--bad); font-weight: 600; }
.action-msg.ok { color: var(--ok); }

.charts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 14px; margin-top: 14px; }
.chart { min-width: 0; }
.chart h3 { margin: 0 0 2px; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 600; }
.chart .now { font-size: 12px; margin-bottom: 2px; font-variant-numeric: tabular-nums; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.chart .now .v-blue { color: #1e40af; font-weight: 600; }
.chart .now .v-green { color: #166534; font-weight: 600; }
.plot { width: 100%; min-height: 150px; }

.lower { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 2fr); gap: 20px; margin-top: 14px; }
.lower .past, .lower .checks-pane { grid-column: 1 / -1; }
.lower h3 { margin: 0 0 6px; font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.slot-health { margin-bottom: 10px; }
.slot-health h4 { margin: 0 0 4px; font-size: 13px; display: flex; gap: 8px; align-items: center; }
.targets { list-style: none; margin: 0; padding: 0; }
.targets li { display: grid; grid-template-columns: 12px minmax(0, 1fr) auto auto; gap: 8px; align-items: center; padding: 3px 0; border-bottom: 1px solid #f3f4f6; font-size: 13px; }
.targets .url { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.targets .err { grid-column: 2 / -1; color: var(--bad); font-size: 12px; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: #9ca3af; }
.dot-healthy { background: #16a34a; }
.dot-failing { background: #dc2626; box-shadow: 0 0 0 2px #fecaca; }
.targets .rate { font-size: 12px; color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
.targets .rate.failing { color: #b91c1c; font-weight: 650; }
.chart .limits { font-size: 11px; color: #b91c1c; min-height: 14px; }
.dot-unhealthy, .dot-unavailable { background: #dc2626; }
.dot-ejected { background: #ea580c; }

.history { max-height: 340px; overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
.history table { width: 100%; border-collapse: collapse; font-size: 13px; }
.history th { position: sticky; top: 0; background: #f9fafb; text-align: left; font-weight: 600; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .05em; }
.history th, .history td { padding: 5px 8px; border-bottom: 1px solid #f3f4f6; vertical-align: top; }
.history td.t, .history td.w { white-space: nowrap; font-variant-numeric: tabular-nums; }
.ev { display: inline-block; padding: 0 7px; border-radius: 5px; background: #f3f4f6; font-size: 12px; font-weight: 600; white-space: nowrap; }
.ev-rolled_back, .ev-rollback { background: #fee2e2; color: #991b1b; }
.ev-promoted { background: #dcfce7; color: #166534; }
.ev-paused, .ev-alarm-pause { background: #fef3c7; color: #92400e; }
.ev-analysis { background: #eef2ff; color: #3730a3; }
.checks { list-style: none; margin: 0; padding: 0; }
.checks li { margin: 1px 0; }
.verdict { display: inline-block; min-width: 84px; padding: 0 6px; margin-right: 6px; border-radius: 5px; font-size: 11px; font-weight: 700; text-transform: uppercase; text-align: center; }
.v-pass { background: #dcfce7; color: #166534; }
.v-breach { background: #fee2e2; color: #991b1b; }
.v-inconclusive { background: #fef3c7; color: #92400e; }
.v-not-applicable { background: #e5e7eb; color: #374151; }
.note { font-size: 12px; color: var(--muted); margin: 4px 0 0; }

@media (max-width: 1100px) {
  .charts { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .lower { grid-template-columns: 1fr; }
  .facts { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  .summary { grid-template-columns: 1fr; }
}
`;
