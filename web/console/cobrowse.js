/**
 * The agent's co-browse view (docs/cobrowse.md): key the visitor's join code,
 * then see their page rebuilt in an iframe that runs no script (sandboxed
 * without allow-scripts, and its document's CSP says script-src 'none'),
 * following snapshots, changes, scroll, viewport and the visitor's pointer.
 * The agent's pointer, highlights (click on the page), pushed pages and, with
 * the visitor's second consent, clicks and typing go back to the page.
 *
 * Whatever the page sends is treated as hostile: scripts, event handler
 * attributes, javascript: URLs, plug-ins, frames, refresh and base tags and
 * CSS expressions are dropped before they reach the mirror document.
 */

const SESSION_KEY = 'sb:cobrowse:view';
/** Nodes the mirror holds; a bigger page is cut with a notice. */
const MAX_NODES = 60000;
const SVG_NS = 'http://www.w3.org/2000/svg';
/** Elements never rebuilt (a comment keeps their place). */
const DROPPED = new Set(['script', 'noscript', 'object', 'embed', 'applet', 'base', 'iframe', 'frame', 'frameset', 'portal', 'template']);
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'poster', 'background', 'cite', 'data', 'xlink:href', 'srcset', 'ping', 'manifest']);
const BAD_URL = /^\s*(javascript|vbscript|data:text\/html|data:image\/svg)/i;
const BAD_CSS = /expression\s*\(|javascript:|vbscript:|-moz-binding|behavior\s*:/gi;

const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'testid') e.dataset.testid = v;
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
};

/** An attribute as the mirror may carry it, or null. */
export function safeAttr(tag, name, value) {
  const n = String(name).toLowerCase();
  if (n.startsWith('on') || n === 'srcdoc' || n === 'formaction' || n === 'http-equiv') return null;
  const v = String(value ?? '');
  if (URL_ATTRS.has(n) && BAD_URL.test(v.replace(/[\u0000-\u0020]/g, ''))) return null;
  if (n === 'style') return v.replace(BAD_CSS, '/*x*/');
  if (tag === 'meta' && n === 'content' && /url\s*=/i.test(v)) return null;
  return v;
}

export const safeCss = (css) => String(css ?? '').replace(BAD_CSS, '/*x*/');

class Mirror {
  constructor(iframe, notice) {
    this.iframe = iframe;
    this.notice = notice;
    this.nodes = new Map();
    this.ids = new WeakMap();
    this.scale = 1;
  }

  get doc() {
    return this.iframe.contentDocument;
  }

  reset() {
    this.nodes.clear();
    this.ids = new WeakMap();
    this.cut = false;
  }

  create(r) {
    const doc = this.doc;
    if (r.t === 3) return doc.createTextNode(String(r.x ?? ''));
    const tag = String(r.g || 'div').toLowerCase();
    if (DROPPED.has(tag) || !/^[a-z][a-z0-9-]*$/.test(tag)) return doc.createComment(tag);
    const node = r.s ? doc.createElementNS(SVG_NS, tag) : doc.createElement(tag);
    if (tag === 'meta' && r.a && r.a['http-equiv']) return doc.createComment('meta');
    for (const [k, v] of Object.entries(r.a || {})) {
      const safe = safeAttr(tag, k, v);
      if (safe === null) continue;
      try {
        node.setAttribute(k, safe);
      } catch {
        /* a name the DOM refuses: left out */
      }
    }
    if (tag === 'style' && r.x != null) node.textContent = safeCss(r.x);
    if (tag === 'canvas' && r.a && /^data:image\/(webp|png);base64,/.test(r.a['data-sb-image'] || '')) {
      // The page's canvas as a picture (an image, not drawing code).
      node.style.backgroundImage = `url("${r.a['data-sb-image']}")`;
      node.style.backgroundSize = '100% 100%';
    }
    if (r.v != null && 'value' in node && tag !== 'button') node.value = String(r.v);
    if (tag === 'textarea' && r.v != null) node.textContent = String(r.v);
    if (r.c != null && 'checked' in node) node.checked = !!r.c;
    return node;
  }

