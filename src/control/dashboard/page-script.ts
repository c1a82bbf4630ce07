/**
 * The dashboard's browser code, inlined into the page (a `script-src` hash covers it). Plain
 * modern JavaScript without template literals, so it can live in this TypeScript string; a unit
 * test compiles it and the browser test runs it.
 *
 * Data flow: one `fetch()` reads `GET /api/v1/events` as a stream (EventSource cannot send the
 * Authorization header, and tokens never go into URLs), `snapshot` events redraw every service,
 * `rollout` events update one at once. Every value from the server reaches the DOM through
 * textContent, never as markup.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';

  var TOKEN_KEY = 'shiftproxy.adminToken';
  var POINTS = 300;          // chart span kept in the page: five minutes at one snapshot a second
  var STALL_MS = 30000;      // no byte for this long: the stream is dead even if the socket is not
  var CONFIRM_MS = 4000;     // how long an armed Start/Promote/Abort waits for its confirming click
  var SLOTS = ['blue', 'green'];
  var SLOT_COLOR = { blue: '#2563eb', green: '#16a34a' };
  var COMMANDS = ['start', 'pause', 'resume', 'promote', 'abort'];
  var COMMAND_LABEL = { start: 'Start rollout', pause: 'Pause', resume: 'Resume', promote: 'Promote', abort: 'Abort' };
  var NEEDS_CONFIRM = { start: true, promote: true, abort: true };
  // What Promote does depends on where the rollout is (the API's promote, without --full).
  var PROMOTE_HINT = {
    steps: 'Skip the remaining steps: 100% now, then the bake with the alarms still watched',
    bake: 'End the bake: the new slot becomes live now'
  };
  var THRESHOLD_COLOR = '#dc2626';
  var CHARTS = [
    { key: 'weight', title: 'Traffic share', format: fmtPercentValue, range: [0, 100] },
    { key: 'rps', title: 'Request rate', format: fmtRate, floor: 1 },
    { key: 'errorRate', title: 'Error rate', format: fmtPercentValue, floor: 1 },
    { key: 'p99Ms', title: 'p99 latency', format: fmtMs, floor: 10 }
  ];

  var token = sessionStorage.getItem(TOKEN_KEY) || '';
  var me = null;             // { name, role } of the token in use, from GET /api/v1/whoami
  var cards = new Map();
  var pastTraffic = new Map();  // service -> the recent rates the server sent on connecting, until its card exists
  var stream = { ctrl: null, retryMs: 1000, retryTimer: 0, lastByteAt: 0, reading: false };

  var main = document.getElementById('services');
  var empty = document.getElementById('empty');
  var conn = document.getElementById('conn');
  var updated = document.getElementById('updated');
  var banner = document.getElementById('banner');
  var tokenForm = document.getElementById('token-form');
  var tokenInput = document.getElementById('token');
  var who = document.getElementById('who');

  // ---- small helpers -------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function append(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }

  function round(value, digits) {
    var f = Math.pow(10, digits);
    return Math.round(value * f) / f;
  }

  function fmtWeight(w) { return w === null || w === undefined ? '–' : round(w, 2) + ' %'; }
  function fmtPercentValue(v) { return v === null || v === undefined ? '–' : (v < 10 ? round(v, 2) : round(v, 1)) + ' %'; }
  function fmtShare(s) { return s === null || s === undefined ? '–' : fmtPercentValue(s * 100); }
  function fmtRate(r) { return r === null || r === undefined ? '–' : (r < 10 ? round(r, 1) : Math.round(r)) + ' req/s'; }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 10) return round(ms, 2) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    return round(ms / 1000, 2) + ' s';
  }
  function pad2(n) { return n < 10 ? '0' + n : String(n); }
  function fmtDuration(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + pad2(s % 60) + ' s';
    return Math.floor(m / 60) + ' h ' + pad2(m % 60) + ' min';
  }
  function fmtClock(time) {
    var d = new Date(time);
    return isNaN(d.getTime()) ? String(time) : pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }
  function fmtNumber(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v !== 'number') return String(v);
    return Math.abs(v) >= 100 ? String(round(v, 1)) : String(Number(v.toPrecision(4)));
  }
  function stateLabel(state) { return String(state).replace(/_/g, ' '); }

  function authHeaders(extra) {
    var headers = extra || {};
    if (token) headers.authorization = 'Bearer ' + token;
    return headers;
  }

  // The API answers errors as JSON { error }; anything else (a proxy's HTML page) is shown by status.
  function errorText(res) {
    return res.text().then(function (text) {
      try {
        var body = JSON.parse(text);
        if (body && typeof body.error === 'string') return body.error;
      } catch (e) { /* not JSON */ }
      return res.statusText || 'request failed';
    }, function () { return res.statusText || 'request failed'; });
  }

  function setConn(kind, text) {
    conn.className = 'conn conn-' + kind;
    conn.textContent = text;
    conn.title = text;
  }

  function showBanner(text) {
    banner.textContent = text || '';
    banner.hidden = !text;
  }

  // ---- the event stream ----------------------------------------------------------------

  function connect() {
    clearTimeout(stream.retryTimer);
    if (stream.ctrl) stream.ctrl.abort();
    var ctrl = new AbortController();
    stream.ctrl = ctrl;
    stream.reading = false;
    setConn('connecting', 'connecting…');
    fetch('/api/v1/events', { headers: authHeaders({ accept: 'text/event-stream' }), cache: 'no-store', signal: ctrl.signal })
      .then(function (res) {
        if (stream.ctrl !== ctrl) return undefined;
        if (!res.ok) return errorText(res).then(function (text) { if (stream.ctrl === ctrl) refused(res.status, text); });
        stream.retryMs = 1000;
        stream.lastByteAt = Date.now();
        stream.reading = true;
        showBanner('');
        whoami();
        setConn('live', 'live');
        return readEvents(res.body, ctrl).then(function () {
          if (stream.ctrl === ctrl) retryLater('the server ended the stream');
        });
      })
      .catch(function (err) {
        if (stream.ctrl === ctrl) retryLater(err && err.message ? err.message : String(err));
      });
  }

  // Who the token names and what its role allows: a viewer's page offers no buttons it would be refused.
  function whoami() {
    fetch('/api/v1/whoami', { headers: authHeaders({}), cache: 'no-store' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (next) {
        me = next && typeof next.name === 'string' ? next : null;
        who.textContent = me ? 'signed in as ' + me.name + ' (' + me.role + ')' : '';
        who.hidden = !me;
        cards.forEach(function (card) { if (card.update) applyUpdate(card, card.update); });
      }, function () { /* the stream's own errors say what is wrong */ });
  }

  function mayAct() { return !me || me.role === 'operator'; }

  function refused(status, text) {
    stream.ctrl = null;
    stream.reading = false;
    // Retrying with the same token would only spend the server's failed-attempt budget: wait for a new one.
    if (status === 401 || status === 403) {
      setConn('error', status + ' ' + text);
      showBanner(status + ': ' + text + (status === 401 ? ' — enter the admin token above.' : ''));
      return;
    }
    retryLater(status + ' ' + text, status === 429 ? 30000 : 0);
  }

  function retryLater(why, atLeastMs) {
    if (stream.ctrl) stream.ctrl.abort();
    stream.ctrl = null;
    stream.reading = false;
    var delay = Math.max(stream.retryMs, atLeastMs || 0);
    stream.retryMs = Math.min(stream.retryMs * 2, 15000);
    setConn('retry', 'disconnected (' + why + '); retrying in ' + Math.round(delay / 1000) + ' s');
    clearTimeout(stream.retryTimer);
    stream.retryTimer = setTimeout(connect, delay);
  }

  // text/event-stream, as the server writes it: blocks separated by a blank line, "field: value"
  // lines, comments starting with ":". The server frames with "\n" only.
  function readEvents(body, ctrl) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done || stream.ctrl !== ctrl) return undefined;
        stream.lastByteAt = Date.now();
        buffer += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          dispatch(block);
        }
        return pump();
      });
    }
    return pump();
  }

  function dispatch(block) {
    var name = 'message';
    var data = [];
    block.split('\n').forEach(function (line) {
      if (!line || line.charAt(0) === ':') return;
      var colon = line.indexOf(':');
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.charAt(0) === ' ') value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    });
    if (data.length === 0) return;
    var payload;
    try { payload = JSON.parse(data.join('\n')); } catch (e) { return; }
    if (name === 'snapshot') onSnapshot(payload);
    else if (name === 'rollout') onRollout(payload);
    else if (name === 'history') onHistory(payload);
  }

  function onSnapshot(snapshot) {
    var t = Date.parse(snapshot.at) / 1000;
    var seen = new Set();
    snapshot.services.forEach(function (service) {
      seen.add(service.name);
      var card = cards.get(service.name);
      if (!card) {
        card = createCard(service.name);
        cards.set(service.name, card);
        main.appendChild(card.root);
      }
      applyUpdate(card, service);
      var past = pastTraffic.get(service.name);
      if (past) {
        pastTraffic.delete(service.name);
        if (card.data.t.length === 0) seed(card, past);
      }
      renderHealth(card, service.health, service.live, service.traffic && service.traffic.targets);
      addPoint(card, t, service);
    });
    cards.forEach(function (card, name) {
      if (seen.has(name)) return;
      card.charts.forEach(function (c) { c.plot.destroy(); });
      card.root.remove();
      cards.delete(name);
    });
    empty.hidden = snapshot.services.length > 0;
    if (snapshot.services.length === 0) empty.textContent = 'No services are configured.';
    updated.textContent = 'updated ' + fmtClock(snapshot.at);
  }

  function onHistory(history) {
    (history.services || []).forEach(function (h) {
      var card = cards.get(h.name);
      if (card && card.data.t.length === 0) seed(card, h);
      else if (!card) pastTraffic.set(h.name, h);
    });
  }

  // The canary weight at a moment, from the rollout's own history (the entries carry the weight they set).
  function weightsAt(update, tSeconds) {
    var rollout = update.rollout;
    if (!rollout) return update.weights;
    var canary = 0;
    (rollout.history || []).forEach(function (entry) { if (Date.parse(entry.at) / 1000 <= tSeconds) canary = entry.canaryWeight; });
    var w = {};
    w[rollout.to] = canary;
    w[rollout.from] = 100 - canary;
    return w;
  }

  // Charts open with the minutes the server's rings still hold, instead of empty.
  function seed(card, h) {
    var d = card.data;
    h.at.forEach(function (atMs, i) {
      var t = atMs / 1000;
      var weights = card.update ? weightsAt(card.update, t) : { blue: null, green: null };
      d.t.push(t);
      SLOTS.forEach(function (slot) {
        var s = h.slots[slot];
        d.weight[slot].push(weights[slot] === undefined ? null : weights[slot]);
        d.rps[slot].push(s.rps[i]);
        d.errorRate[slot].push(s.errorRate[i] === null ? null : s.errorRate[i] * 100);
        d.p99Ms[slot].push(s.p99Ms[i]);
      });
    });
    while (d.t.length > POINTS) {
      d.t.shift();
      CHARTS.forEach(function (spec) { SLOTS.forEach(function (slot) { d[spec.key][slot].shift(); }); });
    }
    card.root.setAttribute('data-seeded-points', String(d.t.length));
  }

  function onRollout(update) {
    var card = cards.get(update.service);
    if (card) applyUpdate(card, update);
  }

  // ---- one card per service ------------------------------------------------------------

  function fact(label, field, small) {
    var wrap = el('div');
    var dd = el('dd', small ? 'small' : '', '–');
    dd.setAttribute('data-field', field);
    append(wrap, el('dt', '', label), dd);
    return { wrap: wrap, value: dd };
  }

  function createCard(name) {
    var root = el('section', 'card');
    root.setAttribute('data-service', name);
    var head = el('div', 'card-head');
    var live = el('span', 'badge');
    live.setAttribute('data-field', 'live');
    var state = el('span', 'badge state st-idle', 'idle');
    state.setAttribute('data-field', 'state');
    var strategy = el('span', 'muted');
    append(head, el('h2', '', name), live, state, strategy);

    var split = el('div', 'split');
    var bar = el('div', 'bar');
    var seg = { blue: el('div', 'seg seg-blue'), green: el('div', 'seg seg-green') };
    append(bar, seg.blue, seg.green);
    var labels = el('div', 'bar-labels');
    var lab = { blue: el('span', 'l-blue'), green: el('span', 'l-green') };
    lab.blue.setAttribute('data-field', 'weight-blue');
    lab.green.setAttribute('data-field', 'weight-green');
    append(labels, lab.blue, lab.green);
    append(split, bar, labels);

    var facts = {
      canary: fact('Canary weight', 'canary-weight'),
      step: fact('Step', 'step'),
      next: fact('Next step', 'next-step'),
      started: fact('Started', 'started', true),
      checks: fact('Checks in a row', 'checks', true)
    };
    var dl = el('dl', 'facts');
    Object.keys(facts).forEach(function (k) { dl.appendChild(facts[k].wrap); });

    var actions = el('div', 'actions');
    var buttons = {};
    COMMANDS.forEach(function (command) {
      var b = el('button', 'cmd-' + command, COMMAND_LABEL[command]);
      b.type = 'button';
      b.disabled = true;
      b.setAttribute('data-command', command);
      b.addEventListener('click', function () { runCommand(card, command, b); });
      buttons[command] = b;
      actions.appendChild(b);
    });
    var message = el('div', 'action-msg');
    message.setAttribute('data-field', 'action-message');
    message.setAttribute('role', 'status');

    var summary = el('div', 'summary');
    append(summary, dl, actions, message);

    var reason = el('p', 'reason');
    reason.setAttribute('data-field', 'reason');
    reason.hidden = true;

    var chartRow = el('div', 'charts');
    var charts = CHARTS.map(function (spec) {
      var box = el('div', 'chart');
      var now = el('div', 'now');
      var host = el('div', 'plot');
      var limits = el('div', 'limits');
      limits.setAttribute('data-field', 'threshold-' + spec.key);
      append(box, el('h3', '', spec.title), now, limits, host);
      chartRow.appendChild(box);
      return { spec: spec, host: host, now: now, limits: limits, plot: null, thresholds: [], thresholdKey: '' };
    });

    var lower = el('div', 'lower');
    var healthBox = el('div');
    var healthBody = el('div');
    append(healthBox, el('h3', '', 'Target health'), healthBody);
    var historyBox = el('div');
    var historyScroll = el('div', 'history');
    var table = el('table');
    var thead = el('thead');
    var headRow = el('tr');
    ['Time', 'Event', 'Weight', 'Detail'].forEach(function (h) { headRow.appendChild(el('th', '', h)); });
    thead.appendChild(headRow);
    var tbody = el('tbody');
    append(table, thead, tbody);
    historyScroll.appendChild(table);
    var historyNote = el('p', 'note');
    append(historyBox, el('h3', '', 'Decision history'), historyScroll, historyNote);
    // Analysis checks come every few seconds: in their own pane, they never push the step events out of view.
    var checksBox = el('div', 'checks-pane');
    var checksTable = el('table');
    var checksHead = el('tr');
    ['Time', 'Weight', 'Checks'].forEach(function (h) { checksHead.appendChild(el('th', '', h)); });
    var checksThead = el('thead');
    checksThead.appendChild(checksHead);
    var checksBody = el('tbody');
    checksBody.setAttribute('data-field', 'checks-history');
    append(checksTable, checksThead, checksBody);
    var checksScroll = el('div', 'history');
    checksScroll.appendChild(checksTable);
    append(checksBox, el('h3', '', 'Analysis checks'), checksScroll);
    var pastBox = el('div', 'past');
    var pastTable = el('table');
    var pastHead = el('tr');
    ['Started', 'Outcome', 'Took', 'Started by', 'Also acted', 'Reason'].forEach(function (h) { pastHead.appendChild(el('th', '', h)); });
    var pastThead = el('thead');
    pastThead.appendChild(pastHead);
    var pastBody = el('tbody');
    pastBody.setAttribute('data-field', 'past');
    append(pastTable, pastThead, pastBody);
    var pastScroll = el('div', 'history');
    pastScroll.appendChild(pastTable);
    append(pastBox, el('h3', '', 'Past rollouts'), pastScroll);
    append(lower, healthBox, historyBox, checksBox, pastBox);

    append(root, head, split, summary, reason, chartRow, lower);

    var card = {
      name: name, root: root, live: live, state: state, strategy: strategy, seg: seg, lab: lab, facts: facts,
      buttons: buttons, actions: actions, message: message, reason: reason, charts: charts, healthBody: healthBody,
      tbody: tbody, checksBody: checksBody, historyNote: historyNote, pastBody: pastBody, pastKey: '', update: null, receivedAt: 0, historyKey: '', healthKey: '',
      data: newSeries(), messageTimer: 0
    };
    return card;
  }

  function applyUpdate(card, update) {
    card.update = update;
    card.receivedAt = performance.now();
    var rollout = update.rollout;
    var state = rollout ? rollout.state : 'idle';

    card.root.className = 'card is-' + state;
    card.live.className = 'badge slot-' + update.live;
    card.live.textContent = 'live: ' + update.live;
    card.state.className = 'badge state st-' + state;
    card.state.textContent = stateLabel(state);
    card.strategy.textContent = rollout
      ? rollout.from + ' → ' + rollout.to + ' · ' + rollout.strategy + (rollout.preset ? ' (' + rollout.preset + ')' : '') + ' · ' + rollout.id
      : 'no rollout yet';

    SLOTS.forEach(function (slot) {
      var w = update.weights[slot];
      card.seg[slot].style.width = w + '%';
      card.lab[slot].textContent = slot + (slot === update.live ? ' (live) ' : ' ') + fmtWeight(w);
    });

    // The share chart's caption follows the routing at once; its line moves with the next snapshot.
    showNow(card.charts[0], update.weights);

    card.facts.canary.value.textContent = rollout ? fmtWeight(rollout.canaryWeight) + ' → ' + rollout.to : '0 %';
    var current = rollout && Array.isArray(rollout.plan) ? rollout.plan[rollout.step - 1] : null;
    var mirrored = current && current.mirror && state !== 'baking' ? ' · ' + current.mirror + '% of stable mirrored' : '';
    card.facts.step.value.textContent = !rollout ? '–' : state === 'baking' ? 'bake' : rollout.step + ' / ' + rollout.steps + mirrored;
    card.facts.started.value.textContent = rollout ? fmtClock(rollout.startedAt) + ' (changed ' + fmtClock(rollout.updatedAt) + ')' : '–';
    card.facts.checks.value.textContent = rollout
      ? rollout.consecutiveFailures + ' failed · ' + rollout.consecutiveInconclusive + ' inconclusive'
      : '–';
    renderCountdown(card);

    var text = rollout && rollout.reason ? rollout.reason : '';
    if (text && rollout.alarm && text.indexOf(rollout.alarm) < 0) text += ' (alarm: ' + rollout.alarm + ')';
    if (rollout && rollout.notDurable) text = 'state not saved: ' + rollout.notDurable + (text ? ' · ' + text : '');
    card.reason.hidden = !text;
    card.reason.textContent = text;
    card.reason.className = 'reason' + (state === 'rolled_back' || (rollout && rollout.notDurable) ? ' bad' : state === 'paused' ? ' warn' : '');

    var operator = mayAct();
    card.actions.hidden = !operator;
    COMMANDS.forEach(function (command) {
      var allowed = operator && update.commands.indexOf(command) >= 0;
      var b = card.buttons[command];
      b.disabled = !allowed;
      if (!allowed) disarm(b, command);
      if (command === 'promote') b.title = rollout && rollout.canaryWeight >= 100 ? PROMOTE_HINT.bake : PROMOTE_HINT.steps;
    });

    renderHistory(card, rollout);
    // The list of past rollouts changes only when one starts or ends: fetch it then, not on every update.
    var pastKey = rollout ? rollout.id + ':' + (state === 'promoted' || state === 'rolled_back' ? 'done' : 'running') : 'none';
    if (pastKey !== card.pastKey) {
      card.pastKey = pastKey;
      loadPast(card);
    }
  }

  function loadPast(card) {
    fetch('/api/v1/services/' + encodeURIComponent(card.name) + '/rollouts', { headers: authHeaders({}), cache: 'no-store' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (list) { if (Array.isArray(list)) renderPast(card, list); }, function () { card.pastKey = ''; });
  }

  function renderPast(card, list) {
    var body = card.pastBody;
    body.textContent = '';
    list.forEach(function (p) {
      var tr = el('tr');
      var outcome = p.outcome || p.state;
      var alarm = p.alarm ? ' (' + p.alarm.alarm + ' = ' + fmtNumber(p.alarm.value) + (thresholdText(p.alarm.threshold) ? ', ' + thresholdText(p.alarm.threshold) : '') + ')' : '';
      var others = (p.actors || []).filter(function (a) { return a !== p.startedBy; }).join(', ');
      append(tr,
        el('td', 't', fmtClock(p.startedAt)),
        append(el('td'), el('span', 'ev ev-' + outcome, stateLabel(outcome))),
        el('td', 'w', fmtDuration(p.durationMs)),
        el('td', '', p.startedBy || '–'),
        el('td', '', others || '–'),
        el('td', '', (p.reason || '') + alarm));
      tr.title = p.id;
      body.appendChild(tr);
    });
    if (list.length === 0) {
      var row = el('tr');
      var cell = el('td', 'muted', 'None yet.');
      cell.colSpan = 6;
      row.appendChild(cell);
      body.appendChild(row);
    }
  }

  function renderCountdown(card) {
    var update = card.update;
    var rollout = update && update.rollout;
    var text = '–';
    if (rollout) {
      var plan = rollout.plan || [];
      var current = plan[rollout.step - 1];
      if (rollout.awaiting) text = 'waiting for the ' + rollout.awaiting + ' hook';
      else if (rollout.state === 'promoted' || rollout.state === 'rolled_back') text = 'done';
      else if (rollout.state === 'paused') text = current && current.hold === 'manual' ? 'manual: promote or resume' : 'paused';
      else if (typeof update.nextStepInMs === 'number') {
        var left = update.nextStepInMs - (performance.now() - card.receivedAt);
        text = (rollout.state === 'baking' ? 'promotes in ' : 'in ') + fmtDuration(left);
      } else if (current && current.hold === 'manual') text = 'manual: promote or resume';
    }
    var field = card.facts.next.value;
    if (field.textContent !== text) field.textContent = text;
  }

  // ---- commands ------------------------------------------------------------------------

  function disarm(button, command) {
    if (button.getAttribute('data-armed') !== '1') return;
    button.removeAttribute('data-armed');
    button.classList.remove('armed');
    button.textContent = COMMAND_LABEL[command];
  }

  function runCommand(card, command, button) {
    // Start, promote and abort move production traffic: the first click arms, a second one within a few seconds acts.
    if (NEEDS_CONFIRM[command] && button.getAttribute('data-armed') !== '1') {
      button.setAttribute('data-armed', '1');
      button.classList.add('armed');
      button.textContent = 'Confirm ' + COMMAND_LABEL[command].toLowerCase();
      setTimeout(function () { disarm(button, command); }, CONFIRM_MS);
      return;
    }
    disarm(button, command);
    var path = '/api/v1/services/' + encodeURIComponent(card.name) + '/rollout' + (command === 'start' ? '' : '/' + command);
    showMessage(card, '', COMMAND_LABEL[command] + '…');
    // The page's no-referrer policy would make a spec-following browser send "Origin: null" on a POST,
    // which the admin server refuses as cross-origin; same-origin keeps the real Origin (and only to us).
    var init = { method: 'POST', headers: authHeaders({ 'content-type': 'application/json' }), body: '{}', cache: 'no-store', referrerPolicy: 'same-origin' };
    fetch(path, init)
      .then(function (res) {
        if (!res.ok) return errorText(res).then(function (text) { showMessage(card, 'error', COMMAND_LABEL[command] + ' refused — ' + res.status + ': ' + text); });
        return res.json().then(function (view) {
          showMessage(card, 'ok', COMMAND_LABEL[command] + ': the rollout is ' + stateLabel(view.state));
        });
      })
      .catch(function (err) { showMessage(card, 'error', COMMAND_LABEL[command] + ' failed: ' + (err && err.message ? err.message : String(err))); });
  }

  function showMessage(card, kind, text) {
    card.message.className = 'action-msg' + (kind ? ' ' + kind : '');
    card.message.textContent = text;
    clearTimeout(card.messageTimer);
    // Errors stay until the next action; progress and success fade after a while.
    if (kind !== 'error') card.messageTimer = setTimeout(function () { card.message.textContent = ''; }, 8000);
  }

  // ---- health --------------------------------------------------------------------------

  function renderHealth(card, health, live, rates) {
    var slots = SLOTS.map(function (slot) {
      var s = (health && health[slot]) || { available: 0, total: 0, targets: [] };
      return {
        slot: slot, available: s.available, total: s.total,
        targets: (s.targets || []).map(function (t) {
          var state = t.state || (t.available ? 'healthy' : 'unavailable');
          // Slow start: how far the returning target has ramped toward its full weight.
          var warming = t.warmingUntil && t.weight ? ' · warming ' + Math.round((100 * t.effectiveWeight) / t.weight) + '%' : '';
          var r = rates && rates[t.url];
          var rate = r ? fmtRate(r.rps) + ' · ' + (r.errorRate === null ? '–' : fmtShare(r.errorRate)) + ' errors' : '';
          // A target that answers but fails is not "healthy" to its clients, whatever its probe says.
          var failing = r && r.errorRate !== null && r.errorRate >= 0.05;
          return { url: t.url, state: state, label: state + warming, error: t.lastError || '', rate: rate, failing: failing };
        })
      };
    });
    var key = live + JSON.stringify(slots);
    if (key === card.healthKey) return;
    card.healthKey = key;
    var body = card.healthBody;
    body.textContent = '';
    slots.forEach(function (s) {
      var box = el('div', 'slot-health');
      box.setAttribute('data-slot', s.slot);
      var h = el('h4');
      append(h, el('span', 'badge slot-' + s.slot, s.slot + (s.slot === live ? ' · live' : '')),
        el('span', s.available === s.total ? 'muted' : '', s.available + ' / ' + s.total + ' available'));
      var list = el('ul', 'targets');
      s.targets.forEach(function (t) {
        var li = el('li');
        var rate = el('span', 'rate' + (t.failing ? ' failing' : ''), t.rate);
        rate.setAttribute('data-target-rate', t.url);
        append(li, el('span', 'dot dot-' + (t.failing ? 'failing' : t.state)), el('span', 'url', t.url), el('span', 'muted', t.label), rate);
        li.title = t.url;
        if (t.error) li.appendChild(el('span', 'err', t.error));
        list.appendChild(li);
      });
      if (s.targets.length === 0) list.appendChild(el('li', 'muted', 'no targets'));
      append(box, h, list);
      body.appendChild(box);
    });
  }

  // ---- history -------------------------------------------------------------------------

  function renderHistory(card, rollout) {
    var history = rollout ? rollout.history : [];
    var last = history[history.length - 1];
    var key = rollout ? rollout.id + ':' + rollout.historyTotal + ':' + (last ? last.at + last.event : '') : 'none';
    if (key === card.historyKey) return;
    card.historyKey = key;
    var tbody = card.tbody;
    tbody.textContent = '';
    card.checksBody.textContent = '';
    for (var i = history.length - 1; i >= 0; i--) {
      var entry = history[i];
      var tr = el('tr');
      if (entry.event === 'analysis') {
        var checks = el('td');
        checks.appendChild(detailNode(entry));
        append(tr, el('td', 't', fmtClock(entry.at)), el('td', 'w', fmtWeight(entry.canaryWeight)), checks);
        card.checksBody.appendChild(tr);
        continue;
      }
      var ev = el('span', 'ev ev-' + entry.event, entry.event);
      var td = el('td');
      td.appendChild(ev);
      var detail = el('td');
      detail.appendChild(detailNode(entry));
      append(tr, el('td', 't', fmtClock(entry.at)), td, el('td', 'w', fmtWeight(entry.canaryWeight)), detail);
      tbody.appendChild(tr);
    }
    if (!rollout) {
      var row = el('tr');
      var cell = el('td', 'muted', 'No rollout yet: start one with the button above or shiftproxy rollout start ' + card.name + '.');
      cell.colSpan = 4;
      row.appendChild(cell);
      tbody.appendChild(row);
    }
    card.historyNote.textContent = rollout && rollout.historyTotal > history.length
      ? 'Showing the latest ' + history.length + ' of ' + rollout.historyTotal + ' entries; the whole history is at GET /api/v1/services/' + card.name + '/rollout.'
      : '';
  }

  function thresholdText(threshold) {
    if (!threshold || typeof threshold !== 'object') return '';
    return Object.keys(threshold).map(function (k) { return k + ' ' + fmtNumber(threshold[k]); }).join(', ');
  }

  function settingText(value) {
    if (value === null || value === undefined) return '(none)';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }

  function detailNode(entry) {
    var d = entry.detail;
    if (d === null || d === undefined) return el('span', 'muted', '');
    if (typeof d === 'string') return el('span', '', d);
    if (Array.isArray(d.alarms)) {
      var list = el('ul', 'checks');
      d.alarms.forEach(function (check) {
        var li = el('li');
        var verdict = String(check.verdict || '');
        var line = el('span');
        line.textContent = ' ' + check.alarm + ' = ' + fmtNumber(check.value) + (thresholdText(check.threshold) ? ' (' + thresholdText(check.threshold) + ')' : '');
        append(li, el('span', 'verdict v-' + verdict, verdict), line);
        if (check.reason) li.appendChild(el('div', 'muted', check.reason));
        list.appendChild(li);
      });
      return list;
    }
    if (entry.event === 'step' && typeof d.step === 'number') {
      var hold = d.hold === 'manual' ? 'waits for promote or resume' : typeof d.hold === 'number' ? 'holds ' + fmtDuration(d.hold) : '';
      return el('span', '', 'step ' + d.step + ' of ' + d.of + ': ' + fmtWeight(d.weight) + (hold ? ' · ' + hold : ''));
    }
    if (entry.event === 'analysis-changed' && Array.isArray(d.changes)) {
      var changed = el('ul', 'checks');
      d.changes.forEach(function (c) {
        changed.appendChild(el('li', '', c.field + ': ' + settingText(c.from) + ' → ' + settingText(c.to)));
      });
      return changed;
    }
    if (entry.event === 'started' && d.from) {
      var steps = Array.isArray(d.steps) ? d.steps.length + ' steps' : '';
      return el('span', '', d.from + ' → ' + d.to + ' · ' + d.strategy + (d.preset ? ' (' + d.preset + ')' : '') + (steps ? ' · ' + steps : ''));
    }
    var flat = Object.keys(d).every(function (k) { return d[k] === null || typeof d[k] !== 'object'; });
    var text = flat ? Object.keys(d).map(function (k) { return k + ': ' + d[k]; }).join(' · ') : JSON.stringify(d);
    return el('span', 'muted', text.length > 300 ? text.slice(0, 300) + '…' : text);
  }

  // ---- charts --------------------------------------------------------------------------

  function newSeries() {
    var data = { t: [] };
    CHARTS.forEach(function (spec) { data[spec.key] = { blue: [], green: [] }; });
    return data;
  }

  function addPoint(card, t, service) {
    var d = card.data;
    d.t.push(t);
    SLOTS.forEach(function (slot) {
      var traffic = service.traffic[slot] || {};
      d.weight[slot].push(service.weights[slot]);
      d.rps[slot].push(traffic.rps === undefined ? null : traffic.rps);
      d.errorRate[slot].push(traffic.errorRate === null || traffic.errorRate === undefined ? null : traffic.errorRate * 100);
      d.p99Ms[slot].push(traffic.p99Ms === undefined ? null : traffic.p99Ms);
    });
    if (d.t.length > POINTS) {
      d.t.shift();
      CHARTS.forEach(function (spec) { SLOTS.forEach(function (slot) { d[spec.key][slot].shift(); }); });
    }
    card.charts.forEach(function (chart) {
      var series = d[chart.spec.key];
      var thresholds = (service.thresholds || []).filter(function (th) { return th.chart === chart.spec.key; });
      var thresholdKey = JSON.stringify(thresholds);
      if (thresholdKey !== chart.thresholdKey) {
        // The bounds came or changed (a reload): the plot is rebuilt with one dashed line per bound.
        chart.thresholdKey = thresholdKey;
        chart.thresholds = thresholds;
        if (chart.plot) { chart.plot.destroy(); chart.plot = null; }
        chart.host.textContent = '';
        chart.limits.textContent = thresholds.map(function (th) {
          return th.alarm + ' ' + th.bound + ' ' + chart.spec.format(th.value) + ' (' + th.role + ')';
        }).join(' · ');
      }
      if (!chart.plot) chart.plot = makePlot(chart);
      var data = [d.t, series.blue, series.green];
      chart.thresholds.forEach(function (th) { data.push(d.t.map(function () { return th.value; })); });
      chart.plot.setData(data);
      showNow(chart, { blue: series.blue[series.blue.length - 1], green: series.green[series.green.length - 1] });
    });
  }

  function showNow(chart, values) {
    var now = chart.now;
    now.textContent = '';
    SLOTS.forEach(function (slot, i) {
      if (i > 0) now.appendChild(document.createTextNode(' · '));
      append(now, document.createTextNode(slot + ' '), el('span', 'v-' + slot, chart.spec.format(values[slot])));
    });
  }

  function makePlot(chart) {
    var spec = chart.spec;
    var top = chart.thresholds.reduce(function (m, th) { return Math.max(m, th.value); }, 0);
    // A bound stays in view even while the traffic is far below it.
    var yRange = spec.range
      ? spec.range
      : function (u, min, max) { return [0, Math.max(spec.floor, (max || 0) * 1.15, top * 1.15)]; };
    var axis = { stroke: '#6b7280', grid: { stroke: '#eef0f3', width: 1 }, ticks: { stroke: '#e5e7eb', width: 1 }, font: '11px system-ui, sans-serif' };
    var plot = new uPlot({
      width: Math.max(160, chart.host.clientWidth),
      height: 150,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: yRange } },
      axes: [
        Object.assign({}, axis, { space: 70, values: function (u, splits) { return splits.map(function (t) { return fmtClock(t * 1000); }); } }),
        Object.assign({}, axis, { size: 66, values: function (u, splits) { return splits.map(function (v) { return spec.format(v); }); } })
      ],
      series: [
        {},
        { label: 'blue', stroke: SLOT_COLOR.blue, width: 2, points: { show: false } },
        { label: 'green', stroke: SLOT_COLOR.green, width: 2, points: { show: false } }
      ].concat(chart.thresholds.map(function (th) {
        return { label: th.alarm + ' ' + th.bound, stroke: THRESHOLD_COLOR, width: 1.5, dash: [6, 4], points: { show: false } };
      }))
    }, [[], [], []].concat(chart.thresholds.map(function () { return []; })), chart.host);
    new ResizeObserver(function () {
      var width = chart.host.clientWidth;
      if (width > 0 && Math.abs(width - plot.width) > 1) plot.setSize({ width: width, height: 150 });
    }).observe(chart.host);
    return plot;
  }

  // ---- start ---------------------------------------------------------------------------

  function tokenChanged(next) {
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

  tokenForm.addEventListener('submit', function (event) {
    event.preventDefault();
    tokenChanged(tokenInput.value.trim());
  });
  document.getElementById('token-forget').addEventListener('click', function () { tokenChanged(''); });
  tokenInput.placeholder = token ? 'saved for this tab' : 'not set';

  setInterval(function () {
    cards.forEach(renderCountdown);
    if (stream.reading && Date.now() - stream.lastByteAt > STALL_MS) retryLater('no data for ' + STALL_MS / 1000 + ' s');
  }, 250);

  connect();
})();
`;
