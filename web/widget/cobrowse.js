/*!
 * Switchboard co-browse capture (docs/cobrowse.md). Loaded by widget.js only
 * when the visitor starts sharing, or when a shared session continues on the
 * next page. It shows the join code, asks the visitor's consent, and sends
 * the page to the agent: a snapshot with a numeric id per node, then batches
 * of changes, scroll, viewport, field values and the pointer.
 *
 * Masking happens here, before anything leaves the page: every field value
 * and the placeholder of every masked field is sent as dots unless the field
 * (or an ancestor) carries data-sb-share (or data-sb-show); passwords, hidden
 * inputs, card numbers, CVCs and one-time codes are masked always; anything
 * under data-sb-mask, and contenteditable regions, become a grey block of the
 * same size.
 */

const SESSION_KEY = (tenant) => `sb:cobrowse:${tenant}`;
/** A snapshot chunk stays below the server's 60 KiB frame cap. */
const CHUNK_BYTES = 48 * 1024;
/** Longest text or stylesheet sent for one node. */
const MAX_TEXT = 40 * 1024;
/** Nodes in a snapshot; a bigger page is cut (the agent is told). */
const MAX_NODES = 50000;
/** More changed nodes than this in one batch: send a snapshot instead. */
const STORM = 10000;
const BATCH_MS = 50;
/** A changed canvas's picture goes again at most this often. */
const CANVAS_MS = 2000;
const POINTER_MS = 33;
const SCROLL_MS = 50;
const DOTS = '\u2022';
const OBSERVED = { childList: true, subtree: true, attributes: true, characterData: true };
const SKIP = new Set(['SCRIPT', 'NOSCRIPT', 'TEMPLATE']);
const URL_ATTRS = new Set(['href', 'src', 'poster', 'action', 'background', 'cite', 'data']);
const ALWAYS_MASKED_TYPES = new Set(['password', 'hidden']);
const ALWAYS_MASKED_AUTOCOMPLETE = /\b(cc-number|cc-csc|cc-exp|one-time-code|current-password|new-password)\b/i;
const ALWAYS_MASKED_NAME = /(^|[^a-z])(pass(word)?|pin|cvc|cvv|otp|card.?number|iban)([^a-z]|$)/i;

let session = null;
/** The visitor is being asked (`invite`). */
let invitation = null;

/** Starts (or resumes) sharing for the widget of `tenant` served from `origin`. */
export function start({ origin, tenant, onCode = null }) {
  if (session) return session;
  session = new Session(origin, tenant);
  // On a call a center's desk phone answered, the widget tells the desk the
  // code too, so the session becomes the call's (docs/cobrowse.md).
  session.onCode = onCode;
  return session;
}

/**
 * The agent holding the visitor's conversation asks to see the page (the
 * chat socket's `cobrowse_request`). The visitor is asked once; on yes a
 * session starts as "Share this page" starts one, and its join code goes back
 * over the chat socket (`reply`, a `cobrowse_code` frame) to that agent, whose
 * console joins with it. The yes stands for the relay's own consent question
 * too: the first `join_request` naming `agent` is accepted without asking
 * again (any other agent, or a later join, is asked as usual).
 */
export function invite({ origin, tenant, agent, reply }) {
  // Already shared, or the question is on screen: a repeated request adds nothing.
  if (session?.sharing || invitation?.host.isConnected) return null;
  const panel = (invitation = new Panel(null));
  const who = agent || 'The agent';
  panel.fill('sb-cobrowse-invite', `${who} would like to see this page. Share it? Passwords and the fields you fill in stay hidden.`, '', [
    ['Share', 'sb-cobrowse-accept', () => {
      panel.host.remove();
      const s = start({ origin, tenant });
      s.invited = { agent, reply };
      if (s.code) s.sendInvitedCode();
    }],
    ['No thanks', 'sb-cobrowse-decline', () => {
      invitation = null;
      reply({ type: 'cobrowse_declined' });
      panel.show('ended', 'You declined.');
    }, true],
  ]);
  return panel;
}

/** Whether a field's value must never leave the page. */
function alwaysMasked(el) {
  const type = (el.getAttribute('type') || '').toLowerCase();
  return (
    ALWAYS_MASKED_TYPES.has(type) ||
    ALWAYS_MASKED_AUTOCOMPLETE.test(el.getAttribute('autocomplete') || '') ||
    ALWAYS_MASKED_NAME.test(el.getAttribute('name') || '') ||
    ALWAYS_MASKED_NAME.test(el.id || '')
  );
}