  /** Inserts records in order: each goes under `p`, before `n` when given. */
  add(records) {
    for (const r of records) {
      if (this.nodes.size >= MAX_NODES) {
        this.cut = true;
        break;
      }
      const node = this.create(r);
      const id = Number(r.i);
      if (Number(r.p) === 0) {
        const doc = this.doc;
        if (node.nodeType !== 1) continue;
        doc.replaceChild(node, doc.documentElement);
      } else {
        const parent = this.nodes.get(Number(r.p));
        if (!parent || parent.nodeType !== 1) continue;
        const next = r.n != null ? this.nodes.get(Number(r.n)) : null;
        try {
          parent.insertBefore(node, next && next.parentNode === parent ? next : null);
        } catch {
          continue;
        }
      }
      const old = this.nodes.get(id);
      if (old && old !== node && old.parentNode) old.remove();
      this.nodes.set(id, node);
      this.ids.set(node, id);
    }
    if (this.cut) this.notice(`The page is larger than ${MAX_NODES} nodes; the view is cut.`);
  }

  snapshot(f) {
    if (f.part === 0) {
      this.reset();
      this.size(f.w, f.h);
    }
    this.add(Array.isArray(f.adds) ? f.adds : []);
    if (f.last) {
      this.scroll({ id: 0, x: f.sx, y: f.sy });
      if (f.cut) this.notice('The page is very large; the view shows its first 50,000 nodes.');
    }
  }

  mutations(f) {
    for (const id of f.removes || []) {
      const node = this.nodes.get(Number(id));
      if (node) node.remove();
      this.nodes.delete(Number(id));
    }
    this.add(f.adds || []);
    for (const [id, text] of f.texts || []) {
      const node = this.nodes.get(Number(id));
      if (!node) continue;
      if (node.nodeType === 3) node.data = String(text);
      else if (node.localName === 'style') node.textContent = safeCss(text);
    }
    for (const [id, name, value] of f.attrs || []) {
      const node = this.nodes.get(Number(id));
      if (!node || node.nodeType !== 1) continue;
      try {
        if (value === null) node.removeAttribute(name);
        else {
          const safe = safeAttr(node.localName, name, value);
          if (safe !== null) node.setAttribute(name, safe);
        }
      } catch {
        /* refused name: ignored */
      }
    }
  }

  input(f) {
    const node = this.nodes.get(Number(f.id));
    if (!node) return;
    if ('value' in node && f.value != null) node.value = String(f.value);
    if ('checked' in node && f.checked != null) node.checked = !!f.checked;
  }

  scroll(f) {
    const x = Number(f.x) || 0;
    const y = Number(f.y) || 0;
    if (Number(f.id) === 0) {
      const root = this.doc.scrollingElement || this.doc.documentElement;
      root.scrollLeft = x;
      root.scrollTop = y;
    } else {
      const node = this.nodes.get(Number(f.id));
      if (node && node.nodeType === 1) {
        node.scrollLeft = x;
        node.scrollTop = y;
      }
    }
  }

  size(w, h) {
    const width = Math.max(200, Math.min(Number(w) || 1024, 4000));
    const height = Math.max(150, Math.min(Number(h) || 768, 4000));
    const room = this.iframe.parentElement.clientWidth || width;
    this.scale = Math.min(1, room / width);
    Object.assign(this.iframe.style, { width: `${width}px`, height: `${height}px`, transform: `scale(${this.scale})` });
    this.iframe.parentElement.style.height = `${Math.ceil(height * this.scale)}px`;
  }

  /** The mirrored node under a point of the overlay (CSS px of the console). */
  idAt(x, y) {
    const node = this.doc.elementFromPoint(x / this.scale, y / this.scale);
    for (let n = node; n; n = n.parentNode) {
      const id = this.ids.get(n);
      if (id !== undefined) return { id, node: n };
    }
    return null;
  }
}

