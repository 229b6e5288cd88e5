/**
 * `<sb-screen-pop>`: everything the agent should know before answering.
 *
 * Set `element.data = screenpop` (the shape in docs/protocol.md). Renders in light
 * DOM so the console's stylesheet applies; all values go in as text nodes.
 */
import { h, safeLink, formatTime } from '/common/dom.js';

class ScreenPop extends HTMLElement {
  #data = null;

  get data() {
    return this.#data;
  }

  set data(pop) {
    this.#data = pop || null;
    this.render();
  }

  connectedCallback() {
    this.classList.add('screenpop');
    if (!this.hasAttribute('role')) this.setAttribute('role', 'region');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Customer details');
    this.render();
  }

  render() {
    const pop = this.#data;
    if (!pop) {
      this.replaceChildren(h('p', { class: 'empty', text: 'No customer selected.' }));
      return;
    }
    const sections = [
      whisperLine(pop),
      identitySection(pop.identity, pop.phone, pop.customer),
      phoneSection(pop.phone, pop.customer),
      crmSection(pop.customer, pop.identity),
      pageSection(pop),
      sharedSection(pop.shared),
      pagesSection(pop.pages),
      previousSection(pop.previous),
    ];
    this.replaceChildren(...sections.filter(Boolean));
  }
}

/** The line an agent reads first on a callback: who it is for and why
 * ("Callback for Dana Demo: question about order 5531"). The name comes from
 * the CRM or the visitor's identity, else the masked number the console put
 * in `callback_for`. */
function whisperLine(pop) {
  const reason = typeof pop.callback_reason === 'string' ? pop.callback_reason.trim() : '';
  if (!reason && !pop.callback_for) return null;
  const who = pop.customer?.name || pop.identity?.name || pop.callback_for || 'the visitor';
  return h('p', {
    class: 'whisper',
    dataset: { testid: 'callback-whisper' },
    text: reason ? `Callback for ${who}: ${reason}` : `Callback for ${who}`,
  });
}

function section(title, ...body) {
  return h('section', { class: 'pop-section' }, h('h3', { text: title }), ...body);
}

/** A definition list from [label, value] pairs, skipping empty values. */
function facts(pairs) {
  const rows = pairs.filter(([, v]) => v != null && v !== '' && !(Array.isArray(v) && !v.length));
  if (!rows.length) return null;
  return h(
    'dl',
    { class: 'facts' },
    rows.map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v instanceof Node ? v : String(v))]),
  );
}

function chips(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h('span', {}, list.map((e) => h('span', { class: 'chip', text: String(e) })));
}

/** Who is there. A phone caller is named by the CRM record their number
 * matched, else by the number itself: never "Anonymous visitor", since the
 * caller id is the one thing known. */
function identitySection(identity, phone, customer) {
  const id = identity || {};
  const verified = id.verified === true;
  const badge = h('span', {
    class: `badge ${verified ? 'ok' : 'warn'}`,
    dataset: { testid: 'identity-badge' },
    text: verified ? 'Verified' : 'Unverified',
    title: verified
      ? 'Identity signed by the merchant site'
      : phone
        ? 'Matched by caller id only: a caller id can be spoofed'
        : 'Typed by the visitor or set by the page; not checked',
  });
  const caller = phone && ((customer && customer.name) || phone.from || 'Withheld number');
  const name = id.name || (verified ? id.sub : '') || caller || 'Anonymous visitor';
  return section(
    phone ? 'Caller' : 'Visitor',
    h('p', { class: 'pop-name' }, h('strong', { dataset: { testid: 'identity-name' }, text: name }), ' ', badge),
    facts([
      ['Email', id.email],
      ['Customer id', id.sub],
      ['Entitlements', chips(id.entitlements)],
    ]),
  );
}

/** A phone call's numbers: who called, which of the tenant's numbers they
 * dialled, and whether the CRM record came from the caller id. */
function phoneSection(phone, customer) {
  if (!phone) return null;
  const matched = phone.customer_matched_by === 'caller_id' && customer;
  return section(
    'Phone call',
    facts([
      ['From', h('span', { class: 'mono', dataset: { testid: 'phone-from' }, text: phone.from || 'withheld' })],
      ['Dialled', h('span', { class: 'mono', dataset: { testid: 'phone-to' }, text: phone.to || '' })],
      ['Customer', matched ? `${customer.name} (matched by caller id)` : 'No customer has this number'],
    ]),
  );
}

