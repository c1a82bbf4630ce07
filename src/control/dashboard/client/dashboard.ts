/**
 * The dashboard's browser code, bundled with uPlot by esbuild at build time and served as
 * /assets/dashboard-HASH.js (the page's Content-Security-Policy allows only scripts from the
 * admin server itself). It is type-checked against the admin API's own types.
 *
 * Data flow: one `fetch()` reads `GET /api/v1/events` as a stream (EventSource cannot send the
 * Authorization header, and tokens never go into URLs): a `history` event first (the recent
 * past, so the charts open drawn), then `snapshot` events redraw every service and `rollout`
 * events update one at once. Every value from the server reaches the DOM through textContent,
 * never as markup.
 */
import uPlot from 'uplot';
import type { SlotName } from '../../../core/types.js';
import type { RolloutSummary } from '../../../rollout/rollout-summary.js';
import type { ChartThreshold, DashboardHistory, DashboardRolloutUpdate, DashboardService, DashboardSnapshot } from '../dashboard-snapshot.js';

type Command = DashboardRolloutUpdate['commands'][number] | 'start';
type Update = Omit<DashboardRolloutUpdate, 'service'> & { service?: string };
type ChartKey = 'weight' | 'rps' | 'errorRate' | 'p99Ms';
type Series = Record<SlotName, (number | null)[]>;
type SeriesData = { t: number[] } & Record<ChartKey, Series>;
type HistoryEntry = NonNullable<Update['rollout']>['history'][number];

interface ChartSpec {
  key: ChartKey;
  title: string;
  format: (value: number | null | undefined) => string;
  range?: [number, number];
  floor?: number;
}

interface Chart {
  spec: ChartSpec;
  host: HTMLElement;
  now: HTMLElement;
  limits: HTMLElement;
  plot: uPlot | null;
  thresholds: ChartThreshold[];
  thresholdKey: string;
}

interface Fact {
  wrap: HTMLElement;
  value: HTMLElement;
}

interface Card {
  name: string;
  root: HTMLElement;
  live: HTMLElement;
  state: HTMLElement;
  strategy: HTMLElement;
  seg: Record<SlotName, HTMLElement>;
  lab: Record<SlotName, HTMLElement>;
  facts: Record<'canary' | 'step' | 'next' | 'started' | 'checks', Fact>;
  buttons: Record<Command, HTMLButtonElement>;
  actions: HTMLElement;
  message: HTMLElement;
  reason: HTMLElement;
  charts: Chart[];
  healthBody: HTMLElement;
  tbody: HTMLElement;
  checksBody: HTMLElement;
  historyNote: HTMLElement;
  pastBody: HTMLElement;
  pastKey: string;
  update: Update | null;
  receivedAt: number;
  historyKey: string;
  healthKey: string;
  data: SeriesData;
  messageTimer: number;
}

interface HealthTarget {
  url: string;
  state?: string;
  available?: boolean;
  warmingUntil?: string;
  weight?: number;
  effectiveWeight?: number;
  lastError?: string;
}

type ServiceHealth = Partial<Record<SlotName, { available: number; total: number; targets?: HealthTarget[] }>>;
type TargetRates = NonNullable<DashboardService['traffic']['targets']>;
type RecentServiceHistory = DashboardHistory['services'][number];

const TOKEN_KEY = 'shiftproxy.adminToken';
const POINTS = 300; // chart span kept in the page: five minutes at one snapshot a second
const STALL_MS = 30000; // no byte for this long: the stream is dead even if the socket is not
const CONFIRM_MS = 4000; // how long an armed Start/Promote/Abort waits for its confirming click
const SLOTS: readonly SlotName[] = ['blue', 'green'];
const SLOT_COLOR: Record<SlotName, string> = { blue: '#2563eb', green: '#16a34a' };
const THRESHOLD_COLOR = '#dc2626';
const COMMANDS: readonly Command[] = ['start', 'pause', 'resume', 'promote', 'abort'];
const COMMAND_LABEL: Record<Command, string> = { start: 'Start rollout', pause: 'Pause', resume: 'Resume', promote: 'Promote', abort: 'Abort' };
const NEEDS_CONFIRM: Partial<Record<Command, true>> = { start: true, promote: true, abort: true };
// What Promote does depends on where the rollout is (the API's promote, without --full).
const PROMOTE_HINT = {
  steps: 'Skip the remaining steps: 100% now, then the bake with the alarms still watched',
  bake: 'End the bake: the new slot becomes live now',
};
const CHARTS: readonly ChartSpec[] = [
  { key: 'weight', title: 'Traffic share', format: fmtPercentValue, range: [0, 100] },
  { key: 'rps', title: 'Request rate', format: fmtRate, floor: 1 },
  { key: 'errorRate', title: 'Error rate', format: fmtPercentValue, floor: 1 },
  { key: 'p99Ms', title: 'p99 latency', format: fmtMs, floor: 10 },
];

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let me: { name: string; role: string } | null = null; // the token in use, from GET /api/v1/whoami
const cards = new Map<string, Card>();
const pastTraffic = new Map<string, RecentServiceHistory>(); // recent rates sent on connecting, until the card exists
const stream: { ctrl: AbortController | null; retryMs: number; retryTimer: number; lastByteAt: number; reading: boolean } = {
  ctrl: null,
  retryMs: 1000,
  retryTimer: 0,
  lastByteAt: 0,
  reading: false,
};

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node as T;
}