/** A region shown to the agent as a grey block (and never its content). */
function blocked(el) {
  return !!el.closest('[data-sb-mask]') || (el.isContentEditable && !el.closest('[data-sb-share],[data-sb-show]'));
}

const isField = (el) => el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT';

/** Field values are masked unless the merchant marked the field shareable. */
function fieldMasked(el) {
  return alwaysMasked(el) || blocked(el) || !el.closest('[data-sb-share],[data-sb-show]');
}

const dots = (value) => DOTS.repeat(Math.min(String(value || '').length, 12));

/** `url(...)` inside CSS made absolute against `base`. */
function absoluteCss(css, base) {
  return css.replace(/url\(\s*(['"]?)([^'")]+)\1\s*\)/g, (all, q, u) => {
    if (/^(data|blob):/i.test(u)) return all;
    try {
      return `url(${q}${new URL(u, base).href}${q})`;
    } catch {
      return all;
    }
  });
}

/** A stylesheet's rules as text (inserted rules included), or null when the
 * browser will not let the page read it (cross-origin). */
function sheetText(sheet) {
  try {
    const rules = sheet.cssRules;
    let text = '';
    for (const rule of rules) text += rule.cssText + '\n';
    return absoluteCss(text, sheet.href || document.baseURI).slice(0, MAX_TEXT);
  } catch {
    return null;
  }
}

function absoluteUrl(value) {
  try {
    return new URL(value, document.baseURI).href;
  } catch {
    return value;
  }
}

function srcset(value) {
  return value
    .split(',')
    .map((part) => {
      const [u, ...rest] = part.trim().split(/\s+/);
      return [absoluteUrl(u), ...rest].join(' ');
    })
    .join(', ');
}

/** A canvas as a picture within MAX_TEXT, or null (tainted, too big). */
function canvasPicture(el) {
  try {
    const url = el.toDataURL('image/webp', 0.5);
    return url.length <= MAX_TEXT ? url : null;
  } catch {
    return null; // cross-origin pixels: not readable, not sent
  }
}

/** Rules a script adds or removes (a component's constructed sheet, a
 * CSS-in-JS style element) change no DOM node, so no observer sees them:
 * the sheet methods are wrapped once per page and tell the sharing session,
 * which sends the sheet's new text with its next batch. */
function watchSheets() {
  const proto = globalThis.CSSStyleSheet?.prototype;
  if (!proto || proto.__sbWatched) return;
  Object.defineProperty(proto, '__sbWatched', { value: true });
  for (const name of ['insertRule', 'deleteRule', 'replaceSync', 'replace', 'addRule', 'removeRule']) {
    const original = proto[name];
    if (typeof original !== 'function') continue;
    proto[name] = function (...args) {
      const result = original.apply(this, args);
      const s = session;
      if (s && s.sharing && s.sheetIds.has(this)) {
        if (result instanceof Promise) result.then(() => s.sheetChanged(this), () => {});
        else s.sheetChanged(this);
      }
      return result;
    };
  }
}

class Session {
  constructor(origin, tenant) {
    this.origin = origin;
    this.tenant = tenant;
    this.ids = new WeakMap();
    this.nodes = new Map();
    this.nextId = 1;
    this.seq = 0;
    this.sharing = false;
    this.control = false;
    this.agent = '';
    this.pending = new Set();
    /** Carried stylesheets -> ids of the style records that show them. */
    this.sheetIds = new Map();
    this.changedSheets = new Set();
    /** Canvases -> the picture last sent. */
    this.canvases = new Map();
    this.batchTimer = 0;
    this.observer = null;
    this.ui = new Panel(this);
    this.connect();
  }

  get resume() {
    try {
      return sessionStorage.getItem(SESSION_KEY(this.tenant));
    } catch {
      return null;
    }
  }

  set resume(value) {
    try {
      if (value) sessionStorage.setItem(SESSION_KEY(this.tenant), value);
      else sessionStorage.removeItem(SESSION_KEY(this.tenant));
    } catch {
      /* storage blocked: sharing ends with this page */
    }
  }

  connect() {
    const url = new URL('/ws/cobrowse', this.origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('tenant', this.tenant);
    const ws = (this.ws = new WebSocket(url));
    ws.addEventListener('open', () => {
      const hello = { type: 'hello' };
      if (this.resume) hello.resume = this.resume;
      this.send(hello);
    });
    ws.addEventListener('message', (ev) => {
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (f && typeof f.type === 'string') this.onFrame(f);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.stopCapture();
      this.ui.show('ended', 'Sharing ended.');
    });
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ v: 1, ...frame }));
    return true;
  }

  /** A capture frame, with the next sequence number. */
  emit(frame) {
    this.send({ ...frame, seq: ++this.seq });
  }

  onFrame(f) {
    switch (f.type) {
      case 'welcome':
        this.resume = f.resume;
        this.control = !!f.control;
        this.agent = f.agent_name || '';
        if (f.sharing) this.beginSharing();
        else if (f.code) this.showCode(f.code);
        break;
      case 'code':
        this.showCode(f.code);
        break;
      case 'join_request':
        this.agent = String(f.agent_name || 'An agent');
        // The visitor said yes to this agent's request a moment ago: that
        // yes answers this question, once, and only for that agent.
        if (this.invited && (!this.invited.agent || this.invited.agent === this.agent)) {
          this.invited = null;
          this.accept(true);
        } else {
          this.invited = null;
          this.ui.ask(this.agent);
        }
        break;
      case 'snapshot_request':
        if (this.sharing) this.snapshot();
        else this.beginSharing();
        break;
      case 'agent_pointer':
        this.ui.pointer(Number(f.x), Number(f.y));
        break;
      case 'highlight':
        this.highlight(f.id);
        break;
      case 'push':
        this.push(f.url);
        break;
      case 'control_request':
        this.ui.askControl(String(f.agent_name || this.agent));
        break;
      case 'click':
        this.agentClick(f.id);
        break;
      case 'input':
        this.agentInput(f.id, f.value);
        break;
      case 'draw':
      case 'clear':
      case 'board':
        this.board().then((b) => b.apply(f));
        break;
      case 'ended':
        this.end(f.reason === 'declined' ? 'You declined.' : 'Sharing ended.');
        break;
      case 'error':
        if (f.code === 'rate_limited' && this.sharing) {
          clearTimeout(this.retry);
          this.retry = setTimeout(() => this.snapshot(), 1000);
        }
        break;
    }
  }

  /** A join code: read out by the visitor, or sent for them to the agent who asked. */
  showCode(code) {
    this.code = String(code);
    if (this.invited) this.sendInvitedCode();
    else {
      this.ui.code(this.code);
      if (this.onCode) this.onCode(this.code);
    }
  }

  sendInvitedCode() {
    this.invited.reply({ type: 'cobrowse_code', code: this.code });
    this.ui.fill('sb-cobrowse-waiting', `Connecting ${this.invited.agent || 'the agent'} to this page\u2026`, '', [
      ['Cancel', 'sb-cobrowse-stop', () => this.stop(), true],
    ]);
  }

  accept(yes) {
    this.send({ type: 'consent', view: yes });
    if (!yes) this.end('You declined.');
  }

  /** The whiteboard (web/widget/whiteboard.js), loaded when first used. */
  board() {
    this.boardLoad ||= import('./whiteboard.js').then(
      ({ Whiteboard }) => new Whiteboard({ stage: this.ui.wb, bar: this.ui.wb, send: (f) => this.send(f), side: 'visitor', prefix: 'sb-whiteboard' }),
    );
    return this.boardLoad;
  }

  grantControl(yes) {
    this.control = yes;
    this.send({ type: 'control', granted: yes });
    this.ui.banner(this.agent, this.control);
  }

  stop() {
    this.send({ type: 'stop' });
    this.end('You stopped sharing.');
  }

  end(message) {
    this.resume = null;
    this.stopCapture();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.ui.show('ended', message);
    session = null;
  }

  beginSharing() {
    this.sharing = true;
    this.ui.banner(this.agent, this.control);
    watchSheets();
    this.snapshot();
    if (this.listening) return;
    this.listening = true;
    this.canvasTimer = setInterval(() => this.repaintCanvases(), CANVAS_MS);
    const opts = { capture: true, passive: true };
    let lastPointer = 0;
    this.on(document, 'mousemove', (e) => {
      const now = Date.now();
      if (now - lastPointer < POINTER_MS) return;
      lastPointer = now;
      this.emit({ type: 'pointer', x: e.clientX, y: e.clientY });
    }, opts);
    const scrolls = new Map();
    this.on(document, 'scroll', (e) => {
      const el = e.target === document ? document.scrollingElement || document.documentElement : e.target;
      if (scrolls.has(el)) return;
      scrolls.set(el, setTimeout(() => {
        scrolls.delete(el);
        const id = el === (document.scrollingElement || document.documentElement) ? 0 : this.ids.get(el);
        if (id !== undefined) this.emit({ type: 'scroll', id, x: Math.round(el.scrollLeft), y: Math.round(el.scrollTop) });
      }, SCROLL_MS));
    }, opts);
    this.on(window, 'resize', () => this.emit({ type: 'viewport', w: innerWidth, h: innerHeight }), opts);
    const field = (e) => {
      // The field itself, also inside an open shadow root (the event's
      // target is retargeted to the host there).
      const el = e.composedPath()[0] || e.target;
      const id = this.ids.get(el);
      if (id === undefined || !isField(el)) return;
      // Not `v`: that is the protocol version at the top of a frame.
      const { v, c } = this.fieldState(el);
      this.emit({ type: 'input', id, value: v, checked: c });
    };
    this.on(document, 'input', field, opts);
    this.on(document, 'change', field, opts);
  }

  on(target, type, fn, opts) {
    (this.listeners ||= []).push([target, type, fn, opts]);
    target.addEventListener(type, fn, opts);
  }

  stopCapture() {
    this.sharing = false;
    if (this.observer) this.observer.disconnect();
    this.observer = null;
    for (const [t, type, fn, opts] of this.listeners || []) t.removeEventListener(type, fn, opts);
    this.listeners = [];
    this.listening = false;
    clearInterval(this.canvasTimer);
    clearTimeout(this.batchTimer);
    this.pending.clear();
    this.changedSheets.clear();
  }

  /** Our own UI and the widget stay out of the capture. */
  ignored(node) {
    return node.nodeType === 1 && (SKIP.has(node.tagName) || node.hasAttribute('data-sb-ignore'));
  }

  idOf(node) {
    let id = this.ids.get(node);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(node, id);
    }
    this.nodes.set(id, new WeakRef(node));
    return id;
  }

  node(id) {
    const ref = this.nodes.get(Number(id));
    const node = ref && ref.deref();
    return node && node.isConnected ? node : null;
  }

  /** What the agent may see of a field's value. */
  fieldState(el) {
    const masked = fieldMasked(el);
    const state = { v: masked ? dots(el.value) : String(el.value).slice(0, MAX_TEXT) };
    if (el.type === 'checkbox' || el.type === 'radio') state.c = masked ? false : el.checked;
    return state;
  }

  /** An element's attributes as the agent may see them. */
  attrs(el) {
    const out = {};
    const field = isField(el);
    const masked = field && fieldMasked(el);
    for (const { name, value } of el.attributes) {
      const attr = this.attr(el, name, value, masked);
      if (attr !== null) out[name] = attr;
    }
    return out;
  }

  /** One attribute as sent, or null to leave it out. */
  attr(el, name, value, masked) {
    const n = name.toLowerCase();
    if (n.startsWith('on')) return null;
    if (masked && (n === 'value' || n === 'placeholder' || n === 'checked')) return n === 'value' ? dots(value) : null;
    if (el.tagName === 'OPTION' && n === 'selected' && fieldMasked(el.closest('select') || el)) return null;
    if (n === 'srcset') return srcset(value);
    if (URL_ATTRS.has(n) || n === 'xlink:href') return absoluteUrl(value);
    if (n === 'style') return absoluteCss(value, document.baseURI);
    return value.slice(0, MAX_TEXT);
  }

  /** Appends the records of `node` and its subtree, in document order. */
  serialize(node, parent, next, out, budget) {
    if (out.length >= budget.max) {
      budget.cut = true;
      return;
    }
    if (node.nodeType === 3) {
      const rec = { i: this.idOf(node), p: parent, t: 3, x: node.data.slice(0, MAX_TEXT) };
      if (next !== undefined) rec.n = next;
      out.push(rec);
      return;
    }
    if (node.nodeType !== 1 || this.ignored(node)) return;
    const el = node;
    const rec = { i: this.idOf(el), p: parent, t: 1, g: el.localName };
    if (next !== undefined) rec.n = next;
    if (el.namespaceURI === 'http://www.w3.org/2000/svg') rec.s = 1;
    out.push(rec);
    if (blocked(el) || el.classList.contains('switchboard-widget')) {
      // The region keeps its size; nothing of what is inside leaves the page
      // (the widget's launcher too: the agent needs only its place).
      const box = el.getBoundingClientRect();
      rec.g = 'div';
      rec.a = {
        style: `display:inline-block;width:${Math.round(box.width)}px;height:${Math.round(box.height)}px;background:#c8ccd4;border-radius:3px`,
      };
      rec.a[blocked(el) ? 'data-sb-masked' : 'data-sb-widget'] = '';
      return;
    }
    rec.a = this.attrs(el);
    if (el.tagName === 'LINK' && /stylesheet/i.test(el.rel) && el.sheet) {
      const css = sheetText(el.sheet);
      if (css !== null) {
        // Readable here: carried inline, so the agent needs no access to it.
        rec.g = 'style';
        rec.a = { 'data-sb-href': rec.a.href || '' };
        rec.x = css;
        this.noteSheet(el.sheet, rec.i);
      }
      return;
    }
    if (el.tagName === 'STYLE') {
      rec.x = (el.sheet && sheetText(el.sheet)) ?? absoluteCss(el.textContent, document.baseURI).slice(0, MAX_TEXT);
      if (el.sheet) this.noteSheet(el.sheet, rec.i);
      return;
    }
    if (isField(el)) Object.assign(rec, this.fieldState(el));
    if (el.tagName === 'TEXTAREA') return;
    if (el.tagName === 'CANVAS') {
      // A canvas goes as a picture, again when it changes (at most every
      // CANVAS_MS); a tainted one or a big picture stays blank.
      const url = canvasPicture(el);
      if (url) rec.a['data-sb-image'] = url;
      this.canvases.set(el, url);
      return;
    }
    if (el.shadowRoot) this.serializeRoot(el.shadowRoot, 11, rec.i, out, budget);
    if (el.tagName === 'IFRAME') {
      // A same-origin frame's document is carried as the frame's content; a
      // cross-origin one is not readable and stays an empty box.
      let doc = null;
      try {
        doc = el.contentDocument;
      } catch {
        /* cross-origin */
      }
      if (doc && doc.documentElement) this.serializeRoot(doc, 9, rec.i, out, budget);
      return;
    }
    for (let c = el.firstChild; c; c = c.nextSibling) this.serialize(c, rec.i, undefined, out, budget);
  }

  /** An open shadow root (type 11) or a same-origin frame's document (9)
   * under `host`, then its content; changes in it are observed from now. */
  serializeRoot(root, type, host, out, budget) {
    const i = this.idOf(root);
    out.push({ i, p: host, t: type });
    (this.roots ||= new Set()).add(root);
    if (this.observer) this.observer.observe(root, OBSERVED);
    if (type === 9) {
      this.serialize(root.documentElement, i, undefined, out, budget);
      return;
    }
    // Components' constructed stylesheets, as a style element of the root.
    for (const sheet of root.adoptedStyleSheets || []) this.adopted(sheet, i, out);
    for (let c = root.firstChild; c; c = c.nextSibling) this.serialize(c, i, undefined, out, budget);
  }

  /** A constructed sheet as a style element under `parent`. */
  adopted(sheet, parent, out) {
    const css = sheetText(sheet);
    if (css === null) return;
    const i = this.nextId++;
    out.push({ i, p: parent, t: 1, g: 'style', a: {}, x: css });
    this.noteSheet(sheet, i);
  }

  noteSheet(sheet, id) {
    const ids = this.sheetIds.get(sheet);
    if (ids) ids.push(id);
    else this.sheetIds.set(sheet, [id]);
  }

  sheetChanged(sheet) {
    this.changedSheets.add(sheet);
    if (!this.batchTimer) this.batchTimer = setTimeout(() => this.flushMutations(), BATCH_MS);
  }

  /** Canvases whose picture changed since it was last sent, each in its own
   * frame (a picture is up to MAX_TEXT, a frame at most 60 KiB). */
  repaintCanvases() {
    for (const [el, last] of this.canvases) {
      const id = this.ids.get(el);
      if (!el.isConnected || id === undefined) {
        this.canvases.delete(el);
        continue;
      }
      const url = canvasPicture(el);
      if (!url || url === last) continue;
      this.canvases.set(el, url);
      this.emit({ type: 'mutations', attrs: [[id, 'data-sb-image', url]] });
    }
  }

  /** A full snapshot, in chunks; the observer restarts on it. */
  snapshot() {
    if (!this.sharing) return;
    clearTimeout(this.batchTimer);
    this.pending.clear();
    this.ids = new WeakMap();
    this.nodes.clear();
    this.roots = new Set();
    this.sheetIds.clear();
    this.changedSheets.clear();
    this.canvases.clear();
    const started = performance.now();
    const records = [];
    const budget = { max: MAX_NODES, cut: false };
    this.serialize(document.documentElement, 0, undefined, records, budget);
    const head = document.head && this.ids.get(document.head);
    if (head !== undefined) for (const sheet of document.adoptedStyleSheets || []) this.adopted(sheet, head, records);
    const base = {
      type: 'snapshot',
      url: location.href,
      title: document.title,
      w: innerWidth,
      h: innerHeight,
      sx: Math.round(scrollX),
      sy: Math.round(scrollY),
    };
    let part = 0;
    let chunk = [];
    let size = 0;
    const flush = (last) => {
      this.emit({ ...base, part: part++, last, cut: last && budget.cut, adds: chunk });
      chunk = [];
      size = 0;
    };
    for (const rec of records) {
      const bytes = JSON.stringify(rec).length + 1;
      if (size + bytes > CHUNK_BYTES && chunk.length) flush(false);
      chunk.push(rec);
      size += bytes;
    }
    flush(true);
    this.lastSnapshot = { nodes: records.length, ms: performance.now() - started };
    this.observe();
  }

  observe() {
    if (this.observer) this.observer.disconnect();
    this.observer = new MutationObserver((list) => {
      for (const m of list) this.pending.add(m);
      if (this.pending.size > STORM) {
        this.snapshot();
        return;
      }
      if (!this.batchTimer) this.batchTimer = setTimeout(() => this.flushMutations(), BATCH_MS);
    });
    for (const root of [document, ...(this.roots || [])]) this.observer.observe(root, OBSERVED);
  }

  /** Inside a region the agent must not see, or outside the capture. */
  hidden(node) {
    let el = node.nodeType === 3 ? node.parentNode : node;
    // A shadow root or a frame's document stands for its host.
    if (el && el.nodeType === 11) el = el.host;
    else if (el && el.nodeType === 9) el = el.defaultView?.frameElement;
    if (!el || el.nodeType !== 1 || blocked(el) || el.closest('textarea,.switchboard-widget')) return true;
    for (let e = el; e; e = e.parentElement) if (this.ignored(e)) return true;
    return false;
  }

  flushMutations() {
    this.batchTimer = 0;
    // Ids of nodes long gone pile up on a page that keeps adding nodes; a
    // snapshot starts the table afresh.
    if (this.nodes.size > 4 * MAX_NODES) {
      this.snapshot();
      return;
    }
    const muts = [...this.pending];
    this.pending.clear();
    const sheets = [...this.changedSheets];
    this.changedSheets.clear();
    if (!this.sharing || (!muts.length && !sheets.length)) return;
    const removes = [];
    const added = new Set();
    const texts = new Map();
    const attrs = new Map();
    for (const m of muts) {
      if (m.type === 'childList') {
        for (const n of m.removedNodes) {
          const id = this.ids.get(n);
          if (id !== undefined) removes.push(id);
        }
        for (const n of m.addedNodes) if (n.isConnected) added.add(n);
      } else if (m.type === 'characterData') {
        const id = this.ids.get(m.target);
        if (id !== undefined && !this.hidden(m.target)) texts.set(id, m.target);
      } else if (m.type === 'attributes') {
        if (m.attributeName === 'data-sb-mask' || m.attributeName === 'contenteditable') {
          // What is masked changed: start over rather than patch around it.
          this.snapshot();
          return;
        }
        const id = this.ids.get(m.target);
        if (id !== undefined && !this.hidden(m.target)) {
          const key = `${id}\u0000${m.attributeName}`;
          attrs.set(key, [m.target, m.attributeName]);
        }
      }
    }
    // Only the top of each added subtree, in reverse document order, so a
    // node's next sibling is already there when it is inserted.
    const tops = [...added].filter((n) => {
      for (let p = n.parentNode; p; p = p.parentNode) if (added.has(p)) return false;
      const parent = n.parentNode;
      return parent && this.ids.get(parent) !== undefined && !this.hidden(parent);
    });
    tops.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? 1 : -1));
    const adds = [];
    const budget = { max: STORM, cut: false };
    for (const n of tops) {
      let next = n.nextSibling;
      while (next && (this.ids.get(next) === undefined || (next.nodeType === 1 && this.ignored(next)))) next = next.nextSibling;
      // A node moved within the batch keeps no stale id.
      this.ids.delete(n);
      this.serialize(n, this.ids.get(n.parentNode), next ? this.ids.get(next) : null, adds, budget);
    }
    if (budget.cut) {
      this.snapshot();
      return;
    }
    const frame = { type: 'mutations' };
    if (removes.length) frame.removes = removes;
    if (adds.length) frame.adds = adds;
    const textList = [...texts].map(([id, n]) => [id, n.data.slice(0, MAX_TEXT)]);
    for (const sheet of sheets) {
      const css = sheetText(sheet);
      if (css !== null) for (const id of this.sheetIds.get(sheet) || []) textList.push([id, css]);
    }
    if (textList.length) frame.texts = textList;
    if (attrs.size) {
      frame.attrs = [];
      for (const [el, name] of attrs.values()) {
        const has = el.hasAttribute(name);
        const value = has ? this.attr(el, name, el.getAttribute(name), isField(el) && fieldMasked(el)) : null;
        if (has && value === null) continue;
        frame.attrs.push([this.ids.get(el), name, value]);
      }
    }
    if (frame.removes || frame.adds || frame.texts || (frame.attrs && frame.attrs.length)) this.emit(frame);
  }

  highlight(id) {
    const el = this.node(id);
    if (!el || el.nodeType !== 1) return;
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    this.ui.outline(el);
  }

  /** The agent sent a page of this site: say so, then open it. */
  push(value) {
    let url;
    try {
      url = new URL(value);
    } catch {
      return;
    }
    if (url.origin !== location.origin || !/^https?:$/.test(url.protocol)) return;
    this.ui.notice(`${this.agent || 'The agent'} is opening ${url.pathname}\u2026`);
    setTimeout(() => location.assign(url.href), 800);
  }

  /** Why the agent may not drive `el`, or '' when it may. */
  refusal(el) {
    if (!this.control) return 'no control';
    if (!el || el.nodeType !== 1) return 'gone';
    if (this.hidden(el) || blocked(el)) return 'masked';
    const button = el.closest('button,input');
    if (button && (button.type === 'image' || (button.type === 'submit' && button.form))) return 'submit';
    const link = el.closest('a[href]');
    if (link && new URL(link.href, location.href).origin !== location.origin) return 'off-site';
    // A masked field is typed by the visitor only; clicking into it is fine.
    return '';
  }

  agentClick(id) {
    const el = this.node(id);
    if (this.refusal(el)) return;
    if (typeof el.focus === 'function') el.focus();
    el.click();
  }

  agentInput(id, value) {
    const el = this.node(id);
    if (this.refusal(el) || !isField(el) || fieldMasked(el)) return;
    if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === value)) return;
    // The prototype's setter, so frameworks that track the value see the change.
    const proto = Object.getPrototypeOf(el);
    const setter = Object.getOwnPropertyDescriptor(proto, 'value')?.set;
    if (setter) setter.call(el, String(value));
    else el.value = String(value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }
}

