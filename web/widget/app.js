/**
 * Switchboard visitor chat panel.
 *
 * Imported lazily by the loader (widget.js) and mounted into the launcher's shadow
 * root. The loader owns the WebSocket; this module gets a small handle (`ctx`):
 *   ctx.send(frame)      -> false when the socket is down
 *   ctx.subscribe(fn)    -> replays the last `welcome` and later frames, then live ones;
 *                           `{type:"_link", up}` reports the socket going down or up
 *   ctx.root / ctx.launcher / ctx.status / ctx.link / ctx.origin
 *   ctx.hello()          -> the loader's `hello` frame (context, identity, resume)
 *
 * Calls: when the link offers them (`welcome.calls`), "Call" and "Video" open the
 * call window (widget/call.html on the server's origin) in a popup, which joins as
 * another tab of the same visitor and owns the call's media. The page can then be
 * left or navigated without dropping the call; the panel only shows that a call is
 * in progress and brings the window back to the front.
 *
 * All visitor and agent text is rendered with textContent, never as markup.
 */

const MAX_TEXT = 2000;
/** Send `typing: false` after this long without a keystroke. */
const TYPING_IDLE_MS = 1500;
/** Hide the agent's typing indicator if no update arrives for this long. */
const TYPING_STALE_MS = 15000;
/** An echo of the visitor's own message is matched to its optimistic row within this window. */
const ECHO_WINDOW_MS = 60000;
/** Size of the call window. */
const CALL_WINDOW = 'popup,width=380,height=560';
const MEDIA_NAME = { voice: 'Voice call', video: 'Video call' };

