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

import { Whiteboard } from '/widget/whiteboard.js';
import { Mirror, assetUrl } from '/mirror.js';

const SESSION_KEY = 'sb:cobrowse:view';

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
    this.boardButton = el('button', { type: 'button', className: 'btn', testid: 'whiteboard-open', textContent: 'Whiteboard' });
    const boardBar = el('div', { className: 'cb-row' }, this.boardButton);
    const joinForm = el('form', { className: 'cb-row' }, this.codeInput, this.joinButton);
    const pushForm = el('form', { className: 'cb-row' }, this.pushUrl, this.pushButton);
    this.tools = el('div', { className: 'cb-tools', hidden: true }, pushForm, el('div', { className: 'cb-row' }, this.controlButton, this.controlInput, this.leaveButton), boardBar, this.stage);
    this.card = el('section', { className: 'card cobrowse', testid: 'cobrowse', 'aria-label': 'Co-browse' }, el('h2', { textContent: 'Co-browse' }), joinForm, this.status, this.tools);
    host.append(this.card);
    this.mirror = new Mirror(this.iframe, (text) => this.say(text), this.visitorPointer);
    this.board = new Whiteboard({ stage: this.stage, bar: boardBar, send: (f) => this.send(f), side: 'agent', prefix: 'whiteboard' });
    // The board covers the visitor's viewport as the view shows it, so a
    // fraction of it is the same place on both sides.
    this.mirror.resized = (w, h) => Object.assign(this.board.canvas.style, { width: `${w}px`, height: `${h}px` });
    this.boardButton.addEventListener('click', () => this.board.show(!this.board.shown, this.board.blank));

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
        // The contact's record lists what is done in this session.
        this.open({ type: 'join', code: f.code, contact: Number(f.contact) });
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
    if (f.type === 'snapshot') this.card.dataset.url = String(f.url || '');
    if (Array.isArray(f.asset_origins)) this.mirror.assetOrigins = f.asset_origins.map(String);
    if (this.mirror.apply(f) || this.board.apply(f)) return;
    switch (f.type) {
      case 'joined':
        sessionStorage.setItem(SESSION_KEY, f.session);
        this.say('Waiting for the visitor to accept\u2026');
        break;
      case 'sharing':
        sessionStorage.setItem(SESSION_KEY, f.session);
        this.mirror.asset = assetUrl(f.session);
        this.say('You see the visitor\u2019s page. Click on it to highlight.');
        this.tools.hidden = false;
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
    this.board.set(false, false, []);
    this.control = false;
    this.controlInput.disabled = true;
    this.card.dataset.ended = reason;
    this.say(why[reason] || 'Co-browsing ended.');
    if (this.ws) this.ws.close();
    this.mirror.restart();
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
