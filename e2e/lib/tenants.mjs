/**
 * Tenant files for `tenant apply` (startServer's `tenantFiles`), built in code
 * rather than pasted as TOML into each test, as the Rust tests do with
 * crates/server/tests/common/tenant.rs:
 *
 *   const toml = tenant('acme')
 *     .queue('help')
 *     .link('help', { queue: 'help', calls: ['voice'] })
 *     .agent('kim', { skills: ['help'] })
 *     .toString();
 *
 * Naming a center, queue, link, agent or trunk a second time changes that one
 * instead of adding another. Values are written by `tomlValue`, so quoting is
 * never the test's problem. See crates/server/src/demo.toml and
 * crates/server/src/tenant_file.rs for what each key means.
 *
 * The tenants the browser tests share are named fixtures at the end of this
 * file (`closedTenant`, `phoneTenant`, `dialInTenant`).
 */

/** A TOML value: strings, numbers, booleans, arrays and inline tables. */
export function tomlValue(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a TOML number: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (value && typeof value === 'object') {
    const pairs = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)} = ${tomlValue(v)}`);
    return `{ ${pairs.join(', ')} }`;
  }
  throw new Error(`not a TOML value: ${value}`);
}

/** One table's `key = value` lines; keys whose value is undefined are left out. */
function tableLines(header, keys) {
  const lines = [header];
  for (const [k, v] of Object.entries(keys)) {
    if (v !== undefined) lines.push(`${k} = ${tomlValue(v)}`);
  }
  return lines.join('\n');
}

/** Adds `keys` to the entry of `list` named `name` under `key`, or a new entry. */
function upsert(list, key, name, keys) {
  const found = list.find((entry) => entry[key] === name);
  if (found) Object.assign(found, keys);
  else list.push({ [key]: name, ...keys });
}

class TenantFile {
  constructor(slug) {
    this.head = { slug };
    this.centers = [];
    this.queues = [];
    this.links = [];
    this.agents = [];
    this.phoneKeys = null;
    this.trunks = [];
    this.contextKeys = null;
  }

  /** The tenant's display name. */
  name(name) {
    this.head.name = name;
    return this;
  }

  /** A center: `{ time_zone, holidays, phone, trunk }`. */
  center(name, keys = {}) {
    upsert(this.centers, 'name', name, keys);
    return this;
  }

  /** A queue requiring `skill` (its own name unless given). */
  queue(name, { skill = name, ...keys } = {}) {
    upsert(this.queues, 'name', name, { skill, ...keys });
    return this;
  }

  /** A link: `{ name, queue, calls, route_calls_to, dial_in, record_calls }`. */
  link(slug, keys = {}) {
    upsert(this.links, 'slug', slug, keys);
    return this;
  }

  /** An agent (or, with `role`, other staff): `{ skills, role }`. */
  agent(name, keys = {}) {
    upsert(this.agents, 'name', name, keys);
    return this;
  }

  /** The `[phone]` settings: `{ allowed_destinations, caller_ids, push_codes, routing_points, ... }`. */
  phone(keys) {
    this.phoneKeys = { ...this.phoneKeys, ...keys };
    return this;
  }

  /** A SIP trunk: `{ host, port, transport, allowed_sources }`. */
  trunk(name, keys = {}) {
    upsert(this.trunks, 'name', name, keys);
    return this;
  }

  /** What the merchant's page shares with agents: `{ cookies, fields }`. */
  context(keys) {
    this.contextKeys = { ...this.contextKeys, ...keys };
    return this;
  }

  /** The tenant file's text, in the order of crates/server/src/demo.toml. */
  toString() {
    const tables = [tableLines('[tenant]', this.head)];
    for (const c of this.centers) tables.push(tableLines('[[centers]]', c));
    for (const q of this.queues) tables.push(tableLines('[[queues]]', q));
    for (const l of this.links) tables.push(tableLines('[[links]]', l));
    for (const a of this.agents) tables.push(tableLines('[[agents]]', a));
    if (this.phoneKeys || this.trunks.length) tables.push(tableLines('[phone]', this.phoneKeys ?? {}));
    for (const t of this.trunks) tables.push(tableLines('[[phone.trunks]]', t));
    if (this.contextKeys) tables.push(tableLines('[context]', this.contextKeys));
    return `${tables.join('\n\n')}\n`;
  }
}

/** A new tenant file for the tenant `slug`. */
export function tenant(slug) {
  return new TenantFile(slug);
}

/**
 * `closedco`: link `help` whose only center ("hq", UTC, no weekly hours) is
 * closed on `holidays` (ISO dates); agent `kim` serves it.
 */
export function closedTenant({ holidays }) {
  return tenant('closedco')
    .center('hq', { time_zone: 'UTC', holidays })
    .queue('help')
    .link('help', { name: 'Help', queue: 'help' })
    .agent('kim', { skills: ['help'] });
}

/**
 * `phoneco`: link `phone-sales` whose voice calls go to the "hq" center's
 * phone over the trunk "carrier" (SIPp at 127.0.0.1:`trunkPort`), with the
 * caller ids `callerIds` and the push code `*76` to `pushUrl`; admin `ada`
 * (for an API key); the page shares cookie `cart` and field `order`.
 */
export function phoneTenant({ trunkPort, callerIds, pushUrl }) {
  return tenant('phoneco')
    .name('Phone Co')
    .center('hq', { phone: '+15125550100', trunk: 'carrier' })
    .queue('sales')
    .link('phone-sales', { name: 'Phone Sales', queue: 'sales', calls: ['voice'], route_calls_to: 'phone' })
    .agent('ada', { role: 'admin' })
    .phone({ allowed_destinations: ['+1512'], caller_ids: callerIds, push_codes: { '*76': pushUrl } })
    .trunk('carrier', { host: '127.0.0.1', port: trunkPort, transport: 'udp', allowed_sources: ['127.0.0.1'] })
    .context({ cookies: ['cart'], fields: ['order'] });
}

/**
 * `dialco`: link `phone-desk` that lends its one routing point
 * `routingPoint` for `holdSecs` to call from the visitor's own phone; agent
 * `pat` serves it; calls come in from the carrier at 127.0.0.1:`carrierPort`.
 */
export function dialInTenant({ carrierPort, routingPoint, holdSecs }) {
  return tenant('dialco')
    .name('Dial Co')
    .center('hq')
    .queue('desk')
    .link('phone-desk', { name: 'Phone Desk', queue: 'desk', calls: ['voice'], dial_in: true })
    .agent('pat', { skills: ['desk'] })
    .phone({ routing_points: [routingPoint], routing_point_hold_secs: holdSecs })
    .trunk('carrier', { host: '127.0.0.1', port: carrierPort, transport: 'udp', allowed_sources: ['127.0.0.1'] });
}
