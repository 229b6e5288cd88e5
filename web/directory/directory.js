/**
 * The directory page: the tenant's listed members with their permanent
 * numbers and a live presence mark (002's merged permanent and dynamic
 * directories). The list comes from `GET /api/v1/directory` (paged,
 * searchable by name or number); presence changes arrive on
 * `GET /api/v1/directory/events` (server-sent events) and update the marks in
 * place. While the page is open it sends the viewer's own heartbeat
 * (`POST /api/v1/directory/heartbeat`), so staff show online here too.
 * Admins also enrol members (`POST /api/v1/members`) and move numbers
 * (`POST /api/v1/numbers/{number}/move`) from here. Members call each other
 * by number from here (`phone.js`) and find their messages (`mailbox.js`).
 */
import { api, requireSession, ApiError } from '/common/api.js';
import { h, formatTime } from '/common/dom.js';
import { Phone } from '/directory/phone.js';
import { Mailbox } from '/directory/mailbox.js';

const PAGE = 50;
/** Well inside the server's one-minute heartbeat lifetime. */
const HEARTBEAT_MS = 20000;
const SEARCH_DELAY_MS = 200;
const $ = (id) => document.getElementById(id);

const BADGE = { online: 'ok', busy: 'warn', away: 'warn', offline: '' };

let offset = 0;
let searchTimer = null;
/** member id -> its presence cell pair, for live updates. */
const rows = new Map();
/** The signed-in user's name (no Call button on their own row). */
let me = null;
let phone = null;
let mailbox = null;

function showError(err) {
  const box = $('error');
  box.textContent = err ? (err.message || String(err)) : '';
  box.hidden = !err;
}

function presenceCells(presence) {
  const status = presence?.status || 'offline';
  const mark = h('span', { class: `badge ${BADGE[status] ?? ''}`, text: status, dataset: { status } });
  const seen = presence?.last_seen ? formatTime(presence.last_seen) : '—';
  return [h('td', {}, mark), h('td', { text: status === 'offline' ? seen : 'now' })];
}

function memberRow(m) {
  const [mark, seen] = presenceCells(m.presence);
  const row = h(
    'tr',
    { dataset: { member: String(m.id), name: m.name } },
    mark,
    h('th', { scope: 'row' }, m.display_name, h('span', { class: 'muted', text: ` (${m.name})` })),
    h('td', { text: (m.numbers || []).join(', ') || '—' }),
    seen,
    h(
      'td',
      {},
      m.numbers?.length && m.name !== me
        ? h('button', {
          type: 'button',
          text: 'Call',
          dataset: { testid: `call-${m.name}` },
          on: { click: () => phone.call(m.numbers[0], m.display_name) },
        })
        : null,
    ),
  );
  rows.set(m.id, row);
  return row;
}

function applyPresence(change) {
  const row = rows.get(change.member);
  if (!row) return;
  const [mark, seen] = presenceCells(change);
  row.replaceChild(mark, row.cells[0]);
  row.replaceChild(seen, row.cells[3]);
}

async function load() {
  const q = $('search').value.trim();
  const params = new URLSearchParams({ q, offset: String(offset), limit: String(PAGE) });
  try {
    const { members } = await api(`/api/v1/directory?${params}`);
    rows.clear();
    $('members').replaceChildren(
      ...(members.length
        ? members.map(memberRow)
        : [h('tr', {}, h('td', { colspan: '5', class: 'muted', text: 'No members found.' }))]),
    );
    $('prev').disabled = offset === 0;
    $('next').disabled = members.length < PAGE;
    showError(null);
  } catch (err) {
    showError(err);
  }
}

function watch() {
  const events = new EventSource('/api/v1/directory/events');
  events.addEventListener('presence', (e) => {
    try {
      applyPresence(JSON.parse(e.data));
    } catch {
      // A malformed event changes nothing; the next load corrects the view.
    }
  });
  events.addEventListener('call', (e) => {
    try {
      phone.notice(JSON.parse(e.data));
    } catch (err) {
      showError(err);
    }
  });
  events.addEventListener('lagged', () => {
    load();
    mailbox.load().catch(showError);
  });
  // EventSource reconnects by itself; reload then so nothing missed stays stale.
  events.addEventListener('open', () => load());
}

async function heartbeat() {
  try {
    await api('/api/v1/directory/heartbeat', { method: 'POST', body: { status: $('my-status').value } });
  } catch (err) {
    // Staff who are no directory member have no presence to send.
    if (!(err instanceof ApiError && err.status === 404)) showError(err);
  }
}

/** The admin forms: each posts, says what happened, and reloads the list. */
function adminForms() {
  $('admin').hidden = false;
  const result = $('admin-result');
  const submit = (form, send) => form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      result.textContent = await send(data);
      form.reset();
      await load();
    } catch (err) {
      result.textContent = err.message || String(err);
    }
  });
  submit($('enrol'), async (data) => {
    const body = { name: data.get('name').trim(), listed: data.get('listed') === 'on' };
    const display = data.get('display_name').trim();
    const vanity = data.get('vanity').trim();
    if (display) body.display_name = display;
    if (vanity) body.vanity = vanity;
    const { member, number } = await api('/api/v1/members', { method: 'POST', body });
    return `${member.display_name} enrolled with number ${number}.`;
  });
  submit($('move'), async (data) => {
    const number = data.get('number').trim();
    const to = data.get('to').trim();
    await api(`/api/v1/numbers/${encodeURIComponent(number)}/move`, { method: 'POST', body: { to } });
    return `Number ${number} moved to ${to}.`;
  });
}

/** The ring mode and greeting form. */
async function callSettings() {
  const form = $('call-settings');
  try {
    const settings = await api('/api/v1/directory/settings');
    form.elements.ring_mode.value = settings.ring_mode;
    form.elements.greeting.value = settings.greeting;
    form.elements.email.value = settings.email;
  } catch {
    return; // no member: no settings
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {
      ring_mode: form.elements.ring_mode.value,
      greeting: form.elements.greeting.value,
      email: form.elements.email.value,
    };
    try {
      await api('/api/v1/directory/settings', { method: 'PUT', body });
      $('settings-result').textContent = 'Saved.';
    } catch (err) {
      $('settings-result').textContent = err.message || String(err);
    }
  });
}

async function main() {
  const user = await requireSession();
  me = user.name;
  $('user-name').textContent = user.display_name || user.name;
  mailbox = new Mailbox({
    section: $('mailbox'),
    notice: $('mailbox-notice'),
    list: $('mailbox-list'),
    audio: $('mail-audio'),
    canvas: $('mail-video'),
    status: $('mail-status'),
  });
  phone = new Phone(
    {
      panel: $('call-panel'),
      status: $('call-status'),
      accept: $('call-accept'),
      decline: $('call-decline'),
      hangup: $('call-hangup'),
      remoteAudio: $('call-remote-audio'),
      remoteVideo: $('call-remote-video'),
      localVideo: $('call-local-video'),
    },
    (message) => {
      mailbox.load().catch(showError);
      $('mail-status').textContent = `New message from ${message.caller}.`;
    },
  );
  mailbox.load().catch(showError);
  callSettings();
  if (user.role === 'admin') {
    $('nav-admin').hidden = false;
    adminForms();
  }
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { offset = 0; load(); }, SEARCH_DELAY_MS);
  });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
  $('next').addEventListener('click', () => { offset += PAGE; load(); });
  $('my-status').addEventListener('change', heartbeat);
  await load();
  watch();
  heartbeat();
  setInterval(heartbeat, HEARTBEAT_MS);
}

main().catch(showError);
