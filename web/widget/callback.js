/**
 * "Call me back": the widget's callback form, imported by app.js when the
 * visitor first opens it on a link that offers it (`callback_offer`).
 *
 * The visitor picks a country and types their national number (checked here
 * as E.164 and again by the server), may say why, and picks "as soon as
 * possible" or a slot from the link's opening hours (`callback_slots`, Unix
 * ms, shown in the visitor's own time zone and sent back as they came). The
 * confirmation shows the place in line and the estimate as the server moves
 * them (`callback_scheduled`, `callback_status`), a link to the signed
 * manage page, and lets the visitor change the time or cancel.
 *
 * All text is set with textContent; nothing from the server is markup.
 */

/** Calling codes by region, for the picker (names come from Intl). */
const REGIONS = [
  ['US', '1'], ['CA', '1'], ['GB', '44'], ['IE', '353'], ['FR', '33'], ['DE', '49'],
  ['ES', '34'], ['PT', '351'], ['IT', '39'], ['NL', '31'], ['BE', '32'], ['CH', '41'],
  ['AT', '43'], ['DK', '45'], ['SE', '46'], ['NO', '47'], ['FI', '358'], ['PL', '48'],
  ['CZ', '420'], ['GR', '30'], ['RO', '40'], ['HU', '36'], ['TR', '90'], ['IL', '972'],
  ['AE', '971'], ['SA', '966'], ['ZA', '27'], ['EG', '20'], ['NG', '234'], ['KE', '254'],
  ['IN', '91'], ['PK', '92'], ['SG', '65'], ['MY', '60'], ['TH', '66'], ['PH', '63'],
  ['ID', '62'], ['VN', '84'], ['CN', '86'], ['HK', '852'], ['JP', '81'], ['KR', '82'],
  ['AU', '61'], ['NZ', '64'], ['MX', '52'], ['BR', '55'], ['AR', '54'], ['CL', '56'],
  ['CO', '57'], ['PE', '51'],
];
const MAX_REASON = 200;
/** Slots are grouped by day in the picker; this many days are offered. */
const CSS = `
.cbf{display:flex;flex-direction:column;gap:8px;padding:10px 14px;border-bottom:1px solid #e4e8ef;overflow-y:auto;max-height:60%}
.cbf[hidden],.cbf [hidden]{display:none}
.cbf .row{display:flex;gap:8px}
.cbf select{box-sizing:border-box;border:1px solid #c9d0dc;border-radius:8px;padding:7px 8px;font:inherit;color:inherit;background:#fff;max-width:100%}
.cbf .row select{flex:0 0 42%}
.cbf label{font-size:12px;color:#4a5368}
.cbf .err{margin:0;color:#a11d2c;font-size:12px}
.cbf .ok{margin:0;font-weight:600;color:#15603a}
.cbf .facts{margin:0;font-size:12px;color:#4a5368}
.cbf a{color:inherit}
`;

const TEMPLATE = `
<section class="cbf" data-testid="sb-callback-form" aria-label="Call me back" hidden>
  <form class="ask">
    <label for="sb-cb-country">Your phone number</label>
    <div class="row">
      <select id="sb-cb-country" data-testid="sb-callback-country" aria-label="Country"></select>
      <input id="sb-cb-phone" type="tel" data-testid="sb-callback-phone" autocomplete="tel-national" maxlength="20" placeholder="Number" required>
    </div>
    <label for="sb-cb-reason">What is it about? (optional)</label>
    <input id="sb-cb-reason" data-testid="sb-callback-reason" maxlength="${MAX_REASON}">
    <label for="sb-cb-when">When</label>
    <select id="sb-cb-when" data-testid="sb-callback-when"><option value="asap">As soon as possible</option></select>
    <div class="row"><button type="button" class="btn close">Back to chat</button><button type="submit" class="btn primary" data-testid="sb-callback-submit">Call me back</button></div>
  </form>
  <div class="done" data-testid="sb-callback-confirmation" hidden>
    <p class="ok" role="status"></p>
    <p class="facts">Place in line: <span data-testid="sb-callback-position">–</span> · Estimated wait: <span data-testid="sb-callback-estimate">–</span></p>
    <p class="facts"><a data-testid="sb-callback-manage" target="_blank" rel="noopener">Manage this callback</a> (keep the link to change or cancel it later)</p>
    <label for="sb-cb-move">Change the time</label>
    <div class="row"><select id="sb-cb-move" data-testid="sb-callback-reschedule-when"><option value="asap">As soon as possible</option></select><button type="button" class="btn" data-testid="sb-callback-reschedule">Change</button></div>
    <button type="button" class="btn" data-testid="sb-callback-cancel">Cancel the callback</button>
  </div>
  <p class="err" data-testid="sb-callback-error" role="alert" hidden></p>
</section>`;

/**
 * Mounts the form before `before` in the panel. `offer` is the
 * `callback_offer` frame; `onChange(state)` tells app.js of `scheduled`
 * (with `at`) and `cancelled`.
 */
export function mount(ctx, { before, offer, onChange }) {
  return new CallbackForm(ctx, before, offer, onChange);
}

