/**
 * Supervisor live view: shows the queues (waiting, longest wait, available
 * agents, open or closed), the calls in progress (with "Listen" to hear both
 * parties, listen.js) and the agents (what they are doing, contacts).
 * The server pushes every routing transition on `GET /api/v1/live/events`
 * (server-sent events); each one refreshes the view from `GET /api/v1/live`
 * (at most every REFRESH_MS). A slow poll keeps the longest-wait clocks moving
 * and covers a dropped event stream.
 * Requires a supervisor or admin session; without a session it goes to sign-in.
 */
import { api, requireSession } from '/common/api.js';
import { h, formatDuration } from '/common/dom.js';
import { Listening } from './listen.js';

const POLL_MS = 10000;
const REFRESH_MS = 250;
const $ = (id) => document.getElementById(id);

/** First defined value among several possible field names. */
const pick = (obj, ...keys) => keys.map((k) => obj?.[k]).find((v) => v != null);

const STATE_BADGE = {
  available: 'ok', reserved: 'warn', busy: 'warn', wrap_up: 'warn', not_ready: 'warn', offline: '',
};

function queueRow(q) {
  const links = Array.isArray(q.links) ? q.links.filter(Boolean) : [];
  const id = pick(q, 'queue', 'id');
  const name = pick(q, 'name', 'queue_name', 'link_name') ?? (links.length ? links.join(', ') : `Queue ${id ?? '?'}`);
  const waiting = Number(pick(q, 'waiting', 'waiting_count') ?? 0);
  const longest = pick(q, 'longest_wait_seconds', 'longest_wait');
  // A count when the server gives one, else whether anyone is available.
  const count = pick(q, 'available_agents');
  const available = count != null
    ? h('span', { class: `badge ${count > 0 ? 'ok' : 'warn'}`, text: String(count) })
    : h('span', { class: `badge ${q.available ? 'ok' : 'warn'}`, text: q.available ? 'yes' : 'none' });
  return h(
    'tr',
    { dataset: { queue: String(id ?? name) } },
    h('th', { scope: 'row' }, String(name),
      links.length && name !== links.join(', ') ? h('span', { class: 'muted', text: ` (${links.join(', ')})` }) : null),
    h('td', { class: 'num' }, h('span', { class: `badge ${waiting > 0 ? 'warn' : ''}`, text: String(waiting) })),
    h('td', { class: 'num', text: waiting > 0 && longest != null ? formatDuration(longest) : '—' }),
    h('td', { class: 'num' }, available),
  );
}

function agentRow(a) {
  const name = pick(a, 'display_name', 'name') ?? '?';
  const state = String(pick(a, 'activity', 'state') ?? 'offline');
  const reason = pick(a, 'reason');
  const contacts = Array.isArray(a.contacts) ? a.contacts : [];
  const offered = pick(a, 'offered');
  return h(
    'tr',
    { dataset: { agent: String(pick(a, 'name') ?? name) } },
    h('th', { scope: 'row' }, String(name),
      a.display_name && a.name ? h('span', { class: 'muted', text: ` (${a.name})` }) : null),
    h('td', {},
      h('span', { class: `badge ${STATE_BADGE[state] ?? ''}`, text: state.replace(/_/g, ' ') }),
      reason ? h('span', { class: 'muted', text: ` ${String(reason).replace(/_/g, ' ')}` }) : null),
    h('td', {},
      contacts.map((c) => h('span', { class: 'chip', text: describeContact(c) })),
      offered != null ? h('span', { class: 'chip', text: `offered #${offered}` }) : null,
      !contacts.length && offered == null ? h('span', { class: 'muted', text: 'none' }) : null),
  );
}

/** Calls being listened to, by contact id. */
const listening = new Map();
let calls = [];

function callRow(c) {
  const id = pick(c, 'contact', 'id');
  const on = listening.has(id);
  const state = String(pick(c, 'state') ?? '');
  const since = Number(pick(c, 'since'));
  return h(
    'tr',
    { dataset: { contact: String(id) } },
    h('th', { scope: 'row', text: `#${id}` }),
    h('td', { text: c.media === 'video' ? 'Video' : 'Voice' }),
    h('td', { text: String(pick(c, 'agent_name', 'agent') ?? '—') }),
    h('td', {}, h('span', {
      class: `badge ${state === 'connected' ? 'ok' : state ? 'warn' : ''}`,
      text: state.replace(/_/g, ' ') || '—',
    })),
    h('td', { class: 'num', text: since > 0 ? formatDuration((Date.now() - since) / 1000) : '—' }),
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

function renderCalls() {
  fillTable($('calls'), calls.map(callRow), 'No calls in progress.', 6);
}

async function toggleListen(id) {
  const current = listening.get(id);
  if (current) {
    listening.delete(id);
    renderCalls();
    await current.stop().catch((err) => showError(`Could not stop listening: ${err.message}`));
    return;
  }
  const listen = new Listening(id, $('listen-audio'));
  listening.set(id, listen);
  renderCalls();
  try {
    await listen.start();
  } catch (err) {
    listening.delete(id);
    listen.stop().catch(() => {});
    renderCalls();
    showError(`Could not listen in: ${err.message}`);
  }
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = false;
}

function describeContact(c) {
  if (c == null || typeof c !== 'object') return `#${c}`;
  const id = pick(c, 'contact', 'id');
  const parts = [id != null ? `#${id}` : null, pick(c, 'link_name', 'link'), pick(c, 'state')];
  return parts.filter(Boolean).join(' · ');
}

function fillTable(tbody, rows, emptyText, columns) {
  tbody.replaceChildren(
    ...(rows.length ? rows : [h('tr', {}, h('td', { class: 'empty', colSpan: columns, text: emptyText }))]),
  );
}

async function poll() {
  try {
    const live = await api('/api/v1/live');
    const queues = Array.isArray(live?.queues) ? live.queues : [];
    const agents = Array.isArray(live?.agents) ? live.agents : [];
    fillTable($('queues'), queues.map(queueRow), 'No queues.', 4);
    fillTable($('agents'), agents.map(agentRow), 'No agents.', 3);
    calls = Array.isArray(live?.calls) ? live.calls : [];
    // A call that ended takes its listening leg with it.
    const ids = new Set(calls.map((c) => pick(c, 'contact', 'id')));
    for (const [id, listen] of listening) {
      if (!ids.has(id)) {
        listening.delete(id);
        listen.stop().catch(() => {});
      }
    }
    renderCalls();
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    $('error').hidden = true;
  } catch (err) {
    if (err.status === 401) {
      location.replace('/');
      return;
    }
    $('error').textContent =
      err.status === 403 ? 'The live view needs a supervisor or admin account.' : `Could not refresh: ${err.message}`;
    $('error').hidden = false;
    if (err.status === 403) return; // no point polling
  }
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, POLL_MS);
}

let pollTimer;
let refreshPending = false;

/** Refresh soon after a pushed event, coalescing bursts. */
function refreshSoon() {
  if (refreshPending) return;
  refreshPending = true;
  setTimeout(() => {
    refreshPending = false;
    poll();
  }, REFRESH_MS);
}

function listen() {
  const events = new EventSource('/api/v1/live/events');
  events.addEventListener('stat', refreshSoon);
  events.addEventListener('lagged', refreshSoon);
  // EventSource reconnects by itself; the slow poll covers the gap.
}

const user = await requireSession();
$('user-name').textContent = user.display_name || user.name;
$('nav-admin').hidden = user.role !== 'admin';
poll();
listen();
setInterval(() => calls.length && renderCalls(), 1000); // keep durations moving
