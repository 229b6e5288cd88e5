/**
 * Supervisor live view: the wallboard the server pushes on `/ws/supervisor`
 * (docs/protocol.md, "Supervisor wallboard"): queues (waiting, longest and
 * estimated wait, today's service level, answered and abandoned, available
 * agents; amber or red at the queue's limits), agents (state, time in state,
 * contacts; a supervisor may set their state), the contacts waiting (a
 * supervisor may move one to another queue or change its priority) and calls
 * in progress (with "Listen", listen.js). Nothing is polled: each change in the center arrives
 * as a new board; the clocks (waits, time in state, durations) tick here
 * between boards. The filters narrow the board to one center or queue.
 * Requires a supervisor or admin session; without a session it goes to sign-in.
 */
import { api, requireSession } from '/common/api.js';
import { h, formatDuration } from '/common/dom.js';
import { Listening } from './listen.js';

const $ = (id) => document.getElementById(id);
/** Reconnection delays after the socket drops, growing to the last. */
const RETRY_MS = [500, 1000, 2000, 5000];

const STATE_BADGE = {
  available: 'ok', reserved: 'warn', busy: 'warn', wrap_up: 'warn', not_ready: 'warn', offline: '',
};
const ALERT_BADGE = { ok: '', amber: 'warn', red: 'danger' };

/** The latest board and when it arrived (local clock: no skew with the server's). */
let board = null;
let receivedAt = 0;

/** Seconds since the board was built, to move its clocks on. */
const elapsed = () => (Date.now() - receivedAt) / 1000;

/**
 * A duration that keeps counting: `seconds` as of the board, moved on by
 * `tick` (which touches only these cells, so a menu left open stays open).
 */
function clockCell(seconds, dataset = {}) {
  if (seconds == null) return h('td', { class: 'num', dataset, text: '—' });
  return h('td', { class: 'num', dataset: { ...dataset, clock: String(seconds) }, text: formatDuration(seconds + elapsed()) });
}

function tick() {
  for (const cell of document.querySelectorAll('td[data-clock]')) {
    cell.textContent = formatDuration(Number(cell.dataset.clock) + elapsed());
  }
}

function queueRow(q) {
  const waiting = Number(q.waiting ?? 0);
  const longest = waiting > 0 ? Number(q.longest_wait_seconds ?? 0) : null;
  const sl = q.service_level == null ? '—' : `${Math.round(q.service_level * 100)} %`;
  const alert = q.alert ?? 'ok';
  return h(
    'tr',
    { class: `alert-${alert}`, dataset: { queue: q.name, alert } },
    h('th', { scope: 'row' }, q.name,
      alert !== 'ok' ? h('span', { class: `badge ${ALERT_BADGE[alert]}`, dataset: { testid: 'queue-alert' }, text: alert }) : null,
      q.open === false ? h('span', { class: 'muted', text: ' (closed)' }) : null),
    h('td', { class: 'num', dataset: { testid: 'queue-waiting' } },
      h('span', { class: `badge ${waiting > 0 ? 'warn' : ''}`, text: String(waiting) })),
    clockCell(longest, { testid: 'queue-longest' }),
    h('td', { class: 'num', text: waiting > 0 || q.estimated_wait_seconds ? formatDuration(q.estimated_wait_seconds) : '—' }),
    h('td', { class: 'num', title: `answered within ${q.service_level_secs} s`, dataset: { testid: 'queue-sl' }, text: sl }),
    h('td', { class: 'num', dataset: { testid: 'queue-answered' }, text: String(q.answered_today ?? 0) }),
    h('td', { class: 'num', dataset: { testid: 'queue-abandoned' }, text: String(q.abandoned_today ?? 0) }),
    h('td', { class: 'num' },
      h('span', { class: `badge ${q.available_agents > 0 ? 'ok' : 'warn'}`, text: String(q.available_agents ?? 0) })),
  );
}

/** The states a supervisor may put an agent in, as the route names them. */
const SET_STATES = [['available', 'Available'], ['away', 'Away'], ['offline', 'Offline']];