const CSS = `
:host{all:initial}
.box{position:fixed;right:16px;bottom:16px;z-index:2147483647;max-width:340px;padding:12px 14px;border-radius:10px;background:#1d2433;color:#fff;font:14px/1.4 system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.3)}
.box:empty{display:none}
.code{font:700 26px/1.2 ui-monospace,monospace;letter-spacing:4px;margin:6px 0}
button{font:inherit;border:0;border-radius:6px;padding:6px 12px;margin:8px 8px 0 0;cursor:pointer;background:#3ddc84;color:#10202a;font-weight:600}
button.no{background:#e4e7ee;color:#1d2433}
.pointer{position:fixed;z-index:2147483647;left:0;top:0;width:18px;height:18px;margin:-3px 0 0 -3px;pointer-events:none;border:3px solid #ff4f8b;border-radius:50% 50% 50% 0;background:rgba(255,79,139,.35);display:none}
.wb{position:fixed;inset:0;z-index:2147483645;pointer-events:none}
.wb canvas,.wb-bar{pointer-events:auto}
.wb-bar{position:fixed;top:8px;left:50%;transform:translateX(-50%);display:flex;gap:4px;padding:4px 8px 8px;border-radius:8px;background:#1d2433;z-index:3}
.wb-bar[hidden]{display:none}
.wb-bar button{margin:4px 0 0}
.wb-bar input{font:inherit;margin-top:4px;width:9em}
.outline{position:fixed;z-index:2147483646;pointer-events:none;border:3px solid #ffbf47;border-radius:4px;box-shadow:0 0 0 4000px rgba(0,0,0,.08);display:none}
`;

