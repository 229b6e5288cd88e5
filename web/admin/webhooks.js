/**
 * Admin page, webhooks: the endpoints, how many events wait, and the delivery log
 * (`GET /api/v1/webhooks/deliveries`, newest first, paged back with `before`).
 */
import { api } from '/common/api.js';
import { h } from '/common/dom.js';

const $ = (id) => document.getElementById(id);

function row(line) {
  const ok = line.status != null && line.status >= 200 && line.status < 300;
  const answer = line.status != null ? String(line.status) : 'no answer';
  return h(
    'tr',
    { dataset: { event: line.event, type: line.type } },
    h('td', { text: new Date(line.at).toLocaleString() }),
    h('td', {}, h('code', { text: line.type })),
    h('td', { class: 'hook-url', text: line.endpoint ?? '(removed)' }),
    h('td', { text: String(line.attempt) }),
    h('td', { title: line.error ?? '' }, h('span', { class: ok ? 'badge ok' : 'badge danger', text: answer }), line.error ? ` ${line.error}` : ''),
    h('td', { text: `${line.duration_ms} ms` }),
    h('td', { text: line.state ?? '' }),
  );
}

/** Loads the first page (or, with `before`, the next older one). */
export async function loadWebhooks(showError, before = null) {
  try {
    const data = await api(`/api/v1/webhooks/deliveries${before ? `?before=${before}` : ''}`);
    $('hooks-card').hidden = false;
    if (!before) {
      $('hook-endpoints').replaceChildren(
        ...(data.endpoints.length
          ? data.endpoints.map((e) => h('li', {}, h('code', { text: e.url }), ` ${e.events.join(', ')}`))
          : [h('li', { class: 'muted', text: 'No endpoints.' })]),
      );
      $('hook-pending').textContent = `${data.pending} event${data.pending === 1 ? '' : 's'} waiting for delivery.`;
      $('hook-log').replaceChildren();
    }
    $('hook-log').append(...data.attempts.map(row));
    if (!$('hook-log').children.length) {
      $('hook-log').append(h('tr', {}, h('td', { class: 'empty', colSpan: 7, text: 'Nothing delivered yet.' })));
    }
    const older = $('hook-older');
    older.hidden = data.next_before == null;
    older.onclick = () => loadWebhooks(showError, data.next_before);
    $('refresh-hooks').onclick = () => loadWebhooks(showError);
  } catch (err) {
    if (err.status === 401) location.replace('/');
    else if (err.status !== 403) showError(`Could not load the webhook log: ${err.message}`);
  }
}