class CallbackForm {
  constructor(ctx, before, offer, onChange) {
    this.ctx = ctx;
    this.onChange = onChange;
    const style = document.createElement('style');
    style.textContent = CSS;
    const tpl = document.createElement('template');
    tpl.innerHTML = TEMPLATE;
    const section = tpl.content.firstElementChild;
    before.before(style, section);
    this.el = section;
    const $ = (sel) => section.querySelector(sel);
    this.ask = $('.ask');
    this.done = $('.done');
    this.country = $('[data-testid=sb-callback-country]');
    this.phone = $('[data-testid=sb-callback-phone]');
    this.reason = $('[data-testid=sb-callback-reason]');
    this.when = $('[data-testid=sb-callback-when]');
    this.move = $('[data-testid=sb-callback-reschedule-when]');
    this.err = $('.err');
    this.ok = $('.ok');
    this.position = $('[data-testid=sb-callback-position]');
    this.estimate = $('[data-testid=sb-callback-estimate]');
    this.manage = $('[data-testid=sb-callback-manage]');
    this.fillCountries(offer?.countries || []);

    this.ask.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    $('.close').addEventListener('click', () => this.hide());
    $('[data-testid=sb-callback-reschedule]').addEventListener('click', () => {
      const at = this.move.value === 'asap' ? null : Number(this.move.value);
      this.send({ type: 'callback_change', at });
    });
    $('[data-testid=sb-callback-cancel]').addEventListener('click', () => this.send({ type: 'callback_cancel' }));
    ctx.subscribe((f) => this.onFrame(f));
  }

  show() {
    this.el.hidden = false;
    this.send({ type: 'callback_slots' });
    (this.done.hidden ? this.phone : this.move).focus();
  }

  hide() {
    this.el.hidden = true;
  }

  send(frame) {
    this.error('');
    if (!this.ctx.send(frame)) this.error('Not connected. Trying again shortly…');
  }

  error(text) {
    this.err.textContent = text;
    this.err.hidden = !text;
  }

  /** Countries the tenant calls back (all listed ones when it says none),
   * the visitor's own region first. */
  fillCountries(allowed) {
    const codes = new Set(allowed.map((c) => String(c).replace(/^\+/, '')));
    const names = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames([navigator.language || 'en'], { type: 'region' }) : null;
    const own = (navigator.language || '').split('-')[1]?.toUpperCase();
    const rows = REGIONS.filter(([, cc]) => !codes.size || codes.has(cc))
      .map(([region, cc]) => ({ region, cc, name: names?.of(region) || region }))
      .sort((a, b) => (a.region === own ? -1 : b.region === own ? 1 : a.name.localeCompare(b.name)));
    // A listed code the table does not name still gets a row.
    for (const cc of codes) if (!rows.some((r) => r.cc === cc)) rows.push({ region: '', cc, name: `+${cc}` });
    for (const r of rows) {
      const o = document.createElement('option');
      o.value = r.cc;
      o.dataset.region = r.region;
      o.textContent = r.region ? `${r.name} (+${r.cc})` : r.name;
      this.country.append(o);
    }
  }

  /** The number as E.164, or null: the national digits without a trunk 0. */
  e164() {
    const cc = this.country.value;
    const typed = this.phone.value.trim();
    if (!/^[\d ().-]{4,20}$/.test(typed)) return null;
    const national = typed.replace(/\D/g, '').replace(/^0+/, '');
    const digits = cc + national;
    return national.length >= 4 && digits.length >= 7 && digits.length <= 15 ? `+${digits}` : null;
  }

  submit() {
    const phone = this.e164();
    if (!phone) {
      this.error('Please enter your number without the country code, such as 20 7946 0123.');
      this.phone.focus();
      return;
    }
    const frame = { type: 'callback', phone };
    const reason = this.reason.value.trim().slice(0, MAX_REASON);
    if (reason) frame.reason = reason;
    if (this.when.value !== 'asap') frame.at = Number(this.when.value);
    this.send(frame);
  }

  onFrame(f) {
    switch (f.type) {
      case 'callback_slots':
        for (const select of [this.when, this.move]) fillSlots(select, f.slots || []);
        break;
      case 'callback_scheduled':
        this.confirm(f);
        this.onChange?.('scheduled', f.at);
        break;
      case 'callback_status':
        this.facts(f);
        break;
      case 'callback_cancelled':
        this.done.hidden = true;
        this.ask.hidden = false;
        this.error('');
        this.ok.textContent = '';
        this.hide();
        this.onChange?.('cancelled');
        break;
      case 'error':
        // Only what answers this form is shown here (app.js shows the rest too).
        if (!this.el.hidden) this.error(f.message || 'That did not work.');
        break;
    }
  }

  confirm(f) {
    this.el.hidden = false;
    this.ask.hidden = true;
    this.done.hidden = false;
    this.error('');
    this.ok.textContent = `We will call you ${when(f.at)}.`;
    this.manage.href = new URL(f.manage, this.ctx.origin).href;
    this.facts(f);
  }

  facts(f) {
    this.position.textContent = f.position != null ? String(f.position) : '–';
    this.estimate.textContent = f.wait_seconds != null ? minutes(f.wait_seconds) : '–';
  }
}

/** Slots in the visitor's time zone, one group per day. */
function fillSlots(select, slots) {
  const keep = select.value;
  select.replaceChildren(new Option('As soon as possible', 'asap'));
  const day = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'short' });
  const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  let group = null;
  for (const ms of slots) {
    const d = new Date(ms);
    const label = day.format(d);
    if (group?.label !== label) {
      group = document.createElement('optgroup');
      group.label = label;
      select.append(group);
    }
    group.append(new Option(time.format(d), String(ms)));
  }
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function when(ms) {
  if (!ms || ms - Date.now() < 60_000) return 'as soon as an agent is free';
  const f = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  return `around ${f.format(new Date(ms))}`;
}

function minutes(s) {
  return s > 30 ? `about ${Math.ceil(s / 60)} min` : 'less than a minute';
}
