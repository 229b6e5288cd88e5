/**
 * Admin page: the tenant's links (`GET /api/v1/links`) with a ready-to-paste widget
 * snippet each; API keys: creation (`POST /api/v1/api-keys`, shown once, with an
 * optional expiry and the `recordings` scope), the list (`GET /api/v1/api-keys`)
 * and deletion (`DELETE /api/v1/api-keys/{id}`); staff (`GET /api/v1/users`),
 * disabled and enabled with `POST /api/v1/users/{name}/disable|enable`; the
 * setup as a tenant file and the audit log (`setup.js`); the webhook delivery log
 * (`webhooks.js`).
 * Requires a session; without one it goes to sign-in.
 */
import { api, requireSession } from '/common/api.js';
import { h } from '/common/dom.js';
import { loadSetup } from '/admin/setup.js';
import { loadWebhooks } from '/admin/webhooks.js';

const $ = (id) => document.getElementById(id);
const pick = (obj, ...keys) => keys.map((k) => obj?.[k]).find((v) => v != null);

/**
 * Where the public listener serves the widget: the server's `public_url` when the
 * links answer carries one, else the default layout (agent :8081, public :8080),
 * else a placeholder for the operator to fill in.
 */
function publicOrigin(data) {
  const given = pick(data, 'public_url', 'public_origin');
  if (given) return String(given).replace(/\/$/, '');
  const u = new URL(location.href);
  if (u.port === '8081') {
    u.port = '8080';
    return u.origin;
  }
  return 'https://YOUR-SWITCHBOARD-HOST';
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

function availability(link) {
  const available = pick(link, 'available');
  const wait = pick(link, 'wait_seconds');
  if (available == null) return h('span', { class: 'muted', text: '—' });
  if (!available) return h('span', { class: 'badge warn', text: 'No one available' });
  return h('span', { class: 'badge ok', text: wait > 30 ? `Wait about ${Math.ceil(wait / 60)} min` : 'Available now' });
}

async function loadLinks(tenant) {
  try {
    const data = await api('/api/v1/links');
    const links = Array.isArray(data) ? data : Array.isArray(data?.links) ? data.links : [];
    const origin = publicOrigin(Array.isArray(data) ? null : data);
    $('links').replaceChildren(
      ...(links.length
        ? links.map((link) => {
            const slug = String(pick(link, 'slug', 'link', 'id') ?? '');
            const snippet = `<script src="${origin}/widget.js" data-tenant="${tenant}" data-link="${slug}" async></script>`;
            return h(
              'tr',
              { dataset: { link: slug } },
              h('th', { scope: 'row' }, h('code', { text: slug })),
              h('td', { text: String(pick(link, 'name', 'link_name') ?? '') }),
              h('td', {}, availability(link)),
              h('td', {}, h('code', { class: 'snippet', text: snippet })),
            );
          })
        : [h('tr', {}, h('td', { class: 'empty', colSpan: 4, text: 'No links yet.' }))]),
    );
  } catch (err) {
    if (err.status === 401) location.replace('/');
    else showError(`Could not load links: ${err.message}`);
  }
}

const day = (ms) => (ms == null ? '—' : new Date(ms).toLocaleDateString());

function failed(err, what) {
  if (err.status === 401) location.replace('/');
  else showError(`${what}: ${err.message}`);
}

async function loadKeys() {
  try {
    const { api_keys: keys = [] } = await api('/api/v1/api-keys');
    $('keys').replaceChildren(
      ...(keys.length
        ? keys.map((key) =>
            h(
              'tr',
              { dataset: { key: String(key.id) } },
              h('th', { scope: 'row', text: key.name }),
              h('td', { text: day(key.created_at) }),
              h('td', {}, key.expired ? h('span', { class: 'badge danger', text: 'Expired' }) : day(key.expires_at)),
              h('td', { text: key.scopes.join(', ') || '—' }),
              h(
                'td',
                {},
                h('button', {
                  type: 'button',
                  class: 'btn danger',
                  text: 'Delete',
                  on: {
                    click: async () => {
                      if (!confirm(`Delete the API key "${key.name}"? Systems using it stop working at once.`)) return;
                      try {
                        await api(`/api/v1/api-keys/${key.id}`, { method: 'DELETE' });
                        loadKeys();
                      } catch (err) {
                        failed(err, 'Could not delete the key');
                      }
                    },
                  },
                }),
              ),
            ),
          )
        : [h('tr', {}, h('td', { class: 'empty', colSpan: 5, text: 'No API keys.' }))]),
    );
  } catch (err) {
    if (err.status !== 403) failed(err, 'Could not load API keys');
  }
}

async function loadStaff(me) {
  try {
    const { users = [] } = await api('/api/v1/users');
    $('staff').replaceChildren(
      ...users.map((u) => {
        const action = u.disabled ? 'enable' : 'disable';
        return h(
          'tr',
          { dataset: { user: u.name } },
          h('th', { scope: 'row', text: u.display_name ? `${u.display_name} (${u.name})` : u.name }),
          h('td', { text: u.role }),
          h('td', {}, u.disabled ? h('span', { class: 'badge danger', text: 'Disabled' }) : h('span', { class: 'badge ok', text: 'Active' })),
          h(
            'td',
            {},
            u.name === me
              ? null
              : h('button', {
                  type: 'button',
                  class: u.disabled ? 'btn' : 'btn danger',
                  text: u.disabled ? 'Enable' : 'Disable',
                  on: {
                    click: async () => {
                      try {
                        await api(`/api/v1/users/${encodeURIComponent(u.name)}/${action}`, { method: 'POST' });
                        loadStaff(me);
                      } catch (err) {
                        failed(err, `Could not ${action} ${u.name}`);
                      }
                    },
                  },
                }),
          ),
        );
      }),
    );
  } catch (err) {
    if (err.status !== 403) failed(err, 'Could not load staff');
  }
}

$('key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('key-name').value.trim();
  if (!name) return;
  const button = ev.submitter;
  if (button) button.disabled = true;
  showError('');
  const body = { name };
  // The end of the chosen day, local time.
  if ($('key-expires').value) body.expires_at = new Date(`${$('key-expires').value}T23:59:59`).getTime();
  if ($('key-recordings').checked) body.scopes = ['recordings'];
  try {
    const { key } = await api('/api/v1/api-keys', { method: 'POST', body });
    $('key-value').value = key;
    $('key-result').hidden = false;
    $('key-name').value = '';
    $('key-expires').value = '';
    $('key-recordings').checked = false;
    $('key-value').select();
    loadKeys();
  } catch (err) {
    if (err.status === 401) location.replace('/');
    else showError(err.status === 403 ? 'Only admins can create API keys.' : err.message);
  } finally {
    if (button) button.disabled = false;
  }
});

$('key-copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText($('key-value').value);
    $('key-copy').textContent = 'Copied';
  } catch {
    $('key-value').select(); // clipboard blocked: leave it selected for Ctrl+C
  }
});

const user = await requireSession();
$('user-name').textContent = user.display_name || user.name;
$('nav-supervisor').hidden = !['supervisor', 'admin'].includes(user.role);
$('refresh-links').addEventListener('click', () => loadLinks(user.tenant));
loadLinks(user.tenant);
if (user.role === 'admin') {
  loadKeys();
  loadStaff(user.name);
  loadSetup();
  loadWebhooks(showError);
}