function crmSection(customer, identity) {
  if (!customer) {
    const why = identity && identity.verified === false && (identity.name || identity.email)
      ? 'No CRM record: unverified details never pull one.'
      : 'No CRM record.';
    return section('CRM', h('p', { class: 'empty', text: why }));
  }
  const tickets = Array.isArray(customer.tickets) ? customer.tickets : [];
  const open = tickets.filter((t) => String(t.status || '').toLowerCase() !== 'closed');
  return section(
    'CRM',
    facts([
      ['Name', customer.name],
      ['Customer id', customer.external_id],
      ['Tier', customer.tier],
      ['Email', customer.email],
      ['Phone', (Array.isArray(customer.phones) && customer.phones.length ? customer.phones : [customer.phone].filter(Boolean)).join(', ')],
      ['Entitlements', chips(customer.entitlements)],
      ['Notes', customer.notes],
    ]),
    h('h4', { text: `Open tickets (${open.length})` }),
    open.length
      ? h(
          'ul',
          { class: 'tickets' },
          open.map((t) =>
            h('li', {}, h('span', { class: 'mono', text: t.reference || '' }), ' ', t.subject || '', ' ',
              h('span', { class: 'badge', text: t.status || '' })),
          ),
        )
      : h('p', { class: 'empty', text: 'None.' }),
  );
}

function localTime(timezone) {
  if (!timezone) return '';
  try {
    return new Date().toLocaleTimeString([], { timeZone: timezone, hour: '2-digit', minute: '2-digit' });
  } catch {
    return '';
  }
}

function pageSection(pop) {
  const page = pop.page || {};
  const tz = pop.timezone ? `${pop.timezone}${localTime(pop.timezone) ? ` (local time ${localTime(pop.timezone)})` : ''}` : '';
  return section(
    'Current page',
    facts([
      ['Title', page.title],
      ['URL', page.url ? h('span', { dataset: { testid: 'page-url' } }, safeLink(page.url)) : ''],
      ['Came from', page.referrer ? safeLink(page.referrer) : ''],
      ['Language', pop.language],
      ['Time zone', tz],
      ['Link', pop.link_name || pop.link],
    ]),
  );
}

/** Cookies and form fields the merchant lets the page share (`[context]`);
 * nothing when the tenant shares none. Typed by the visitor: shown as text. */
function sharedSection(shared) {
  const entries = (map) => (map && typeof map === 'object' ? Object.entries(map) : []);
  const cookies = entries(shared && shared.cookies);
  const fields = entries(shared && shared.fields);
  if (!cookies.length && !fields.length) return null;
  const rows = [
    ...fields.map(([k, v]) => [`Field ${k}`, v]),
    ...cookies.map(([k, v]) => [`Cookie ${k}`, v]),
  ];
  const list = facts(rows);
  if (list) list.dataset.testid = 'shared-values';
  return section('Shared by the page', list || h('p', { class: 'empty', text: 'Nothing filled in.' }));
}

function pagesSection(pages) {
  const list = Array.isArray(pages) ? pages : [];
  return section(
    `Pages visited (${list.length})`,
    list.length
      ? h(
          'ol',
          { class: 'pages', reversed: true, dataset: { testid: 'pages-visited' } },
          // Newest first: that is what the agent cares about.
          [...list].reverse().map((p) =>
            h('li', {}, h('span', { class: 'muted', text: formatTime(p.at) }), ' ',
              safeLink(p.url, p.title || p.url)),
          ),
        )
      : h('p', { class: 'empty', text: 'None recorded.' }),
  );
}

function previousSection(previous) {
  const list = Array.isArray(previous) ? previous : [];
  return section(
    `Previous contacts (${list.length})`,
    list.length
      ? h(
          'table',
          { class: 'previous' },
          h('thead', {}, h('tr', {}, ['When', 'Outcome', 'Wrap-up', 'Agent'].map((t) => h('th', { text: t })))),
          h(
            'tbody',
            {},
            list.map((c) =>
              h('tr', {},
                h('td', { text: formatTime(c.created_at) }),
                h('td', {}, h('span', {
                  class: `badge ${c.outcome === 'answered' ? 'ok' : c.outcome ? 'warn' : ''}`,
                  text: c.outcome || 'in progress',
                })),
                h('td', { text: c.wrapup_code || '—' }),
                h('td', { text: c.agent || '—' })),
            ),
          ),
        )
      : h('p', { class: 'empty', text: 'First contact.' }),
  );
}

customElements.define('sb-screen-pop', ScreenPop);