/** The co-browse card in the console. */
class View {
  constructor(host) {
    this.codeInput = el('input', { testid: 'cobrowse-join-code', inputMode: 'numeric', maxLength: 6, placeholder: '6-digit code', autocomplete: 'off', 'aria-label': 'Visitor code' });
    this.joinButton = el('button', { type: 'submit', className: 'btn primary', testid: 'cobrowse-join', textContent: 'Join' });
    this.status = el('p', { className: 'muted', testid: 'cobrowse-status', role: 'status', textContent: 'Ask the visitor to click "Share this page" and read you the code.' });
    this.iframe = el('iframe', { testid: 'cobrowse-view', title: "Visitor's page", src: '/cobrowse/frame', sandbox: 'allow-same-origin', referrerPolicy: 'no-referrer' });
    this.iframe.setAttribute('sandbox', 'allow-same-origin');
    this.overlay = el('div', { className: 'cb-overlay', testid: 'cobrowse-overlay' });
    this.visitorPointer = el('div', { className: 'cb-pointer', testid: 'cobrowse-pointer', hidden: true });
    this.stage = el('div', { className: 'cb-stage' }, this.iframe, this.overlay, this.visitorPointer);
    this.pushUrl = el('input', { testid: 'cobrowse-push-url', type: 'url', placeholder: 'https://… a page of the visitor\u2019s site', 'aria-label': 'Page to push' });
    this.pushButton = el('button', { type: 'submit', className: 'btn', testid: 'cobrowse-push', textContent: 'Push page' });
    this.controlButton = el('button', { type: 'button', className: 'btn', testid: 'cobrowse-control-request', textContent: 'Ask for control' });
    this.controlInput = el('input', { testid: 'cobrowse-control-input', placeholder: 'Type into the field you clicked', 'aria-label': 'Type for the visitor', disabled: true });
    this.leaveButton = el('button', { type: 'button', className: 'btn danger', testid: 'cobrowse-leave', textContent: 'Leave' });
    const joinForm = el('form', { className: 'cb-row' }, this.codeInput, this.joinButton);
    const pushForm = el('form', { className: 'cb-row' }, this.pushUrl, this.pushButton);
    this.tools = el('div', { className: 'cb-tools', hidden: true }, pushForm, el('div', { className: 'cb-row' }, this.controlButton, this.controlInput, this.leaveButton), this.stage);
    this.card = el('section', { className: 'card cobrowse', testid: 'cobrowse', 'aria-label': 'Co-browse' }, el('h2', { textContent: 'Co-browse' }), joinForm, this.status, this.tools);
    host.append(this.card);
    this.mirror = new Mirror(this.iframe, (text) => this.say(text));
    // Frames wait until the mirror document has loaded (else its load would
    // wipe what was built in the blank document before it).
    this.loaded = false;
    this.queue = [];
    this.iframe.addEventListener('load', () => {
      this.loaded = true;
      const queued = this.queue;
      this.queue = [];
      queued.forEach((f) => this.onFrame(f));
    });

    joinForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.open({ type: 'join', code: this.codeInput.value.trim() });
    });
    pushForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send({ type: 'push', url: this.pushUrl.value.trim() });
    });
    this.controlButton.addEventListener('click', () => {
      this.send({ type: 'control_request' });
      this.say('Asked the visitor for control\u2026');
    });
    this.leaveButton.addEventListener('click', () => this.send({ type: 'leave' }));
    this.controlInput.addEventListener('input', () => {
      if (this.target !== undefined) this.send({ type: 'input', id: this.target, value: this.controlInput.value });
    });
    let frame = 0;
    this.overlay.addEventListener('mousemove', (e) => {
      const x = e.offsetX / this.mirror.scale;
      const y = e.offsetY / this.mirror.scale;
      if (frame) return;
      // At display rate, on its own path to the page.
      frame = requestAnimationFrame(() => {
        frame = 0;
        this.send({ type: 'pointer', x: Math.round(x), y: Math.round(y) });
      });
    });
    this.overlay.addEventListener('click', (e) => this.pick(e.offsetX, e.offsetY));

    const session = sessionStorage.getItem(SESSION_KEY);
    if (session) this.open({ type: 'watch', session });
    this.requestFromContact();
  }

  /**
   * "See the visitor's page" beside the open conversation's End button,
   * shown while the conversation is live (as its compose box is). console.js
   * sends `cobrowse_request`; the visitor's code comes back as `sb:cobrowse`
   * and is joined at once, only for a contact this console asked about.
   */
  requestFromContact() {
    const end = document.getElementById('end');
    const compose = document.getElementById('compose');
    if (!end || !compose) return;
    this.asked = new Set();
    const button = el('button', { type: 'button', className: 'btn', testid: 'cobrowse-request', textContent: 'See the visitor\u2019s page' });
    end.before(button);
    const follow = () => {
      button.hidden = compose.hidden;
    };
    follow();
    new MutationObserver(follow).observe(compose, { attributes: true, attributeFilter: ['hidden'] });
    button.addEventListener('click', () => {
      const ask = { contact: null };
      document.dispatchEvent(new CustomEvent('sb:cobrowse-request', { detail: ask }));
      if (ask.contact == null) {
        this.say('Not connected; the request was not sent.');
        return;
      }
      this.asked.add(ask.contact);
      this.card.dataset.request = 'asked';
      this.say('Asked the visitor to share their page\u2026');
    });
    document.addEventListener('sb:cobrowse', (ev) => {
      const f = ev.detail;
      if (!this.asked.delete(f.contact)) return;
      if (f.type === 'cobrowse_declined') {
        this.card.dataset.request = 'declined';
        this.say('The visitor declined to share their page.');
      } else if (/^\d{6}$/.test(String(f.code))) {
        this.card.dataset.request = 'accepted';
        this.codeInput.value = f.code;
        this.open({ type: 'join', code: f.code });
      }
    });
  }

  say(text) {
    this.status.textContent = text;
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: 1, ...frame }));
  }

  /** Opens the view's socket (one per session) with `join` or `watch`. */
  open(first) {
    if (this.ws) this.ws.close();
    const url = new URL('/ws/cobrowse', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = (this.ws = new WebSocket(url));
    ws.addEventListener('open', () => this.send(first));
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
      if (this.ws === ws) this.ws = null;
    });
  }

  onFrame(f) {
    if (!this.loaded && ['snapshot', 'mutations', 'scroll', 'viewport', 'input'].includes(f.type)) {
      if (this.queue.length < 1000) this.queue.push(f);
      return;
    }
    switch (f.type) {
      case 'joined':
        sessionStorage.setItem(SESSION_KEY, f.session);
        this.say('Waiting for the visitor to accept\u2026');
        break;
      case 'sharing':
        sessionStorage.setItem(SESSION_KEY, f.session);
        this.say('You see the visitor\u2019s page. Click on it to highlight.');
        this.tools.hidden = false;
        break;
      case 'snapshot':
        this.mirror.snapshot(f);
        this.card.dataset.url = String(f.url || '');
        break;
      case 'mutations':
        this.mirror.mutations(f);
        break;
      case 'scroll':
        this.mirror.scroll(f);
        break;
      case 'viewport':
        this.mirror.size(f.w, f.h);
        break;
      case 'input':
        this.mirror.input(f);
        break;
      case 'pointer':
        this.visitorPointer.hidden = false;
        this.visitorPointer.style.transform = `translate(${(Number(f.x) || 0) * this.mirror.scale}px,${(Number(f.y) || 0) * this.mirror.scale}px)`;
        break;
      case 'paused':
        this.say('The visitor\u2019s page is loading\u2026');
        break;
      case 'control':
        this.control = !!f.granted;
        this.controlInput.disabled = !this.control;
        this.card.dataset.control = this.control ? 'granted' : '';
        this.say(this.control ? 'You may click and type for the visitor (not submit).' : 'The visitor keeps control.');
        break;
      case 'ended':
        this.end(f.reason);
        break;
      case 'error':
        this.say(String(f.message || 'Refused.'));
        break;
    }
  }

  end(reason) {
    const why = {
      declined: 'The visitor declined.',
      stopped: 'The visitor stopped sharing.',
      visitor_left: 'The visitor left.',
      too_slow: 'The view fell behind; join again.',
      replaced: 'The view is open elsewhere.',
      left: 'You left.',
    };
    sessionStorage.removeItem(SESSION_KEY);
    this.tools.hidden = true;
    this.control = false;
    this.controlInput.disabled = true;
    this.card.dataset.ended = reason;
    this.say(why[reason] || 'Co-browsing ended.');
    if (this.ws) this.ws.close();
    this.loaded = false;
    this.iframe.src = '/cobrowse/frame';
  }

  /** A click on the view: with control, a click on the page; else a highlight. */
  pick(x, y) {
    const hit = this.mirror.idAt(x, y);
    if (!hit) return;
    if (!this.control) {
      this.send({ type: 'highlight', id: hit.id });
      return;
    }
    this.send({ type: 'click', id: hit.id });
    const tag = hit.node.localName;
    if (tag === 'input' || tag === 'textarea' || tag === 'select') {
      this.target = hit.id;
      this.controlInput.value = '';
      this.controlInput.focus();
    }
  }
}

function mount() {
  const host = document.querySelector('#console-view main.workspace') || document.body;
  const css = el('link', { rel: 'stylesheet', href: '/cobrowse.css' });
  document.head.append(css);
  return new View(host);
}

if (typeof document !== 'undefined' && document.querySelector) {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mount, { once: true });
  else mount();
}