/** The visitor's side of the session: code, consent, banner, agent pointer. */
class Panel {
  constructor(session) {
    this.session = session;
    const host = (this.host = document.createElement('div'));
    host.setAttribute('data-sb-ignore', '');
    const root = host.attachShadow({ mode: 'open' });
    root.innerHTML =
      `<style>${CSS}</style><div class="box" role="status" aria-live="polite"></div>` +
      '<div class="pointer" data-testid="sb-agent-pointer" aria-hidden="true"></div><div class="outline" aria-hidden="true"></div><div class="wb"></div>';
    this.box = root.querySelector('.box');
    this.pointerEl = root.querySelector('.pointer');
    this.outlineEl = root.querySelector('.outline');
    this.wb = root.querySelector('.wb');
    document.body.append(host);
  }

  /** Fills the box with a text, optionally a big code, and buttons. */
  fill(testid, text, code, buttons = []) {
    const p = document.createElement('div');
    p.dataset.testid = testid;
    p.textContent = text;
    const parts = [p];
    if (code) {
      const c = document.createElement('div');
      c.className = 'code';
      c.dataset.testid = 'sb-cobrowse-code';
      c.textContent = code;
      parts.push(c);
    }
    for (const [label, id, fn, no] of buttons) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.dataset.testid = id;
      if (no) b.className = 'no';
      b.addEventListener('click', fn);
      parts.push(b);
    }
    this.box.replaceChildren(...parts);
  }

  code(code) {
    this.fill('sb-cobrowse-waiting', 'Read this code to the agent to share this page:', code, [
      ['Cancel', 'sb-cobrowse-stop', () => this.session.stop(), true],
    ]);
  }

  ask(agent) {
    this.fill('sb-cobrowse-ask', `${agent} asks to see this page. Passwords and the fields you fill in stay hidden.`, '', [
      ['Share', 'sb-cobrowse-accept', () => this.session.accept(true)],
      ['No thanks', 'sb-cobrowse-decline', () => this.session.accept(false), true],
    ]);
  }

  askControl(agent) {
    this.fill('sb-control-ask', `${agent} asks to click and type on this page for you. They cannot submit forms or see hidden fields.`, '', [
      ['Allow', 'sb-control-accept', () => this.session.grantControl(true)],
      ['No', 'sb-control-decline', () => this.session.grantControl(false), true],
    ]);
  }

  banner(agent, control) {
    const who = agent || 'The agent';
    const buttons = [
      ['Stop sharing', 'sb-cobrowse-stop', () => this.session.stop()],
      ['Whiteboard', 'sb-whiteboard-open', () => this.session.board().then((b) => b.show(true, b.blank)), true],
    ];
    if (control) buttons.push(['Take back control', 'sb-control-revoke', () => this.session.grantControl(false), true]);
    this.fill('sb-cobrowse-banner', control ? `${who} sees this page and can click and type.` : `${who} sees this page.`, '', buttons);
  }

  notice(text) {
    this.fill('sb-cobrowse-notice', text, '');
  }

  show(_state, text) {
    this.pointerEl.style.display = 'none';
    this.outlineEl.style.display = 'none';
    this.fill('sb-cobrowse-ended', text, '');
    setTimeout(() => this.host.remove(), 4000);
  }

  pointer(x, y) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    this.pointerEl.style.display = 'block';
    this.pointerEl.style.transform = `translate(${x}px,${y}px)`;
  }

  outline(el) {
    const place = () => {
      const r = el.getBoundingClientRect();
      Object.assign(this.outlineEl.style, { display: 'block', left: `${r.left - 4}px`, top: `${r.top - 4}px`, width: `${r.width + 2}px`, height: `${r.height + 2}px` });
    };
    place();
    clearInterval(this.outlineTimer);
    let n = 0;
    this.outlineTimer = setInterval(() => {
      if (++n > 40) {
        clearInterval(this.outlineTimer);
        this.outlineEl.style.display = 'none';
      } else place();
    }, 100);
  }
}