const CSS = `
.panel{position:fixed;right:16px;bottom:16px;z-index:2147483000;width:min(360px,calc(100vw - 32px));height:min(520px,calc(100vh - 32px));display:flex;flex-direction:column;background:#fff;color:#1d2433;border-radius:14px;box-shadow:0 12px 40px rgba(16,24,40,.28);overflow:hidden;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.panel[hidden]{display:none}
.head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--sb-accent);color:var(--sb-accent-ink)}
.head h2{flex:1;margin:0;font-size:15px;font-weight:600}
.icon{border:0;background:transparent;color:inherit;font:inherit;font-size:20px;line-height:1;padding:2px 8px;border-radius:6px;cursor:pointer}
.icon:hover{background:rgba(255,255,255,.18)}
.state{margin:0;padding:8px 14px;font-size:12px;color:#4a5368;background:#f3f5f9;border-bottom:1px solid #e4e8ef}
.state.err{color:#a11d2c;background:#fdecee}
.cb{display:flex;flex-wrap:wrap;gap:8px;padding:10px 14px;border-bottom:1px solid #e4e8ef}
.cb[hidden]{display:none}
.cb input{flex:1 1 140px;min-width:0}
.log{flex:1;margin:0;padding:12px 14px;list-style:none;overflow-y:auto;display:flex;flex-direction:column;gap:8px}
.msg{max-width:85%;padding:8px 11px;border-radius:12px;background:#eef1f6;white-space:pre-wrap;overflow-wrap:anywhere}
.msg .who{display:block;font-size:11px;font-weight:600;color:#5b6478;margin-bottom:2px}
.msg.visitor{align-self:flex-end;background:var(--sb-accent);color:var(--sb-accent-ink)}
.msg.visitor .who{color:inherit;opacity:.8}
.msg.pending{opacity:.65}
.msg.system{align-self:center;background:transparent;color:#5b6478;font-size:12px;padding:2px}
.typing{margin:0;padding:0 14px 6px;font-size:12px;font-style:italic;color:#5b6478}
.compose{display:flex;flex-direction:column;gap:8px;padding:10px 14px 14px;border-top:1px solid #e4e8ef}
textarea,input{box-sizing:border-box;width:100%;resize:none;border:1px solid #c9d0dc;border-radius:8px;padding:8px 10px;font:inherit;color:inherit}
textarea:focus,input:focus{outline:2px solid var(--sb-accent);outline-offset:0;border-color:transparent}
.actions{display:flex;justify-content:space-between;gap:8px}
.btn{border:1px solid #c9d0dc;background:#fff;color:#1d2433;border-radius:8px;padding:7px 14px;font:inherit;cursor:pointer}
.btn.primary{border-color:var(--sb-accent);background:var(--sb-accent);color:var(--sb-accent-ink);font-weight:600}
.btn[disabled]{opacity:.5;cursor:not-allowed}
.btn:focus-visible,.icon:focus-visible{outline:3px solid #ffbf47;outline-offset:1px}
.calls{display:flex;gap:8px;padding:10px 14px;border-bottom:1px solid #e4e8ef}
.calls[hidden],.callbar[hidden]{display:none}
.calls .btn{flex:1;display:inline-flex;align-items:center;justify-content:center;gap:6px}
.compose[hidden]{display:none}
.callbar{display:flex;flex-wrap:wrap;align-items:center;gap:8px;padding:10px 14px;background:#eaf7ef;border-bottom:1px solid #cfe9d8}
.callbar p{flex:1 1 100%;margin:0;font-weight:600;color:#15603a}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

// Static structure only: no data is ever interpolated here.
const TEMPLATE = `
<section class="panel" role="dialog" aria-modal="false" hidden>
  <header class="head">
    <h2 class="title"></h2>
    <button type="button" class="icon min" aria-label="Minimise chat" title="Minimise">&#8211;</button>
  </header>
  <p class="state" data-testid="sb-state" role="status" aria-live="polite"></p>
  <div class="calls" hidden>
    <button type="button" class="btn call-voice" data-testid="sb-call-voice" hidden><svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25c1.1.37 2.3.57 3.6.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"/></svg> Call</button>
    <button type="button" class="btn call-video" data-testid="sb-call-video" hidden><svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="currentColor" d="M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11z"/></svg> Video call</button>
    <button type="button" class="btn call-dialin" data-testid="sb-call-dialin" hidden>Call from my phone</button>
    <button type="button" class="btn call-callback" data-testid="sb-callback-open" hidden>Call me back</button>
  </div>
  <div class="callbar" data-testid="sb-callbar" hidden>
    <p class="call-status" data-testid="sb-call-status" role="status" aria-live="polite"></p>
    <button type="button" class="btn primary call-focus" data-testid="sb-call-focus">Show call window</button>
    <button type="button" class="btn call-hangup" data-testid="sb-call-hangup">Hang up</button>
  </div>
  <form class="cb" hidden>
    <label class="sr" for="sb-phone">Your phone number</label>
    <input id="sb-phone" type="tel" data-testid="sb-callback-phone" autocomplete="tel" maxlength="20"
      placeholder="+1 555 123 4567">
    <button type="submit" class="btn primary" data-testid="sb-callback-submit">Call me back when you open</button>
  </form>
  <ol class="log" data-testid="sb-chat-log" role="log" aria-live="polite" aria-label="Conversation"></ol>
  <p class="typing" data-testid="sb-typing" hidden>Agent is typing…</p>
  <form class="compose">
    <label class="sr" for="sb-input">Your message</label>
    <textarea id="sb-input" data-testid="sb-chat-input" rows="2" maxlength="${MAX_TEXT}"
      placeholder="Type your message…" autocomplete="off"></textarea>
    <div class="actions">
      <button type="button" class="btn end" data-testid="sb-end">End chat</button>
      <button type="submit" class="btn primary" data-testid="sb-chat-send">Send</button>
    </div>
  </form>
