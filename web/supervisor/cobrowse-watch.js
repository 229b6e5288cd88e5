/**
 * Shared pages on the supervisor page (docs/cobrowse.md, "Supervisors
 * watching"): the tenant's co-browse sessions that are being shared, and a
 * read-only view of one of them, as its agent sees it (the page, the
 * visitor's pointer, the whiteboard). The relay sends the page at once from
 * what it holds; the visitor's page is not asked again.
 */

import { h } from '/common/dom.js';
import { Mirror, assetUrl } from '/mirror.js';
import { Whiteboard } from '/widget/whiteboard.js';

/** How often the list is asked for while not watching. */
const LIST_MS = 3000;

class Watch {
  constructor(host) {
    this.list = h('ul', { class: 'cb-sessions', dataset: { testid: 'cobrowse-sessions' } });
    this.listNote = h('p', { class: 'muted', text: 'No page is being shared.' });
    this.status = h('p', { class: 'muted', dataset: { testid: 'cobrowse-watch-status' }, attrs: { role: 'status' } });
    // Sandboxed without scripts, as the agent's view (docs/cobrowse.md, "Rendering").
    this.iframe = h('iframe', { dataset: { testid: 'cobrowse-watch-view' }, title: 'Shared page', attrs: { sandbox: 'allow-same-origin', referrerpolicy: 'no-referrer' }, src: '/cobrowse/frame' });
    const pointer = h('div', { class: 'cb-pointer', hidden: true });
    this.stage = h('div', { class: 'cb-stage' }, this.iframe, pointer);
    this.stop = h('button', { type: 'button', class: 'btn', dataset: { testid: 'cobrowse-watch-stop' }, text: 'Stop watching' });
    this.viewer = h('div', { hidden: true }, this.stop, this.stage);
    // The board is shown, never drawn on: a supervisor only watches.
    const bar = h('div', { hidden: true });
    host.append(h('section', { class: 'card', attrs: { 'aria-label': 'Shared pages' } }, h('h2', { text: 'Shared pages' }), this.listNote, this.list, this.status, this.viewer, bar));
    this.mirror = new Mirror(this.iframe, (text) => (this.status.textContent = text), pointer);
    this.board = new Whiteboard({ stage: this.stage, bar, send: () => {}, side: 'agent', prefix: 'cobrowse-watch-board' });
    this.board.canvas.style.pointerEvents = 'none';
    this.mirror.resized = (w, h) => Object.assign(this.board.canvas.style, { width: `${w}px`, height: `${h}px` });
    this.stop.addEventListener('click', () => {
      this.send({ type: 'leave' });
    });
    this.connect();
    setInterval(() => {
      if (!this.watching) this.send({ type: 'sessions' });
    }, LIST_MS);
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: 1, ...frame }));
  }

  connect() {
    const url = new URL('/ws/cobrowse', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = (this.ws = new WebSocket(url));
    ws.addEventListener('open', () => this.send({ type: 'sessions' }));
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
      this.ended('The connection closed; reload the page to watch again.');
    });
  }

  onFrame(f) {
    // The tenant's allowed origins: their stylesheets and fonts come through the server too.
    if (Array.isArray(f.asset_origins)) this.mirror.assetOrigins = f.asset_origins.map(String);
    if (this.mirror.apply(f) || this.board.apply(f)) return;
    switch (f.type) {
      case 'sessions':
        this.show(Array.isArray(f.sessions) ? f.sessions : []);
        break;
      case 'sharing':
        this.watching = true;
        this.mirror.asset = assetUrl(f.session);
        this.viewer.hidden = false;
        this.list.hidden = true;
        this.listNote.hidden = true;
        this.status.textContent = 'Watching (read-only).';
        break;
      case 'ended':
        this.ended(f.reason === 'left' ? 'You stopped watching.' : 'Sharing ended.');
        this.send({ type: 'sessions' });
        break;
      case 'error':
        this.status.textContent = String(f.message || 'Refused.');
        break;
    }
  }

  show(sessions) {
    if (this.watching) return;
    this.listNote.textContent = sessions.length ? 'Pages being shared now:' : 'No page is being shared.';
    this.list.replaceChildren(
      ...sessions.map((s) => {
        const watch = h('button', { type: 'button', class: 'btn', dataset: { testid: 'cobrowse-watch' }, text: 'Watch' });
        watch.addEventListener('click', () => this.send({ type: 'supervise', session: String(s.session) }));
        const what = `${s.agent_name}${s.contact ? `, contact ${s.contact}` : ''}`;
        return h('li', { dataset: { testid: 'cobrowse-session' } }, h('span', { text: `${what} ` }), watch);
      }),
    );
  }

  ended(text) {
    this.watching = false;
    this.viewer.hidden = true;
    this.list.hidden = false;
    this.listNote.hidden = false;
    this.board.set(false, false, []);
    this.mirror.restart();
    this.status.textContent = text;
  }
}

function mount() {
  document.head.append(h('link', { rel: 'stylesheet', href: '/cobrowse.css' }));
  new Watch(document.querySelector('main.page') || document.body);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mount, { once: true });
else mount();