function agentRow(a) {
  const state = String(a.activity ?? 'offline');
  const inState = a.since ? (board.at - a.since) / 1000 : null;
  const contacts = Array.isArray(a.contacts) ? a.contacts : [];
  const select = h('select', {
    dataset: { testid: 'agent-set-state', agent: a.name },
    attrs: { 'aria-label': `Set ${a.display_name}'s state` },
  }, h('option', { value: '', text: 'Set…' }), SET_STATES.map(([value, text]) => h('option', { value, text })));
  select.addEventListener('change', () => setState(a.name, select));
  return h(
    'tr',
    { dataset: { agent: a.name } },
    h('th', { scope: 'row' }, a.display_name, h('span', { class: 'muted', text: ` (${a.name})` })),
    h('td', { dataset: { testid: 'agent-state' } },
      h('span', { class: `badge ${STATE_BADGE[state] ?? ''}`, text: state.replace(/_/g, ' ') }),
      a.reason ? h('span', { class: 'muted', text: ` ${String(a.reason).replace(/_/g, ' ')}` }) : null),
    clockCell(inState, { testid: 'agent-time-in-state' }),
    h('td', { dataset: { testid: 'agent-contacts' } },
      contacts.map((c) => h('span', { class: 'chip', text: `#${c}` })),
      a.offered != null ? h('span', { class: 'chip', text: `offered #${a.offered}` }) : null,
      !contacts.length && a.offered == null ? h('span', { class: 'muted', text: 'none' }) : null),
    h('td', {}, select),
  );
}

async function setState(agent, select) {
  const state = select.value;
  if (!state) return;
  select.disabled = true;
  try {
    await api(`/api/v1/agents/${encodeURIComponent(agent)}/state`, { method: 'POST', body: { state } });
    $('error').hidden = true;
  } catch (err) {
    showError(`Could not set ${agent}'s state: ${err.message}`);
  } finally {
    select.value = '';
    select.disabled = false;
  }
}

/** A waiting contact with the supervisor's controls: move to a queue, set its priority. */
function waitingRow(w) {
  const others = [...queueNames].filter((q) => q !== w.queue).sort();
  const move = h('select', {
    dataset: { testid: 'waiting-move', contact: String(w.contact) },
    attrs: { 'aria-label': `Move contact ${w.contact} to another queue` },
  }, h('option', { value: '', text: 'Move to…' }), others.map((q) => h('option', { value: q, text: q })));
  move.addEventListener('change', () => {
    if (move.value) moveContact(w.contact, { queue: move.value }, move);
  });
  const priority = h('input', {
    type: 'number', min: -100, max: 100, step: 1, value: String(w.priority ?? 0), class: 'priority',
    dataset: { testid: 'waiting-priority', contact: String(w.contact) },
    attrs: { 'aria-label': `Priority of contact ${w.contact}` },
  });
  const set = h('button', {
    type: 'button', class: 'btn', text: 'Set',
    dataset: { testid: 'waiting-priority-set', contact: String(w.contact) },
    on: { click: () => moveContact(w.contact, { priority: Number(priority.value) }, set) },
  });
  return h(
    'tr',
    { dataset: { contact: String(w.contact) } },
    h('th', { scope: 'row', text: `#${w.contact}` }),
    h('td', { text: w.queue }),
    h('td', { text: w.media }),
    clockCell(w.since ? (board.at - w.since) / 1000 : null),
    h('td', { class: 'num', dataset: { testid: 'waiting-position' }, text: w.position != null ? String(w.position) : '—' }),
    h('td', {}, move),
    h('td', {}, priority, ' ', set),
  );
}

async function moveContact(contact, body, control) {
  control.disabled = true;
  try {
    await api(`/api/v1/contacts/${encodeURIComponent(contact)}/move`, { method: 'POST', body });
    $('error').hidden = true;
  } catch (err) {
    showError(`Could not move contact #${contact}: ${err.message}`);
  } finally {
    control.disabled = false;
    // Let the board redraw the waiting contacts (see render).
    if ($('waiting').contains(document.activeElement)) document.activeElement.blur();
    render();
  }
}

/** Calls being listened to, by contact id. */
const listening = new Map();

function callRow(c) {
  const id = c.contact;
  const on = listening.has(id);
  const state = String(c.state ?? '');
  const since = Number(c.since);
  return h(
    'tr',
    { dataset: { contact: String(id) } },
    h('th', { scope: 'row', text: `#${id}` }),
    h('td', { text: c.media === 'video' ? 'Video' : 'Voice' }),
    h('td', { text: String(c.agent ?? '—') }),
    h('td', {}, h('span', {
      class: `badge ${state === 'connected' ? 'ok' : state ? 'warn' : ''}`,
      text: state.replace(/_/g, ' ') || '—',
    })),
    clockCell(since > 0 ? (board.at - since) / 1000 : null),
    h('td', {}, h('button', {
      type: 'button',
      class: `btn${on ? ' danger' : ''}`,
      dataset: { testid: 'call-listen', contact: String(id) },
      attrs: { 'aria-pressed': String(on) },
      text: on ? 'Stop' : 'Listen',
      on: { click: () => toggleListen(id) },
    })),
  );
}

