/**
 * Admin page, setup: the tenant's setup as a tenant file (`GET /api/v1/tenant/config`),
 * saved with `PUT /api/v1/tenant/config` (checked by the server with `tenant apply`'s
 * code; its message is shown as is), and the audit log (`GET /api/v1/audit`) with what
 * each change added and removed.
 */
import { api } from '/common/api.js';
import { h } from '/common/dom.js';

const $ = (id) => document.getElementById(id);

function setupError(message) {
  $('setup-error').textContent = message;
  $('setup-error').hidden = !message;
}

/** Lines of `after` not in `before` (+) and of `before` not in `after` (-). */
function changes(before, after) {
  const was = new Set(before.split('\n'));
  const is = new Set(after.split('\n'));
  const removed = before.split('\n').filter((l) => l.trim() && !is.has(l)).map((l) => `- ${l}`);
  const added = after.split('\n').filter((l) => l.trim() && !was.has(l)).map((l) => `+ ${l}`);
  return [...removed, ...added].join('\n') || '(no line changed)';
}

async function loadAudit() {
  try {
    const { entries = [] } = await api('/api/v1/audit');
    $('audit-card').hidden = false;
    $('audit').replaceChildren(
      ...(entries.length
        ? entries.map((e) =>
            h(
              'tr',
              { dataset: { entry: String(e.id) } },
              h('td', { text: new Date(e.at).toLocaleString() }),
              h('td', { text: e.actor }),
              h(
                'td',
                {},
                h('details', {}, h('summary', { text: e.action }), h('pre', { class: 'audit-diff', text: changes(e.before, e.after) })),
              ),
            ),
          )
        : [h('tr', {}, h('td', { class: 'empty', colSpan: 3, text: 'No changes yet.' }))]),
    );
  } catch (err) {
    if (err.status === 401) location.replace('/');
  }
}

async function loadConfig() {
  const { toml } = await api('/api/v1/tenant/config');
  $('setup-toml').value = toml;
}

async function save(ev) {
  ev.preventDefault();
  setupError('');
  $('setup-status').textContent = 'Saving…';
  $('setup-users').hidden = true;
  try {
    const result = await api('/api/v1/tenant/config', { method: 'PUT', body: { toml: $('setup-toml').value } });
    $('setup-status').textContent = result.changed ? 'Saved.' : 'Saved; nothing changed.';
    if (result.new_users?.length) {
      $('setup-users').replaceChildren(
        h('p', {}, h('strong', { text: 'New users: copy their passwords now.' }), ' They are shown only once.'),
        ...result.new_users.map((u) => h('p', {}, h('code', { text: `${u.name}: ${u.password}` }))),
      );
      $('setup-users').hidden = false;
    }
    await loadConfig();
    loadAudit();
  } catch (err) {
    $('setup-status').textContent = '';
    if (err.status === 401) location.replace('/');
    else setupError(err.message);
  }
}

/** Shows the setup and the audit log (admins only; others get 403 and see neither). */
export async function loadSetup() {
  try {
    await loadConfig();
    $('setup-card').hidden = false;
    $('setup-form').addEventListener('submit', save);
    $('setup-reload').addEventListener('click', () => loadConfig().catch((err) => setupError(err.message)));
    loadAudit();
  } catch (err) {
    if (err.status === 401) location.replace('/');
  }
}