</section>`;

/** Mounts the panel into the loader's shadow root and returns its controller. */
export function mount(ctx) {
  return new ChatPanel(ctx);
}

class ChatPanel {
  constructor(ctx) {
    this.ctx = ctx;
    /** `idle` | `starting` | `queued` | `connected` | `ended` | `unavailable` | `callback` */
    this.state = 'idle';
    this.agentName = '';
    this.position = null;
    this.waitSeconds = null;
    this.linkUp = true;
    /** Optimistic rows for the visitor's own messages, waiting for the server's echo. */
    this.pending = [];
    this.typingSent = false;
    this.typingTimer = 0;
    this.staleTimer = 0;
    this.errorTimer = 0;
    this.error = '';
    /** Media this link offers by call (`welcome.calls`). */
    this.calls = [];
    /** The call in progress, `{media, state}` from `welcome.call` / `call_state`, or null. */
    this.call = null;
    /** The call window, while this page opened it (else found again by name). */
    this.callWin = null;

    const style = document.createElement('style');
    style.textContent = CSS;
    const tpl = document.createElement('template');
    tpl.innerHTML = TEMPLATE;
    ctx.root.append(style, tpl.content);

    const $ = (sel) => ctx.root.querySelector(sel);
    this.panel = $('.panel');
    this.title = $('.title');
    this.stateLine = $('.state');
    this.log = $('.log');
    this.typing = $('.typing');
    this.form = $('.compose');
    this.input = $('textarea');
    this.endBtn = $('.end');
    this.cbForm = $('.cb');
    this.cbButton = $('.cb button');
    this.phone = $('.cb input');
    this.callsRow = $('.calls');
    this.callVoice = $('.call-voice');
    this.callVideo = $('.call-video');
    this.callDialIn = $('.call-dialin');
    this.callCallback = $('.call-callback');
    this.callFocus = $('.call-focus');
    this.callbar = $('.callbar');
    this.callStatus = $('.call-status');

    const name = ctx.welcome?.link_name || ctx.link;
    this.title.textContent = `Chat with ${name}`;
    this.panel.setAttribute('aria-label', `Chat with ${name}`);
    this.panel.id = `sb-panel-${ctx.link}`;
    ctx.launcher.setAttribute('aria-controls', this.panel.id);

    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendText();
    });
    this.input.addEventListener('keydown', (ev) => {
      // Enter sends; Shift+Enter starts a new line.
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.sendText();
      }
    });
    this.cbForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.askCallback(this.askingDialIn ? 'dial_in' : 'callback');
    });
    this.input.addEventListener('input', () => this.noteTyping());
    this.endBtn.addEventListener('click', () => this.end());
    this.callVoice.addEventListener('click', () => this.startCall('voice'));
    this.callVideo.addEventListener('click', () => this.startCall('video'));
    // A number lent to this visitor; the agent reserved for them answers it.
    // It connects only from the phone the visitor names, so ask for it first.
    this.callDialIn.addEventListener('click', () => {
      this.askingDialIn = true;
      this.render();
      this.phone.focus();
    });
    this.callCallback.addEventListener('click', () => this.openCallback());
    $('.call-focus').addEventListener('click', () => this.focusCall());
    $('.call-hangup').addEventListener('click', () => this.ctx.send({ type: 'end' }));
    // The call window reports a call that never started (no microphone...),
    // and a visitor who would rather chat.
    addEventListener('message', (ev) => {
      const d = ev.data;
      if (ev.origin !== ctx.origin || d?.link !== ctx.link) return;
      if (d.type === 'switchboard:no-call' && this.call?.state === 'starting') this.call = null;
      if (d.type === 'switchboard:chat') {
        if (this.call?.state === 'starting') this.call = null;
        this.open();
        this.addRow('system', 'Type your message to start a chat.');
      }
      this.render();
    });
    $('.min').addEventListener('click', () => this.close());
    this.panel.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') this.close();
    });
    // Only one panel open per page: close ours when another widget opens.
    addEventListener('switchboard:open', (ev) => {
      if (ev.detail !== ctx.host) this.close(false);
    });

    this.render();
    ctx.subscribe((frame) => this.onFrame(frame));
  }

  // ---- panel visibility -------------------------------------------------

  get isOpen() {
    return !this.panel.hidden;
  }

  open() {
    this.panel.hidden = false;
    this.ctx.launcher.setAttribute('aria-expanded', 'true');
    dispatchEvent(new CustomEvent('switchboard:open', { detail: this.ctx.host }));
    this.scrollToEnd();
    this.input.focus();
  }

  close(refocus = true) {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.ctx.launcher.setAttribute('aria-expanded', 'false');
    if (refocus) this.ctx.launcher.focus();
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  // ---- server frames ----------------------------------------------------

  onFrame(f) {
    switch (f.type) {
      case 'welcome':
        this.calls = Array.isArray(f.calls) ? f.calls : [];
        this.dialInOffered = !!f.dial_in;
        this.call = f.call && f.call.state !== 'ended' ? f.call : null;
        this.state = f.state || 'idle';
        this.agentName = f.agent_name || '';
        this.waitSeconds = f.wait_seconds ?? null;
        this.position = null;
        this.showTranscript(f.transcript || []);
        if (this.state === 'connected' && this.agentName) {
          this.addRow('system', `You are chatting with ${this.agentName}.`);
        } else if (this.state === 'ended') {
          this.addRow('system', 'Chat ended.');
        }
        break;
      case 'status':
        if (f.position != null) this.position = f.position;
        if (f.wait_seconds != null) this.waitSeconds = f.wait_seconds;
        // Refused because closed, and now open: the visitor may start again.
        if (this.state === 'unavailable' && this.unavailable?.reason === 'closed' && f.open) this.state = 'idle';
        break;
      case 'queued':
        this.state = 'queued';
        this.position = f.position ?? null;
        this.waitSeconds = f.wait_seconds ?? null;
        // The first message travelled inside `start`: it is delivered now.
        this.pending.forEach((p) => p.row.classList.remove('pending'));
        break;
      case 'unavailable':
        // Routing did not take the chat (closed, not entitled, nobody
        // qualified): say why; the message typed stays in the record.
        this.state = 'unavailable';
        this.unavailable = f;
        this.call = null;
        this.pending.forEach((p) => p.row.classList.remove('pending'));
        this.addRow('system', f.message || 'Chat is not available right now.');
        break;
      case 'dial_in':
        this.dialIn = f.number;
        this.askingDialIn = false;
        this.phone.value = '';
        {
          const within = Math.ceil(f.expires_in_seconds / 60);
          // With a PIN, a call from another number connects once it is keyed.
          const pin = typeof f.pin === 'string' && /^[0-9]{4,6}$/.test(f.pin) ? f.pin : null;
          const how = pin
            ? `Call ${f.number} within ${within} min and key ${pin} when you hear two beeps (not needed from the number you gave).`
            : `Call ${f.number} from your phone within ${within} min.`;
          this.addRow('system', `${how} An agent is being reserved for you.`);
        }
        break;
      case 'callback_scheduled':
        // Stored server-side: the visitor will be called around `at`.
        this.state = 'callback';
        this.callbackAt = f.at;
        this.phone.value = '';
        break;
      case 'callback_offer':
        // "Call me back" at any time, with its own form (callback.js): the
        // short form below stays for lending a number, under other ids.
        this.callbackOffer = f;
        this.phone.dataset.testid = 'sb-lend-phone';
        this.cbButton.dataset.testid = 'sb-lend-submit';
        break;
      case 'callback_cancelled':
        if (this.state === 'callback') this.state = 'idle';
        break;
      case 'connected':
        this.state = 'connected';
        this.agentName = f.agent_name || 'an agent';
        this.addRow('system', this.inCall ? `${this.agentName} answered the call.` : `${this.agentName} joined the chat.`);
        break;
      case 'call_state':
        this.call = { media: f.media || this.call?.media || 'voice', state: f.state };
        // The lent number belongs to this call; it may have come before the
        // call's first state, so it is dropped only when the call ends.
        if (f.state === 'ended') this.dialIn = null;
        if (f.state !== 'ended' && this.state !== 'connected') this.state = f.state === 'queued' ? 'queued' : 'connected';
        break;
      case 'message':
        this.onMessage(f);
        break;
      case 'typing':
        this.showAgentTyping(!!f.active);
        break;
      case 'ended':
        this.state = 'ended';
        this.showAgentTyping(false);
        this.stopTyping();
        this.endedCall = !!this.call;
        this.dialIn = null;
        if (this.call) this.addRow('system', 'The call has ended.');
        else this.addRow('system', f.by === 'visitor' ? 'You ended the chat.' : 'The chat has ended.');
        this.call = null;
        break;
      case 'error':
        this.showError(f);
        if (this.state === 'starting') {
          // The chat did not start: take the message back into the input box.
          this.state = 'idle';
          const p = this.pending.pop();
          if (p) {
            p.row.remove();
            if (!this.input.value) this.input.value = p.text;
          }
        }
        break;
      case 'push_page':
        // The loader checked the URL, shows the notice and opens the page.
        this.addRow('system', `The agent sent you a page. Opening ${f.url}…`);
        break;
      case '_link':
        this.linkUp = f.up;
        break;
      default:
        return;
    }
    this.render();
  }

  onMessage(f) {
    // The echo of the first message shows the chat exists, even when an agent was
    // free at once and the server skipped `queued`.
    if (this.state === 'starting') this.state = 'queued';
    if (f.from === 'visitor') {
      // Our own message echoed back: confirm the optimistic row if we have one.
      const now = Date.now();
      const i = this.pending.findIndex((p) => p.text === f.text && now - p.sentAt < ECHO_WINDOW_MS);
      if (i >= 0) {
        const [p] = this.pending.splice(i, 1);
        p.row.classList.remove('pending');
        return;
      }
    }
    if (f.from === 'agent') this.showAgentTyping(false);
    this.addRow(f.from, f.text);
  }

  // ---- calls ------------------------------------------------------------

  /** A call is open (queued, ringing, talking...) in the call window. */
  get inCall() {
    return !!this.call && this.call.state !== 'ended';
  }

  get callWindowName() {
    return `sb-call-${this.ctx.tenant}-${this.ctx.link}`.replace(/[^\w-]/g, '_');
  }

  /** Opens the call window; must run inside the click (popup blockers). */
  startCall(media) {
    if (this.inCall) {
      this.focusCall();
      return;
    }
    const hello = this.ctx.hello();
    hello.resume ||= this.ctx.welcome?.resume;
    // The fragment never leaves the browser: the call window reads it and
    // connects as another tab of this visitor.
    const params = new URLSearchParams({
      tenant: this.ctx.tenant,
      link: this.ctx.link,
      media,
      name: this.ctx.welcome?.link_name || this.ctx.link,
      opener: location.origin,
      hello: JSON.stringify(hello),
    });
    const win = open(`${this.ctx.origin}/widget/call.html#${params}`, this.callWindowName, CALL_WINDOW);
    if (!win) {
      this.showError({
        message: 'Your browser blocked the call window. Allow pop-ups for this site, then press Call again.',
      });
      return;
    }
    this.callWin = win;
    this.call = { media, state: 'starting' };
    // Closed before the call started: the buttons come back.
    const watch = setInterval(() => {
      if (this.call?.state !== 'starting') clearInterval(watch);
      else if (win.closed) {
        clearInterval(watch);
        this.call = null;
        this.render();
      }
    }, 1000);
    this.render();
  }

  /** Brings the call window to the front, also after this page navigated. */
  focusCall() {
    let win = this.callWin && !this.callWin.closed ? this.callWin : null;
    if (!win) {
      // Another page of this site opened it: find it by name. A window that
      // was not there opens blank; close that one again.
      win = open('', this.callWindowName, CALL_WINDOW);
      try {
        if (win && win.location.href === 'about:blank') {
          win.close();
          win = null;
        }
      } catch {
        /* cross-origin: it is our call window */
      }
    }
    if (win) {
      this.callWin = win;
      win.focus();
    } else {
      this.showError({ message: 'The call window was closed. Hang up here, or wait for the call to end.' });
    }
  }

  callText() {
    const what = MEDIA_NAME[this.call.media] || 'Call';
    if (this.dialIn && this.call.state !== 'connected' && this.call.state !== 'on_hold') {
      return `Call ${this.dialIn} from your phone; an agent is being reserved for you.`;
    }
    switch (this.call.state) {
      case 'starting':
        return `${what}: starting in the call window…`;
      case 'queued': {
        const line = this.position != null ? ` (number ${this.position} in line)` : '';
        return `Call in progress: waiting for an agent${line}.`;
      }
      case 'ringing':
        return 'Call in progress: ringing…';
      case 'on_hold':
        return 'Call in progress: you are on hold.';
      case 'transferring':
        return 'Call in progress: transferring you…';
      default:
        return `Call in progress${this.agentName ? ` with ${this.agentName}` : ''}.`;
    }
  }

  // ---- visitor actions --------------------------------------------------

  sendText() {
    const text = this.input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      this.showError({ message: `Messages are limited to ${MAX_TEXT} characters.` });
      return;
    }
    let ok;
    if (this.canStart) {
      if (this.state !== 'idle') this.clearLog();
      ok = this.ctx.send({ type: 'start', text });
      if (ok) this.state = 'starting';
    } else {
      this.stopTyping();
      ok = this.ctx.send({ type: 'message', text });
    }
    if (!ok) {
      this.showError({ message: 'Not connected. Trying again shortly…' });
      return;
    }
    const row = this.addRow('visitor', text);
    row.classList.add('pending');
    this.pending.push({ text, row, sentAt: Date.now() });
    this.input.value = '';
    this.render();
  }

  /** Asks to be called back: while no conversation is open, or instead of
   * waiting in line (the server keeps the place). */
  askCallback(type) {
    const phone = this.phone.value.trim();
    if (!/^[\d +().-]{7,20}$/.test(phone)) {
      this.showError({ message: 'Please enter a valid phone number.' });
    } else if (!this.ctx.send({ type, phone })) {
      this.showError({ message: 'Not connected. Trying again shortly…' });
    }
  }

  /** Opens the callback form, loading it the first time. */
  async openCallback() {
    this.callbackForm ||= import(new URL('/widget/callback.js', this.ctx.origin).href).then((m) =>
      m.mount(this.ctx, {
        before: this.log,
        offer: this.callbackOffer,
        onChange: () => this.render(),
      }),
    );
    try {
      (await this.callbackForm).show();
    } catch {
      this.callbackForm = null;
      this.showError({ message: 'The callback form could not load. Please try again.' });
    }
  }

  /** No conversation is open: a message starts one, a callback may be asked for. */
  get canStart() {
    return ['idle', 'ended', 'unavailable', 'callback'].includes(this.state);
  }

  end() {
    if (this.state === 'queued' || this.state === 'connected' || this.state === 'starting') {
      this.stopTyping();
      this.ctx.send({ type: 'end' });
    }
  }

  /** Debounced typing indicator: `true` on the first keystroke, `false` once idle. */
  noteTyping() {
    if (this.state !== 'connected') return;
    if (!this.input.value) {
      this.stopTyping();
      return;
    }
    if (!this.typingSent) this.typingSent = this.ctx.send({ type: 'typing', active: true });
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingTimer);
    if (this.typingSent) {
      this.typingSent = false;
      this.ctx.send({ type: 'typing', active: false });
    }
  }

  // ---- rendering --------------------------------------------------------

  showAgentTyping(active) {
    clearTimeout(this.staleTimer);
    this.typing.hidden = !active;
    if (active) this.staleTimer = setTimeout(() => (this.typing.hidden = true), TYPING_STALE_MS);
  }

  showError(f) {
    clearTimeout(this.errorTimer);
    this.error = f.message || 'Something went wrong.';
    this.errorTimer = setTimeout(() => {
      this.error = '';
      this.render();
    }, 6000);
    this.render();
  }

  clearLog() {
    this.log.replaceChildren();
    this.pending = [];
  }

  showTranscript(transcript) {
    this.clearLog();
    for (const m of transcript) this.addRow(m.from, m.text);
  }

  /** Appends one message row; text only ever goes through textContent. */
  addRow(from, text) {
    const row = document.createElement('li');
    const kind = from === 'visitor' || from === 'agent' ? from : 'system';
    row.className = `msg ${kind}`;
    row.dataset.from = kind;
    if (kind !== 'system') {
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = kind === 'visitor' ? 'You' : this.agentName || 'Agent';
      row.append(who);
    }
    const body = document.createElement('span');
    body.className = 'text';
    body.textContent = String(text ?? '');
    row.append(body);
    this.log.append(row);
    this.scrollToEnd();
    return row;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** Updates the state line and the controls from the current state. */
  render() {
    const inCall = this.inCall;
    this.callbar.hidden = !inCall;
    if (inCall) this.callStatus.textContent = this.callText();
    this.form.hidden = inCall;
    const offers = (m) => this.calls.includes(m) && this.canStart && !inCall;
    this.callVoice.hidden = !offers('voice');
    this.callVideo.hidden = !offers('video');
    this.callDialIn.hidden = !(this.dialInOffered && this.canStart && !inCall);
    this.callCallback.hidden = !(this.callbackOffer && !inCall && (this.canStart || this.state === 'queued'));
    this.callsRow.hidden = this.callVoice.hidden && this.callVideo.hidden && this.callDialIn.hidden && this.callCallback.hidden;
    // A call on the visitor's own phone has no call window.
    this.callFocus.hidden = !!this.dialIn;

    const live = this.state === 'queued' || this.state === 'connected' || this.state === 'starting';
    this.endBtn.disabled = !live;
    this.endBtn.textContent = this.state === 'connected' ? 'End chat' : 'Leave queue';
    if (!live) this.endBtn.textContent = 'End chat';

    let line;
    if (this.error) line = this.error;
    else if (!this.linkUp) line = 'Connection lost. Reconnecting…';
    else line = this.stateText();
    this.stateLine.textContent = line;
    this.stateLine.classList.toggle('err', !!this.error || !this.linkUp);

    // Closed: a call back at the opening. Waiting in line: a call back instead,
    // keeping the place in line (virtual hold).
    this.cbForm.hidden = inCall || (this.callbackOffer && !this.askingDialIn) || !(
      (this.askingDialIn && this.canStart) ||
      this.state === 'unavailable' ||
      this.state === 'queued' ||
      (this.state === 'idle' && this.ctx.status?.open === false)
    );
    this.cbButton.textContent = this.askingDialIn
      ? 'Get a number to call from this phone'
      : this.state === 'queued'
        ? 'Call me back instead (keeps my place)'
        : 'Call me back when you open';

    this.input.placeholder = this.canStart ? 'Type a message to start a chat…' : 'Type your message…';
  }

  stateText() {
    if (this.inCall) return this.dialIn ? 'Call on your phone.' : `${MEDIA_NAME[this.call.media] || 'Call'} in the call window.`;
    const minutes = (s) => (s > 30 ? `about ${Math.ceil(s / 60)} min` : 'less than a minute');
    switch (this.state) {
      case 'starting':
        return 'Starting your chat…';
      case 'queued': {
        const parts = ['Waiting for an agent'];
        if (this.position != null) parts.push(`you are number ${this.position} in line`);
        if (this.waitSeconds != null) parts.push(`estimated wait ${minutes(this.waitSeconds)}`);
        return `${parts.join(' · ')}.`;
      }
      case 'connected':
        return `Connected to ${this.agentName || 'an agent'}.`;
      case 'callback': {
        const at = this.callbackAt ? ` around ${openingText(this.callbackAt).replace(/^(at|on) /, '')}` : ' soon';
        return `We will call you back${at}.`;
      }
      case 'ended':
        return this.endedCall ? 'Call ended. Type a message to chat with us.' : 'Chat ended. Type a message to start a new chat.';
      case 'unavailable': {
        const u = this.unavailable || {};
        const opens = u.next_open ? ` We open again ${openingText(u.next_open)}.` : '';
        return `${u.message || 'Chat is not available right now.'}${opens}`;
      }
      default: {
        const s = this.ctx.status;
        if (s && s.open === false) {
          const opens = s.next_open ? ` We open again ${openingText(s.next_open)}.` : '';
          return `We are closed right now.${opens} You can leave a message.`;
        }
        if (s && !s.available) return 'No one is available right now. You can still leave a message.';
        return 'Ask us anything. An agent will answer here.';
      }
    }
  }
}

/** "at 09:00" today, else "on Tue 09:00" ("on Tue, 1 Dec 09:00" a week or
 * more ahead), in the visitor's own time zone. */
function openingText(ms) {
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === new Date().toDateString()) return `at ${time}`;
  // A weekday alone is ambiguous a week or more ahead: add the date.
  const far = ms - Date.now() > 6 * 864e5;
  const day = d.toLocaleDateString([], far ? { weekday: 'short', day: 'numeric', month: 'short' } : { weekday: 'short' });
  return `on ${day} ${time}`;
}
