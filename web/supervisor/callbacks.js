/**
 * Supervisor page: the tenant's callbacks (issue 14 item 5), from
 * GET /api/v1/callbacks: pending, scheduled, in progress and failed, per
 * queue, with the time each is due and its attempts; a supervisor moves one
 * (POST /api/v1/callbacks/{id}/reschedule, "as soon as possible" or a time
 * in their own zone) or cancels it (POST /api/v1/callbacks/{id}/cancel).
 * Refreshed every 15 s and after each change; the section places itself
 * before the reports.
 */
import { api } from '/common/api.js';
import { h } from '/common/dom.js';

const REFRESH_MS = 15_000;
const STATUS_BADGE = { pending: 'warn', scheduled: '', in_progress: 'ok', failed: 'danger' };
const when = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});

const section = h(
  'section',
  { class: 'card', dataset: { testid: 'callbacks' }, attrs: { 'aria-labelledby': 'callbacks-title' } },
  h('h2', { id: 'callbacks-title', text: 'Callbacks' }),
  h('p', { class: 'notice error', dataset: { testid: 'callbacks-error' }, attrs: { role: 'alert' }, hidden: true }),
  h('div', { dataset: { testid: 'callbacks-queues' } }),
);
const errorLine = section.querySelector('[data-testid=callbacks-error]');
const queues = section.querySelector('[data-testid=callbacks-queues]');

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = !text;
}

/** A `datetime-local` value in the supervisor's zone for `ms`. */
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

async function act(path, body) {
  showError('');
  try {
    await api(path, { method: 'POST', body });
  } catch (e) {
    showError(e.message);
  }
  await refresh();
}

function row(c) {
  const due = c.scheduled_for ?? c.requested_at;
  const picker = h('input', {
    type: 'datetime-local',
    value: localInput(Math.max(due, Date.now() + 3_600_000)),
    dataset: { testid: 'callback-at' },
    attrs: { 'aria-label': `New time for callback ${c.contact}` },
  });
  const live = c.status === 'pending' || c.status === 'scheduled';
  return h(
    'tr',
    { dataset: { contact: String(c.contact), status: c.status } },
    h('td', { text: String(c.contact) }),
    h('td', {}, h('span', { class: `badge ${STATUS_BADGE[c.status] ?? ''}`, dataset: { testid: 'callback-status' }, text: c.status.replace('_', ' ') })),
    h('td', { text: c.phone }),
    h('td', { dataset: { testid: 'callback-due' }, text: c.scheduled_for ? when.format(new Date(c.scheduled_for)) : 'as soon as possible' }),
    h('td', { class: 'num', text: String(c.attempts) }),
    h(
      'td',
      {},
      live ? picker : null,
      live
        ? h('button', {
          type: 'button', class: 'btn', text: 'Move', dataset: { testid: 'callback-reschedule' },
          on: { click: () => act(`/api/v1/callbacks/${c.contact}/reschedule`, { at: new Date(picker.value).getTime() }) },
        })
        : null,
      live
        ? h('button', {
          type: 'button', class: 'btn', text: 'Now', dataset: { testid: 'callback-now' },
          on: { click: () => act(`/api/v1/callbacks/${c.contact}/reschedule`, { at: null }) },
        })
        : null,
      c.status !== 'failed'
        ? h('button', {
          type: 'button', class: 'btn', text: 'Cancel', dataset: { testid: 'callback-cancel' },
          on: { click: () => act(`/api/v1/callbacks/${c.contact}/cancel`) },
        })
        : null,
    ),
  );
}

function render(list) {
  const byQueue = new Map();
  for (const c of list) {
    if (!byQueue.has(c.queue)) byQueue.set(c.queue, []);
    byQueue.get(c.queue).push(c);
  }
  queues.replaceChildren(
    ...(byQueue.size ? [] : [h('p', { class: 'muted', text: 'No callbacks waiting or failed.' })]),
    ...[...byQueue].map(([queue, rows]) =>
      h('div', { dataset: { queue } },
        h('h3', { text: queue }),
        h('table', {},
          h('thead', {}, h('tr', {},
            ...['Contact', 'Status', 'Number', 'Due', 'Attempts', ''].map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, ...rows.map(row))))),
  );
}

async function refresh() {
  try {
    const data = await api('/api/v1/callbacks');
    render(data.callbacks || []);
  } catch (e) {
    showError(e.message);
  }
}

const reports = document.querySelector('[data-testid=reports]');
if (reports) reports.before(section);
else document.querySelector('main')?.append(section);
refresh();
setInterval(refresh, REFRESH_MS);