const main = byId('services');
const empty = byId('empty');
const conn = byId('conn');
const updated = byId('updated');
const banner = byId('banner');
const tokenForm = byId<HTMLFormElement>('token-form');
const tokenInput = byId<HTMLInputElement>('token');
const who = byId('who');

// ---- small helpers -------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string | number | null): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function append<T extends HTMLElement>(parent: T, ...children: (Node | null | undefined)[]): T {
  for (const child of children) if (child) parent.appendChild(child);
  return parent;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function fmtWeight(w: number | null | undefined): string {
  return w === null || w === undefined ? '–' : `${round(w, 2)} %`;
}
function fmtPercentValue(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${v < 10 ? round(v, 2) : round(v, 1)} %`;
}
function fmtShare(s: number | null | undefined): string {
  return s === null || s === undefined ? '–' : fmtPercentValue(s * 100);
}
function fmtRate(r: number | null | undefined): string {
  return r === null || r === undefined ? '–' : `${r < 10 ? round(r, 1) : Math.round(r)} req/s`;
}
function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 10) return `${round(ms, 2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${round(ms / 1000, 2)} s`;
}
function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad2(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${pad2(m % 60)} min`;
}
function fmtClock(time: string | number): string {
  const d = new Date(time);
  return Number.isNaN(d.getTime()) ? String(time) : `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}
function fmtNumber(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  return Math.abs(v) >= 100 ? String(round(v, 1)) : String(Number(v.toPrecision(4)));
}
function stateLabel(state: string): string {
  return String(state).replace(/_/g, ' ');
}

function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  if (token) extra.authorization = `Bearer ${token}`;
  return extra;
}

// The API answers errors as JSON { error }; anything else (a proxy's HTML page) is shown by status.
function errorText(res: Response): Promise<string> {
  return res.text().then(
    (text) => {
      try {
        const body = JSON.parse(text) as { error?: unknown };
        if (body && typeof body.error === 'string') return body.error;
      } catch {
        // not JSON
      }
      return res.statusText || 'request failed';
    },
    () => res.statusText || 'request failed',
  );
}

function setConn(kind: string, text: string): void {
  conn.className = `conn conn-${kind}`;
  conn.textContent = text;
  conn.title = text;
}

function showBanner(text: string): void {
  banner.textContent = text;
  banner.hidden = !text;
}

// ---- the event stream ----------------------------------------------------------------

function connect(): void {
  clearTimeout(stream.retryTimer);
  stream.ctrl?.abort();
  const ctrl = new AbortController();
  stream.ctrl = ctrl;
  stream.reading = false;
  setConn('connecting', 'connecting…');
  fetch('/api/v1/events', { headers: authHeaders({ accept: 'text/event-stream' }), cache: 'no-store', signal: ctrl.signal })
    .then((res) => {
      if (stream.ctrl !== ctrl) return undefined;
      if (!res.ok || !res.body) {
        return errorText(res).then((text) => {
          if (stream.ctrl === ctrl) refused(res.status, text);
        });
      }
      stream.retryMs = 1000;
      stream.lastByteAt = Date.now();
      stream.reading = true;
      showBanner('');
      whoami();
      setConn('live', 'live');
      return readEvents(res.body, ctrl).then(() => {
        if (stream.ctrl === ctrl) retryLater('the server ended the stream');
      });
    })
    .catch((err: unknown) => {
      if (stream.ctrl === ctrl) retryLater(err instanceof Error ? err.message : String(err));
    });
}

// Who the token names and what its role allows: a viewer's page offers no buttons it would be refused.
function whoami(): void {
  fetch('/api/v1/whoami', { headers: authHeaders(), cache: 'no-store' })
    .then((res) => (res.ok ? (res.json() as Promise<{ name?: unknown; role?: unknown }>) : null))
    .then(
      (next) => {
        me = next && typeof next.name === 'string' && typeof next.role === 'string' ? { name: next.name, role: next.role } : null;
        who.textContent = me ? `signed in as ${me.name} (${me.role})` : '';
        who.hidden = !me;
        cards.forEach((card) => {
          if (card.update) applyUpdate(card, card.update);
        });
      },
      () => undefined, // the stream's own errors say what is wrong
    );
}

function mayAct(): boolean {
  return !me || me.role === 'operator';
}

function refused(status: number, text: string): void {
  stream.ctrl = null;
  stream.reading = false;
  // Retrying with the same token would only spend the server's failed-attempt budget: wait for a new one.
  if (status === 401 || status === 403) {
    setConn('error', `${status} ${text}`);
    showBanner(`${status}: ${text}${status === 401 ? ' — enter the admin token above.' : ''}`);
    return;
  }
  retryLater(`${status} ${text}`, status === 429 ? 30000 : 0);
}

function retryLater(why: string, atLeastMs = 0): void {
  stream.ctrl?.abort();
  stream.ctrl = null;
  stream.reading = false;
  const delay = Math.max(stream.retryMs, atLeastMs);
  stream.retryMs = Math.min(stream.retryMs * 2, 15000);
  setConn('retry', `disconnected (${why}); retrying in ${Math.round(delay / 1000)} s`);
  clearTimeout(stream.retryTimer);
  stream.retryTimer = window.setTimeout(connect, delay);
}

// text/event-stream, as the server writes it: blocks separated by a blank line, "field: value"
// lines, comments starting with ":". The server frames with "\n" only.
function readEvents(body: ReadableStream<Uint8Array>, ctrl: AbortController): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = (): Promise<void> =>
    reader.read().then((chunk) => {
      if (chunk.done || stream.ctrl !== ctrl) return undefined;
      stream.lastByteAt = Date.now();
      buffer += decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block);
      }
      return pump();
    });
  return pump();
}

function dispatch(block: string): void {
  let name = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  let payload: unknown;
  try {
    payload = JSON.parse(data.join('\n'));
  } catch {
    return;
  }
  if (name === 'snapshot') onSnapshot(payload as DashboardSnapshot);
  else if (name === 'rollout') onRollout(payload as DashboardRolloutUpdate);
  else if (name === 'history') onHistory(payload as DashboardHistory);
}

function onSnapshot(snapshot: DashboardSnapshot): void {
  const t = Date.parse(snapshot.at) / 1000;
  const seen = new Set<string>();
  for (const service of snapshot.services) {
    seen.add(service.name);
    let card = cards.get(service.name);
    if (!card) {
      card = createCard(service.name);
      cards.set(service.name, card);
      main.appendChild(card.root);
    }
    applyUpdate(card, service);
    const past = pastTraffic.get(service.name);
    if (past) {
      pastTraffic.delete(service.name);
      if (card.data.t.length === 0) seed(card, past);
    }
    renderHealth(card, service.health as ServiceHealth, service.live, service.traffic.targets);
    addPoint(card, t, service);
  }
  cards.forEach((card, name) => {
    if (seen.has(name)) return;
    for (const c of card.charts) c.plot?.destroy();
    card.root.remove();
    cards.delete(name);
  });
  renderFleet(snapshot.fleet);
  empty.hidden = snapshot.services.length > 0;
  if (snapshot.services.length === 0) empty.textContent = 'No services are configured.';
  updated.textContent = `updated ${fmtClock(snapshot.at)}`;
}

/** The instances sharing this rollout (state.store: etcd): who leads, who is degraded, whose config differs. */
function renderFleet(fleet: DashboardSnapshot['fleet']): void {
  const section = byId('fleet');
  if (!fleet) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const status = byId('fleet-status');
  // Cut off from etcd, this instance only knows who led when it last heard.
  const leaderWord = fleet.degraded ? 'last known leader: ' : 'leader: ';
  status.textContent =
    (fleet.leader ? leaderWord + fleet.leader : 'no leader elected') +
    (fleet.degraded ? ' · this instance cannot reach etcd: it routes on the last state it applied and refuses commands' : '');
  status.className = fleet.degraded ? 'is-degraded' : 'muted';
  const agreed = new Set(fleet.instances.map((i) => i.configHash)).size === 1;
  const rows = byId('fleet-rows');
  rows.replaceChildren();
  for (const i of fleet.instances) {
    const role = i.degraded ? 'degraded' : i.leader ? (fleet.degraded ? 'leader (last known)' : 'leader') : 'follower';
    rows.appendChild(
      append(
        el('tr'),
        el('td', undefined, i.name + (i.name === fleet.self ? ' (this one)' : '')),
        el('td', i.degraded ? 'is-degraded' : i.leader ? 'is-leader' : undefined, role),
        el('td', undefined, i.adminUrl),
        el('td', agreed ? 'num' : 'num is-mismatch', i.configHash + (agreed ? '' : ' (differs)')),
        el('td', 'num', i.appliedRevision),
        el('td', 'num', fmtClock(i.lastSeen)),
      ),
    );
  }
}

function onHistory(history: DashboardHistory): void {
  for (const h of history.services ?? []) {
    const card = cards.get(h.name);
    if (card && card.data.t.length === 0) seed(card, h);
    else if (!card) pastTraffic.set(h.name, h);
  }
}

// The canary weight at a moment, from the rollout's own history (the entries carry the weight they set).
function weightsAt(update: Update, tSeconds: number): Record<SlotName, number> {
  const rollout = update.rollout;
  if (!rollout) return update.weights;
  let canary = 0;
  for (const entry of rollout.history) if (Date.parse(entry.at) / 1000 <= tSeconds) canary = entry.canaryWeight;
  const to = rollout.to as SlotName;
  return to === 'green' ? { green: canary, blue: 100 - canary } : { blue: canary, green: 100 - canary };
}

// Charts open with the minutes the server's rings still hold, instead of empty.
function seed(card: Card, h: RecentServiceHistory): void {
  const d = card.data;
  h.at.forEach((atMs, i) => {
    const t = atMs / 1000;
    const weights = card.update ? weightsAt(card.update, t) : null;
    d.t.push(t);
    for (const slot of SLOTS) {
      const s = h.slots[slot];
      const errorRate = s.errorRate[i] ?? null;
      d.weight[slot].push(weights ? weights[slot] : null);
      d.rps[slot].push(s.rps[i] ?? null);
      d.errorRate[slot].push(errorRate === null ? null : errorRate * 100);
      d.p99Ms[slot].push(s.p99Ms[i] ?? null);
    }
  });
  trim(d);
  card.root.setAttribute('data-seeded-points', String(d.t.length));
}

function trim(d: SeriesData): void {
  while (d.t.length > POINTS) {
    d.t.shift();
    for (const spec of CHARTS) for (const slot of SLOTS) d[spec.key][slot].shift();
  }
}

function onRollout(update: DashboardRolloutUpdate): void {
  const card = cards.get(update.service);
  if (card) applyUpdate(card, update);
}

// ---- one card per service ------------------------------------------------------------

function fact(label: string, field: string, small = false): Fact {
  const wrap = el('div');
  const dd = el('dd', small ? 'small' : '', '–');
  dd.setAttribute('data-field', field);
  append(wrap, el('dt', '', label), dd);
  return { wrap, value: dd };
}

function table(className: string, headings: string[], field?: string): { box: HTMLElement; body: HTMLElement } {
  const box = el('div', className);
  const t = el('table');
  const headRow = el('tr');
  for (const h of headings) headRow.appendChild(el('th', '', h));
  const thead = el('thead');
  thead.appendChild(headRow);
  const body = el('tbody');
  if (field) body.setAttribute('data-field', field);
  append(t, thead, body);
  box.appendChild(t);
  return { box, body };
}

function createCard(name: string): Card {
  const root = el('section', 'card');
  root.setAttribute('data-service', name);
  const head = el('div', 'card-head');
  const live = el('span', 'badge');
  live.setAttribute('data-field', 'live');
  const state = el('span', 'badge state st-idle', 'idle');
  state.setAttribute('data-field', 'state');
  const strategy = el('span', 'muted');
  append(head, el('h2', '', name), live, state, strategy);

  const split = el('div', 'split');
  const bar = el('div', 'bar');
  const seg = { blue: el('div', 'seg seg-blue'), green: el('div', 'seg seg-green') };
  append(bar, seg.blue, seg.green);
  const labels = el('div', 'bar-labels');
  const lab = { blue: el('span', 'l-blue'), green: el('span', 'l-green') };
  lab.blue.setAttribute('data-field', 'weight-blue');
  lab.green.setAttribute('data-field', 'weight-green');
  append(labels, lab.blue, lab.green);
  append(split, bar, labels);

  const facts = {
    canary: fact('Canary weight', 'canary-weight'),
    step: fact('Step', 'step'),
    next: fact('Next step', 'next-step'),
    started: fact('Started', 'started', true),
    checks: fact('Checks in a row', 'checks', true),
  };
  const dl = el('dl', 'facts');
  for (const f of Object.values(facts)) dl.appendChild(f.wrap);

  const actions = el('div', 'actions');
  const buttons = {} as Record<Command, HTMLButtonElement>;
  const message = el('div', 'action-msg');
  message.setAttribute('data-field', 'action-message');
  message.setAttribute('role', 'status');

  const summary = el('div', 'summary');
  append(summary, dl, actions, message);

  const reason = el('p', 'reason');
  reason.setAttribute('data-field', 'reason');
  reason.hidden = true;

  const chartRow = el('div', 'charts');
  const charts = CHARTS.map((spec): Chart => {
    const box = el('div', 'chart');
    const now = el('div', 'now');
    const limits = el('div', 'limits');
    limits.setAttribute('data-field', `threshold-${spec.key}`);
    const host = el('div', 'plot');
    append(box, el('h3', '', spec.title), now, limits, host);
    chartRow.appendChild(box);
    return { spec, host, now, limits, plot: null, thresholds: [], thresholdKey: '' };
  });

  const lower = el('div', 'lower');
  const healthBox = el('div');
  const healthBody = el('div');
  append(healthBox, el('h3', '', 'Target health'), healthBody);
  const history = table('history', ['Time', 'Event', 'Weight', 'Detail']);
  const historyBox = el('div');
  const historyNote = el('p', 'note');
  append(historyBox, el('h3', '', 'Decision history'), history.box, historyNote);
  // Analysis checks come every few seconds: in their own pane, they never push the step events out of view.
  const checks = table('history', ['Time', 'Weight', 'Checks'], 'checks-history');
  const checksBox = append(el('div', 'checks-pane'), el('h3', '', 'Analysis checks'), checks.box);
  const past = table('history', ['Started', 'Outcome', 'Took', 'Started by', 'Also acted', 'Reason'], 'past');
  const pastBox = append(el('div', 'past'), el('h3', '', 'Past rollouts'), past.box);
  append(lower, healthBox, historyBox, checksBox, pastBox);

  append(root, head, split, summary, reason, chartRow, lower);

  const card: Card = {
    name, root, live, state, strategy, seg, lab, facts, buttons, actions, message, reason, charts, healthBody,
    tbody: history.body, checksBody: checks.body, historyNote, pastBody: past.body, pastKey: '', update: null,
    receivedAt: 0, historyKey: '', healthKey: '', data: newSeries(), messageTimer: 0,
  };
  for (const command of COMMANDS) {
    const b = el('button', `cmd-${command}`, COMMAND_LABEL[command]);
    b.type = 'button';
    b.disabled = true;
    b.setAttribute('data-command', command);
    b.addEventListener('click', () => runCommand(card, command, b));
    buttons[command] = b;
    actions.appendChild(b);
  }
  return card;
}

function applyUpdate(card: Card, update: Update): void {
  card.update = update;
  card.receivedAt = performance.now();
  const rollout = update.rollout;
  const state = rollout ? rollout.state : 'idle';

  card.root.className = `card is-${state}`;
  card.live.className = `badge slot-${update.live}`;
  card.live.textContent = `live: ${update.live}`;
  card.state.className = `badge state st-${state}`;
  card.state.textContent = stateLabel(state);
  card.strategy.textContent = rollout
    ? `${rollout.from} → ${rollout.to} · ${rollout.strategy}${rollout.preset ? ` (${rollout.preset})` : ''} · ${rollout.id}`
    : 'no rollout yet';

  for (const slot of SLOTS) {
    const w = update.weights[slot];
    card.seg[slot].style.width = `${w}%`;
    card.lab[slot].textContent = `${slot}${slot === update.live ? ' (live) ' : ' '}${fmtWeight(w)}`;
  }

  // The share chart's caption follows the routing at once; its line moves with the next snapshot.
  const share = card.charts[0];
  if (share) showNow(share, update.weights);

  card.facts.canary.value.textContent = rollout ? `${fmtWeight(rollout.canaryWeight)} → ${rollout.to}` : '0 %';
  const current = rollout ? rollout.plan[rollout.step - 1] : undefined;
  const mirrored = current?.mirror && state !== 'baking' ? ` · ${current.mirror}% of stable mirrored` : '';
  card.facts.step.value.textContent = !rollout ? '–' : state === 'baking' ? 'bake' : `${rollout.step} / ${rollout.steps}${mirrored}`;
  card.facts.started.value.textContent = rollout ? `${fmtClock(rollout.startedAt)} (changed ${fmtClock(rollout.updatedAt)})` : '–';
  card.facts.checks.value.textContent = rollout ? `${rollout.consecutiveFailures} failed · ${rollout.consecutiveInconclusive} inconclusive` : '–';
  renderCountdown(card);

  let text = rollout?.reason ?? '';
  if (text && rollout?.alarm && !text.includes(rollout.alarm)) text += ` (alarm: ${rollout.alarm})`;
  if (rollout?.notDurable) text = `state not saved: ${rollout.notDurable}${text ? ` · ${text}` : ''}`;
  card.reason.hidden = !text;
  card.reason.textContent = text;
  card.reason.className = `reason${state === 'rolled_back' || rollout?.notDurable ? ' bad' : state === 'paused' ? ' warn' : ''}`;

  const operator = mayAct();
  card.actions.hidden = !operator;
  for (const command of COMMANDS) {
    const allowed = operator && (update.commands as readonly string[]).includes(command);
    const b = card.buttons[command];
    b.disabled = !allowed;
    if (!allowed) disarm(b, command);
    if (command === 'promote') b.title = rollout && rollout.canaryWeight >= 100 ? PROMOTE_HINT.bake : PROMOTE_HINT.steps;
  }

  renderHistory(card, rollout);
  // The list of past rollouts changes only when one starts or ends: fetch it then, not on every update.
  const pastKey = rollout ? `${rollout.id}:${state === 'promoted' || state === 'rolled_back' ? 'done' : 'running'}` : 'none';
  if (pastKey !== card.pastKey) {
    card.pastKey = pastKey;
    loadPast(card);
  }
}

function loadPast(card: Card): void {
  fetch(`/api/v1/services/${encodeURIComponent(card.name)}/rollouts`, { headers: authHeaders(), cache: 'no-store' })
    .then((res) => (res.ok ? (res.json() as Promise<RolloutSummary[]>) : null))
    .then(
      (list) => {
        if (Array.isArray(list)) renderPast(card, list);
      },
      () => {
        card.pastKey = '';
      },
    );
}

function renderPast(card: Card, list: RolloutSummary[]): void {
  const body = card.pastBody;
  body.textContent = '';
  for (const p of list) {
    const tr = el('tr');
    const outcome = p.outcome ?? p.state;
    const alarm = p.alarm ? ` (${p.alarm.alarm} = ${fmtNumber(p.alarm.value)}${thresholdText(p.alarm.threshold) ? `, ${thresholdText(p.alarm.threshold)}` : ''})` : '';
    const others = p.actors.filter((a) => a !== p.startedBy).join(', ');
    append(
      tr,
      el('td', 't', fmtClock(p.startedAt)),
      append(el('td'), el('span', `ev ev-${outcome}`, stateLabel(outcome))),
      el('td', 'w', fmtDuration(p.durationMs)),
      el('td', '', p.startedBy ?? '–'),
      el('td', '', others || '–'),
      el('td', '', (p.reason ?? '') + alarm),
    );
    tr.title = p.id;
    body.appendChild(tr);
  }
  if (list.length === 0) {
    const cell = el('td', 'muted', 'None yet.');
    cell.colSpan = 6;
    body.appendChild(append(el('tr'), cell));
  }
}

function renderCountdown(card: Card): void {
  const update = card.update;
  const rollout = update?.rollout;
  let text = '–';
  if (update && rollout) {
    const current = rollout.plan[rollout.step - 1];
    if (rollout.awaiting) text = `waiting for the ${rollout.awaiting} hook`;
    else if (rollout.state === 'promoted' || rollout.state === 'rolled_back') text = 'done';
    else if (rollout.state === 'paused') text = current?.hold === 'manual' ? 'manual: promote or resume' : 'paused';
    else if (typeof update.nextStepInMs === 'number') {
      const left = update.nextStepInMs - (performance.now() - card.receivedAt);
      text = `${rollout.state === 'baking' ? 'promotes in ' : 'in '}${fmtDuration(left)}`;
    } else if (current?.hold === 'manual') text = 'manual: promote or resume';
  }
  const field = card.facts.next.value;
  if (field.textContent !== text) field.textContent = text;
}

// ---- commands ------------------------------------------------------------------------

function disarm(button: HTMLButtonElement, command: Command): void {
  if (button.getAttribute('data-armed') !== '1') return;
  button.removeAttribute('data-armed');
  button.classList.remove('armed');
  button.textContent = COMMAND_LABEL[command];
}

function runCommand(card: Card, command: Command, button: HTMLButtonElement): void {
  // Start, promote and abort move production traffic: the first click arms, a second one within a few seconds acts.
  if (NEEDS_CONFIRM[command] && button.getAttribute('data-armed') !== '1') {
    button.setAttribute('data-armed', '1');
    button.classList.add('armed');
    button.textContent = `Confirm ${COMMAND_LABEL[command].toLowerCase()}`;
    window.setTimeout(() => disarm(button, command), CONFIRM_MS);
    return;
  }
  disarm(button, command);
  const path = `/api/v1/services/${encodeURIComponent(card.name)}/rollout${command === 'start' ? '' : `/${command}`}`;
  showMessage(card, '', `${COMMAND_LABEL[command]}…`);
  // The page's no-referrer policy would make a spec-following browser send "Origin: null" on a POST,
  // which the admin server refuses as cross-origin; same-origin keeps the real Origin (and only to us).
  const init: RequestInit = { method: 'POST', headers: authHeaders({ 'content-type': 'application/json' }), body: '{}', cache: 'no-store', referrerPolicy: 'same-origin' };
  fetch(path, init)
    .then((res) => {
      if (!res.ok) return errorText(res).then((text) => showMessage(card, 'error', `${COMMAND_LABEL[command]} refused — ${res.status}: ${text}`));
      return (res.json() as Promise<{ state: string }>).then((view) => showMessage(card, 'ok', `${COMMAND_LABEL[command]}: the rollout is ${stateLabel(view.state)}`));
    })
    .catch((err: unknown) => showMessage(card, 'error', `${COMMAND_LABEL[command]} failed: ${err instanceof Error ? err.message : String(err)}`));
}

function showMessage(card: Card, kind: string, text: string): void {
  card.message.className = `action-msg${kind ? ` ${kind}` : ''}`;
  card.message.textContent = text;
  clearTimeout(card.messageTimer);
  // Errors stay until the next action; progress and success fade after a while.
  if (kind !== 'error') {
    card.messageTimer = window.setTimeout(() => {
      card.message.textContent = '';
    }, 8000);
  }
}

// ---- health --------------------------------------------------------------------------

function renderHealth(card: Card, health: ServiceHealth | undefined, live: SlotName, rates: TargetRates | undefined): void {
  const slots = SLOTS.map((slot) => {
    const s = health?.[slot] ?? { available: 0, total: 0, targets: [] };
    return {
      slot,
      available: s.available,
      total: s.total,
      targets: (s.targets ?? []).map((t) => {
        const state = t.state ?? (t.available ? 'healthy' : 'unavailable');
        // Slow start: how far the returning target has ramped toward its full weight.
        const warming = t.warmingUntil && t.weight ? ` · warming ${Math.round((100 * (t.effectiveWeight ?? 0)) / t.weight)}%` : '';
        const r = rates?.[t.url];
        const rate = r ? `${fmtRate(r.rps)} · ${r.errorRate === null ? '–' : fmtShare(r.errorRate)} errors` : '';
        // A target that answers but fails is not "healthy" to its clients, whatever its probe says.
        const failing = r !== undefined && r.errorRate !== null && r.errorRate >= 0.05;
        return { url: t.url, state, label: state + warming, error: t.lastError ?? '', rate, failing };
      }),
    };
  });
  const key = live + JSON.stringify(slots);
  if (key === card.healthKey) return;
  card.healthKey = key;
  const body = card.healthBody;
  body.textContent = '';
  for (const s of slots) {
    const box = el('div', 'slot-health');
    box.setAttribute('data-slot', s.slot);
    const h = el('h4');
    append(h, el('span', `badge slot-${s.slot}`, s.slot + (s.slot === live ? ' · live' : '')), el('span', s.available === s.total ? 'muted' : '', `${s.available} / ${s.total} available`));
    const list = el('ul', 'targets');
    for (const t of s.targets) {
      const li = el('li');
      const rate = el('span', `rate${t.failing ? ' failing' : ''}`, t.rate);
      rate.setAttribute('data-target-rate', t.url);
      append(li, el('span', `dot dot-${t.failing ? 'failing' : t.state}`), el('span', 'url', t.url), el('span', 'muted', t.label), rate);
      li.title = t.url;
      if (t.error) li.appendChild(el('span', 'err', t.error));
      list.appendChild(li);
    }
    if (s.targets.length === 0) list.appendChild(el('li', 'muted', 'no targets'));
    append(box, h, list);
    body.appendChild(box);
  }
}

// ---- history -------------------------------------------------------------------------

function renderHistory(card: Card, rollout: Update['rollout']): void {
  const history = rollout ? rollout.history : [];
  const last = history[history.length - 1];
  const key = rollout ? `${rollout.id}:${rollout.historyTotal}:${last ? last.at + last.event : ''}` : 'none';
  if (key === card.historyKey) return;
  card.historyKey = key;
  const tbody = card.tbody;
  tbody.textContent = '';
  card.checksBody.textContent = '';
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i] as HistoryEntry;
    const tr = el('tr');
    if (entry.event === 'analysis') {
      const checks = el('td');
      checks.appendChild(detailNode(entry));
      append(tr, el('td', 't', fmtClock(entry.at)), el('td', 'w', fmtWeight(entry.canaryWeight)), checks);
      card.checksBody.appendChild(tr);
      continue;
    }
    const td = append(el('td'), el('span', `ev ev-${entry.event}`, entry.event));
    const detail = append(el('td'), detailNode(entry));
    append(tr, el('td', 't', fmtClock(entry.at)), td, el('td', 'w', fmtWeight(entry.canaryWeight)), detail);
    tbody.appendChild(tr);
  }
  if (!rollout) {
    const cell = el('td', 'muted', `No rollout yet: start one with the button above or shiftproxy rollout start ${card.name}.`);
    cell.colSpan = 4;
    tbody.appendChild(append(el('tr'), cell));
  }
  card.historyNote.textContent =
    rollout && rollout.historyTotal > history.length
      ? `Showing the latest ${history.length} of ${rollout.historyTotal} entries; the whole history is at GET /api/v1/services/${card.name}/rollout.`
      : '';
}

function thresholdText(threshold: unknown): string {
  if (!threshold || typeof threshold !== 'object') return '';
  return Object.entries(threshold as Record<string, unknown>)
    .map(([k, v]) => `${k} ${fmtNumber(v)}`)
    .join(', ');
}

function settingText(value: unknown): string {
  if (value === null || value === undefined) return '(none)';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

interface CheckDetail {
  alarm: string;
  verdict?: string;
  value?: number | null;
  threshold?: unknown;
  reason?: string;
}

function detailNode(entry: HistoryEntry): HTMLElement {
  const raw = entry.detail;
  if (raw === null || raw === undefined) return el('span', 'muted', '');
  if (typeof raw !== 'object') return el('span', '', String(raw));
  const d = raw as Record<string, unknown>;
  if (Array.isArray(d.alarms)) {
    const list = el('ul', 'checks');
    for (const check of d.alarms as CheckDetail[]) {
      const verdict = String(check.verdict ?? '');
      const bound = thresholdText(check.threshold);
      const line = el('span', '', ` ${check.alarm} = ${fmtNumber(check.value)}${bound ? ` (${bound})` : ''}`);
      const li = append(el('li'), el('span', `verdict v-${verdict}`, verdict), line);
      if (check.reason) li.appendChild(el('div', 'muted', check.reason));
      list.appendChild(li);
    }
    return list;
  }
  if (entry.event === 'step' && typeof d.step === 'number') {
    const hold = d.hold === 'manual' ? 'waits for promote or resume' : typeof d.hold === 'number' ? `holds ${fmtDuration(d.hold)}` : '';
    return el('span', '', `step ${d.step} of ${String(d.of)}: ${fmtWeight(d.weight as number)}${hold ? ` · ${hold}` : ''}`);
  }
  if (entry.event === 'analysis-changed' && Array.isArray(d.changes)) {
    const changed = el('ul', 'checks');
    for (const c of d.changes as { field: string; from: unknown; to: unknown }[]) changed.appendChild(el('li', '', `${c.field}: ${settingText(c.from)} → ${settingText(c.to)}`));
    return changed;
  }
  if (entry.event === 'started' && typeof d.from === 'string') {
    const steps = Array.isArray(d.steps) ? `${d.steps.length} steps` : '';
    return el('span', '', `${d.from} → ${String(d.to)} · ${String(d.strategy)}${d.preset ? ` (${String(d.preset)})` : ''}${steps ? ` · ${steps}` : ''}`);
  }
  const flat = Object.values(d).every((v) => v === null || typeof v !== 'object');
  const text = flat
    ? Object.entries(d)
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join(' · ')
    : JSON.stringify(d);
  return el('span', 'muted', text.length > 300 ? `${text.slice(0, 300)}…` : text);
}

// ---- charts --------------------------------------------------------------------------

function newSeries(): SeriesData {
  const slots = (): Series => ({ blue: [], green: [] });
  return { t: [], weight: slots(), rps: slots(), errorRate: slots(), p99Ms: slots() };
}

function addPoint(card: Card, t: number, service: DashboardService): void {
  const d = card.data;
  d.t.push(t);
  for (const slot of SLOTS) {
    const traffic = service.traffic[slot];
    d.weight[slot].push(service.weights[slot]);
    d.rps[slot].push(traffic.rps);
    d.errorRate[slot].push(traffic.errorRate === null ? null : traffic.errorRate * 100);
    d.p99Ms[slot].push(traffic.p99Ms);
  }
  trim(d);
  for (const chart of card.charts) {
    const series = d[chart.spec.key];
    const thresholds = service.thresholds.filter((th) => th.chart === chart.spec.key);
    const thresholdKey = JSON.stringify(thresholds);
    if (thresholdKey !== chart.thresholdKey) {
      // The bounds came or changed (a reload): the plot is rebuilt with one dashed line per bound.
      chart.thresholdKey = thresholdKey;
      chart.thresholds = thresholds;
      chart.plot?.destroy();
      chart.plot = null;
      chart.host.textContent = '';
      chart.limits.textContent = thresholds.map((th) => `${th.alarm} ${th.bound} ${chart.spec.format(th.value)} (${th.role})`).join(' · ');
    }
    chart.plot ??= makePlot(chart);
    const data: (number | null)[][] = [d.t, series.blue, series.green];
    for (const th of chart.thresholds) data.push(d.t.map(() => th.value));
    chart.plot.setData(data as uPlot.AlignedData);
    showNow(chart, { blue: series.blue[series.blue.length - 1], green: series.green[series.green.length - 1] });
  }
}

function showNow(chart: Chart, values: Record<SlotName, number | null | undefined>): void {
  const now = chart.now;
  now.textContent = '';
  SLOTS.forEach((slot, i) => {
    if (i > 0) now.appendChild(document.createTextNode(' · '));
    append(now, document.createTextNode(`${slot} `), el('span', `v-${slot}`, chart.spec.format(values[slot])));
  });
}

function makePlot(chart: Chart): uPlot {
  const spec = chart.spec;
  const top = chart.thresholds.reduce((m, th) => Math.max(m, th.value), 0);
  // A bound stays in view even while the traffic is far below it.
  const yRange: uPlot.Scale.Range = spec.range ? spec.range : (_u, _min, max) => [0, Math.max(spec.floor ?? 1, (max || 0) * 1.15, top * 1.15)];
  const axis: uPlot.Axis = { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, font: '11px system-ui, sans-serif' };
  const series: uPlot.Series[] = [
    {},
    { label: 'blue', stroke: SLOT_COLOR.blue, width: 2, points: { show: false } },
    { label: 'green', stroke: SLOT_COLOR.green, width: 2, points: { show: false } },
    ...chart.thresholds.map((th): uPlot.Series => ({ label: `${th.alarm} ${th.bound}`, stroke: THRESHOLD_COLOR, width: 1.5, dash: [6, 4], points: { show: false } })),
  ];
  const plot = new uPlot(
    {
      width: Math.max(160, chart.host.clientWidth),
      height: 150,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: yRange } },
      axes: [
        { ...axis, space: 70, values: (_u, splits) => splits.map((t) => fmtClock(t * 1000)) },
        { ...axis, size: 66, values: (_u, splits) => splits.map((v) => spec.format(v)) },
      ],
      series,
    },
    series.map(() => []) as unknown as uPlot.AlignedData,
    chart.host,
  );
  new ResizeObserver(() => {
    const width = chart.host.clientWidth;
    if (width > 0 && Math.abs(width - plot.width) > 1) plot.setSize({ width, height: 150 });
  }).observe(chart.host);
  return plot;
}

// ---- start ---------------------------------------------------------------------------

function tokenChanged(next: string): void {
  token = next;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  tokenInput.value = '';
  tokenInput.placeholder = token ? 'saved for this tab' : 'not set';
  me = null;
  who.hidden = true;
  stream.retryMs = 1000;
  connect();
}

tokenForm.addEventListener('submit', (event) => {
  event.preventDefault();
  tokenChanged(tokenInput.value.trim());
});
byId('token-forget').addEventListener('click', () => tokenChanged(''));
tokenInput.placeholder = token ? 'saved for this tab' : 'not set';

window.setInterval(() => {
  cards.forEach(renderCountdown);
  if (stream.reading && Date.now() - stream.lastByteAt > STALL_MS) retryLater(`no data for ${STALL_MS / 1000} s`);
}, 250);

connect();