async function toggleListen(id) {
  const current = listening.get(id);
  if (current) {
    listening.delete(id);
    render();
    await current.stop().catch((err) => showError(`Could not stop listening: ${err.message}`));
    return;
  }
  const listen = new Listening(id, $('listen-audio'));
  listening.set(id, listen);
  render();
  try {
    await listen.start();
  } catch (err) {
    listening.delete(id);
    listen.stop().catch(() => {});
    render();
    showError(`Could not listen in: ${err.message}`);
  }
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function fillTable(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { class: 'empty', colSpan: columns, text: emptyText }))]),
  );
}

/** Keeps a filter's options in step with the board's centers and queues. */
function fillOptions(select, names, allText) {
  const want = ['', ...names];
  const have = [...select.options].map((o) => o.value);
  if (want.join('\n') === have.join('\n')) return;
  const chosen = select.value;
  select.replaceChildren(...want.map((v) => h('option', { value: v, text: v || allText })));
  select.value = want.includes(chosen) ? chosen : '';
}

/** Every queue name the tenant has (the board may be filtered to one). */
const queueNames = new Set();

function render() {
  if (!board) return;
  fillTable($('queues'), board.queues.map(queueRow), 'No queues.', 8);
  fillTable($('agents'), board.agents.map(agentRow), 'No agents.', 5);
  fillTable($('calls'), board.calls.map(callRow), 'No calls in progress.', 6);
  // Not while the supervisor is choosing a queue or typing a priority there.
  const active = document.activeElement;
  if (!($('waiting').contains(active) && ['SELECT', 'INPUT'].includes(active.tagName))) {
    fillTable($('waiting'), (board.waiting ?? []).map(waitingRow), 'Nobody is waiting.', 7);
  }
}

function onBoard(next) {
  board = next;
  receivedAt = Date.now();
  fillOptions($('filter-center'), board.centers ?? [], 'All centers');
  for (const q of board.queues) queueNames.add(q.name);
  fillOptions($('filter-queue'), [...queueNames].sort(), 'All queues');
  // A call that ended takes its listening leg with it (a filtered board
  // may not show every call, so only a whole board decides).
  if (!board.filter?.center && !board.filter?.queue) {
    const ids = new Set(board.calls.map((c) => c.contact));
    for (const [id, listen] of listening) {
      if (!ids.has(id)) {
        listening.delete(id);
        listen.stop().catch(() => {});
      }
    }
  }
  render();
  $('updated').textContent = `Updated ${new Date(receivedAt).toLocaleTimeString()}`;
  $('updated').dataset.at = String(board.at);
  $('error').hidden = true;
}

let socket = null;
let retries = 0;

function sendFilter() {
  if (socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({
    type: 'filter',
    center: $('filter-center').value || null,
    queue: $('filter-queue').value || null,
  }));
}

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/supervisor`;
  const ws = (socket = new WebSocket(url));
  ws.onopen = () => {
    retries = 0;
    sendFilter();
  };
  ws.onmessage = (e) => {
    const frame = JSON.parse(e.data);
    if (frame.type === 'wallboard') onBoard(frame);
    else if (frame.type === 'error') showError(`The wallboard refused a request: ${frame.message}`);
  };
  ws.onclose = (e) => {
    socket = null;
    if (e.code === 4001) {
      location.replace('/'); // the session ended
      return;
    }
    $('updated').textContent = 'Reconnecting…';
    setTimeout(connect, RETRY_MS[Math.min(retries++, RETRY_MS.length - 1)]);
  };
}

const user = await requireSession();
$('user-name').textContent = user.display_name || user.name;
$('nav-admin').hidden = user.role !== 'admin';
if (user.role === 'agent') {
  showError('The live view needs a supervisor or admin account.');
} else {
  $('filter-center').addEventListener('change', sendFilter);
  $('filter-queue').addEventListener('change', sendFilter);
  connect();
  setInterval(tick, 1000); // keep the clocks moving between boards
}
