/**
 * Switchboard agent console.
 *
 * Flow: `GET /api/v1/me` decides between the sign-in form and the console. The
 * console opens the agent WebSocket and reacts to its frames (docs/protocol.md):
 * `hello` restores state, `offer` rings with a screen pop and a countdown,
 * `assigned` opens a conversation, `ended` asks for a wrap-up, `wrapped` closes it.
 * `callback` asks the agent to dial a visitor and report with `callback_result`.
 * Voice and video contacts (`media`) are calls: the Accept click starts the
 * microphone (and camera), `assigned` sends the offer (`call_sdp`), `call_answer`
 * completes it, `call_state` drives the call panel (call-panel.js).
 * Visitor text is only ever rendered as text nodes.
 */
import { api, login, logout, me } from '/common/api.js';
import { h, flash, formatTime } from '/common/dom.js';
import { AgentSocket } from './agent-socket.js';
import { AgentCall, getLocalMedia, releaseLocalMedia } from './call.js';
import { CallPanel, DEFAULT_MEDIA, describeSettings, isCall } from './call-panel.js';
import { CallbackList } from './callbacks.js';
import './screen-pop.js';

const $ = (id) => document.getElementById(id);
const TYPING_IDLE_MS = 1500;
const TYPING_STALE_MS = 15000;
const ECHO_WINDOW_MS = 60000;

// ---------------------------------------------------------------------------
// Sign-in
// ---------------------------------------------------------------------------

const loginView = $('login-view');
const consoleView = $('console-view');
const loginError = $('login-error');

async function showLogin() {
  consoleView.hidden = true;
  loginView.hidden = false;
  document.title = 'Sign in - Switchboard';
  const tenant = $('login-tenant');
  (tenant.value ? $('login-user') : tenant).focus();
  if (!tenant.value) {
    try {
      const hint = await api('/api/v1/login-hint');
      if (hint?.tenant && !tenant.value) {
        tenant.value = hint.tenant;
        if (document.activeElement === tenant) $('login-user').focus();
      }
    } catch {
      /* no hint: the agent types the tenant */
    }
  }
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const submit = ev.submitter || ev.target.querySelector('[type=submit]');
  const tenant = $('login-tenant').value.trim();
  const name = $('login-user').value.trim();
  const password = $('login-password').value;
  if (!tenant || !name || !password) {
    showLoginError('Enter the tenant, your user name and your password.');
    return;
  }
  submit.disabled = true;
  loginError.hidden = true;
  try {
    const { user } = await login(tenant, name, password);
    $('login-password').value = '';
    startConsole(user);
  } catch (err) {
    if (err.status === 401) showLoginError('Wrong tenant, user name or password.');
    else if (err.status === 429) showLoginError('Too many sign-in attempts. Wait a minute, then try again.');
    else showLoginError(err.message || 'Sign-in failed.');
  } finally {
    submit.disabled = false;
  }
});

function showLoginError(message) {
  loginError.textContent = message;
  loginError.hidden = false;
}

// ---------------------------------------------------------------------------
// Console state
// ---------------------------------------------------------------------------

/**
 * A conversation the agent holds.
 * @typedef {{id:number, screenpop:object, messages:Array, state:'connected'|'wrapup',
 *   endedBy?:string, visitorTyping:boolean, draft:string, unread:number, pending:Array}} Conversation
 */

/** @type {Map<number, Conversation>} */
const conversations = new Map();
/** Pending offers by contact id: {screenpop, expiresAt, total}. */
const offers = new Map();
/** Callbacks to dial by contact id: {phone, attempt, screenpop}. */
const callbacks = new Map();
/** Devices asked for at the Accept click of a call, by contact id (a getUserMedia promise). */
const pendingMedia = new Map();
let selectedId = null;
let wrapupCodes = [];
let agentState = 'offline';
let socket = null;
let countdownTimer = 0;
let typingTimer = 0;
let typingSentFor = null;
let typingStaleTimer = 0;
/** The conversation whose draft is in the input box. */
let renderedChatId = null;

const statusSelect = $('agent-status');
const notice = $('notice');
const callbackList = new CallbackList($('callback-list'), (message) => flash(notice, message, { error: true }));
const chatLog = $('chat-log');
const chatInput = $('chat-input');
const offerPop = $('offer-pop');
const activePop = $('active-pop');
const callPanel = new CallPanel({
  send: (frame) => !!socket?.send(frame),
  reconnect: (conv) => startCall(conv, getLocalMedia(conv.media)),
  problem: (message) => flash(notice, message, { error: true }),
});

function startConsole(user) {
  loginView.hidden = true;
  consoleView.hidden = false;
  document.title = 'Switchboard';
  $('agent-name').textContent = user.display_name || user.name || '';
  $('nav-supervisor').hidden = !['supervisor', 'admin'].includes(user.role);
  $('nav-admin').hidden = user.role !== 'admin';
  closeCalls();
  conversations.clear();
  offers.clear();
  callbacks.clear();
  selectedId = null;
  renderAll();
  renderCallbacks();
  callbackList.start();

  socket?.close();
  socket = new AgentSocket();
  socket.addEventListener('frame', (ev) => onFrame(ev.detail));
  socket.addEventListener('link', (ev) => onLink(ev.detail.up));
  socket.connect();
}

async function onLink(up) {
  const conn = $('conn');
  conn.textContent = up ? 'Connected' : 'Reconnecting…';
  conn.classList.toggle('down', !up);
  statusSelect.disabled = !up;
  if (up) return;
  // Offers die with the socket; the server re-offers elsewhere. Callback cards
  // stay: the agent may be on the phone, and can report once reconnected.
  offers.clear();
  renderOffer();
  // A closed socket may mean the session expired: then sign in again.
  try {
    await me();
  } catch (err) {
    if (err.status === 401) {
      socket?.close();
      socket = null;
      showLogin();
    }
  }
}

// ---------------------------------------------------------------------------
// Server frames
// ---------------------------------------------------------------------------

function onFrame(f) {
  switch (f.type) {
    case 'hello':
      wrapupCodes = Array.isArray(f.wrapup_codes) ? f.wrapup_codes : [];
      if (f.agent?.display_name) $('agent-name').textContent = f.agent.display_name;
      setAgentState(f.state, f.reason);
      callPanel.configure(f);
      {
        // A reconnect of the socket alone keeps the calls' media: carry it over.
        const before = new Map(conversations);
        conversations.clear();
        for (const c of f.contacts || []) {
          const conv = addConversation(c.contact, c.screenpop, c.transcript, c.state === 'wrapup' ? 'wrapup' : 'connected', c.media);
          const old = before.get(c.contact);
          if (old) {
            for (const key of ['call', 'callState', 'recording', 'connectedAt', 'endedAt', 'mc']) conv[key] = old[key];
            before.delete(c.contact);
          } else if (isCall(conv.media) && conv.state === 'connected') {
            conv.callState = 'connected'; // in progress, but this page has no media for it
          }
        }
        for (const old of before.values()) old.call?.close();
      }
      if (!conversations.has(selectedId)) selectedId = conversations.keys().next().value ?? null;
      renderWrapupCodes();
      renderAll();
      break;
    case 'state':
      setAgentState(f.state, f.reason);
      break;
    case 'offer':
      offers.set(f.contact, {
        media: f.media || 'chat',
        screenpop: f.screenpop,
        total: Math.max(1, Number(f.expires_in) || 0),
        expiresAt: Date.now() + (Number(f.expires_in) || 0) * 1000,
      });
      renderOffer();
      ring();
      break;
    case 'offer_cancelled': {
      const had = offers.delete(f.contact);
      releaseLocalMedia(pendingMedia.get(f.contact));
      pendingMedia.delete(f.contact);
      renderOffer();
      if (had) {
        const why = { timeout: 'it was not answered in time', abandoned: 'the visitor left', declined: 'it was declined' };
        flash(notice, `Offer withdrawn: ${why[f.reason] || f.reason || 'cancelled'}.`);
      }
      break;
    }
    case 'callback':
      callbacks.set(f.contact, { phone: String(f.phone ?? ''), attempt: f.attempt, screenpop: f.screenpop });
      renderCallbacks();
      callbackList.refresh();
      break;
    case 'assigned':
      offers.delete(f.contact);
      // The callback reached the visitor: its card gives way to the conversation.
      if (callbacks.delete(f.contact)) renderCallbacks();
      {
        const conv = addConversation(f.contact, f.screenpop, f.transcript, 'connected', f.media);
        if (isCall(conv.media)) {
          startCall(conv, pendingMedia.get(f.contact) || getLocalMedia(conv.media));
          pendingMedia.delete(f.contact);
        }
      }
      selectedId = f.contact;
      renderAll();
      chatInput.focus();
      break;
    case 'call_answer':
      conversations.get(f.contact)?.call?.answer(f.sdp);
      break;
    case 'call_state': {
      const conv = conversations.get(f.contact);
      if (!conv) break;
      conv.callState = f.state;
      if (f.recording != null) conv.recording = !!f.recording;
      if (f.state === 'connected' && !conv.connectedAt) conv.connectedAt = Date.now();
      if (f.state === 'ended') endCall(conv);
      if (conv.id === selectedId) callPanel.render();
      renderList();
      break;
    }
    case 'media_control_result': {
      const conv = conversations.get(f.contact);
      if (!conv) break;
      if (f.accepted) {
        Object.assign(conv.mc.values, f.applied || {});
        const what = describeSettings(f.applied);
        conv.mc.result = what ? `The visitor allowed: ${what}.` : 'The visitor allowed, but nothing could be changed.';
      } else {
        conv.mc.result = 'The visitor refused the change.';
      }
      if (conv.id === selectedId) callPanel.render();
      break;
    }
    case 'cobrowse_code':
    case 'cobrowse_declined':
      // The visitor's answer to "See the visitor's page" (cobrowse.js).
      document.dispatchEvent(new CustomEvent('sb:cobrowse', { detail: f }));
      break;
    case 'screenpop': {
      // Fresh details for a contact (e.g. the visitor moved to another page).
      const offer = offers.get(f.contact);
      if (offer) {
        offer.screenpop = f.screenpop;
        renderOffer();
      }
      const cb = callbacks.get(f.contact);
      if (cb) {
        cb.screenpop = f.screenpop;
        renderCallbacks();
      }
      const conv = conversations.get(f.contact);
      if (conv) {
        conv.screenpop = f.screenpop || {};
        renderAll();
      }
      break;
    }
    case 'message':
      onMessage(f);
      break;
    case 'typing': {
      const conv = conversations.get(f.contact);
      if (!conv) break;
      conv.visitorTyping = !!f.active;
      if (f.contact === selectedId) renderTyping();
      break;
    }
    case 'ended': {
      const conv = conversations.get(f.contact);
      if (!conv) break;
      conv.state = 'wrapup';
      conv.endedBy = f.by;
      conv.visitorTyping = false;
      if (typingSentFor === f.contact) stopTyping();
      const who = { visitor: 'The visitor', agent: 'You', system: 'The system' }[f.by] || 'Someone';
      const what = isCall(conv.media) ? 'call' : 'chat';
      if (conv.transferTo && f.by !== 'visitor') {
        conv.messages.push({ from: 'system', text: `Transferred to ${conv.transferTo}.`, at: Date.now() });
      } else {
        conv.messages.push({ from: 'system', text: `${who} ended the ${what}.`, at: Date.now() });
      }
      if (isCall(conv.media)) endCall(conv);
      renderAll();
      break;
    }
    case 'wrapped': {
      // Also the end of a blind transfer: the contact left this agent at once.
      const conv = conversations.get(f.contact);
      conv?.call?.close();
      conversations.delete(f.contact);
      if (selectedId === f.contact) selectedId = conversations.keys().next().value ?? null;
      flash(notice, conv?.transferTo && conv.state === 'connected' ? `Transferred to ${conv.transferTo}.` : 'Wrap-up saved.');
      renderAll();
      break;
    }
    case 'error':
      // An accept that failed (e.g. the offer just expired) frees the buttons again.
      for (const [id, offer] of offers) {
        if (offer.answering) {
          releaseLocalMedia(pendingMedia.get(id));
          pendingMedia.delete(id);
        }
        offer.answering = false;
      }
      if (offers.size) renderOffer();
      // A transfer that was refused: the call stays with this agent.
      for (const conv of conversations.values()) {
        if (conv.transferTo) {
          conv.transferTo = null;
          if (conv.id === selectedId) callPanel.render();
        }
      }
      flash(notice, `Server: ${f.message || f.code}`, { error: true, ms: 8000 });
      break;
    default:
      break;
  }
}

function onMessage(f) {
  const conv = conversations.get(f.contact);
  if (!conv) return;
  if (f.from === 'agent') {
    // Our own reply echoed back: confirm the optimistic copy instead of adding another.
    const now = Date.now();
    const i = conv.pending.findIndex((p) => p.text === f.text && now - p.at < ECHO_WINDOW_MS);
    if (i >= 0) {
      const [p] = conv.pending.splice(i, 1);
      p.message.pending = false;
      p.message.at = f.at;
      if (conv.id === selectedId) renderLog();
      return;
    }
  }
  if (f.from === 'visitor') conv.visitorTyping = false;
  conv.messages.push({ from: f.from, text: f.text, at: f.at });
  if (conv.id !== selectedId) conv.unread++;
  renderAll();
}

function addConversation(id, screenpop, transcript, state, media) {
  const conv = {
    id,
    screenpop: screenpop || {},
    messages: (transcript || []).map((m) => ({ from: m.from, text: m.text, at: m.at })),
    state,
    visitorTyping: false,
    draft: '',
    unread: 0,
    pending: [],
    media: media || 'chat',
    call: null,
    callState: null,
    recording: false,
    connectedAt: 0,
    endedAt: 0,
    transferTo: null,
    mc: { values: { ...DEFAULT_MEDIA }, dirty: new Set(), result: '' },
  };
  conversations.set(id, conv);
  return conv;
}

// ---------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------

/** Connects this console to the call: devices (a getUserMedia promise), offer, `call_sdp`. */
function startCall(conv, localMedia) {
  conv.call?.close();
  const call = new AgentCall(conv.id, conv.media, (frame) => !!socket?.send(frame), $('call-audio'));
  conv.call = call;
  conv.callState ||= 'connecting';
  call.addEventListener('change', () => {
    if (conv.id === selectedId && conv.call === call) callPanel.render();
  });
  call.start(localMedia).then((ok) => {
    if (!ok && call.error) flash(notice, call.error, { error: true, ms: 8000 });
  });
}

/** The call is over for this agent: media closed, the timer stops. */
function endCall(conv) {
  conv.callState = 'ended';
  conv.endedAt ||= Date.now();
  conv.call?.close();
}

function closeCalls() {
  for (const conv of conversations.values()) conv.call?.close();
  for (const p of pendingMedia.values()) releaseLocalMedia(p);
  pendingMedia.clear();
}

function setAgentState(state, reason) {
  agentState = state || 'offline';
  let option = [...statusSelect.options].find((o) => o.value === agentState);
  if (!option) {
    // A state this console does not offer itself (e.g. `busy`): show it anyway.
    option = h('option', { value: agentState, disabled: true, text: agentState.replace(/_/g, ' ') });
    statusSelect.append(option);
  }
  statusSelect.value = agentState;
  statusSelect.dataset.state = agentState;
  $('state-reason').textContent = reason ? `(${reason.replace(/_/g, ' ')})` : '';
  const waiting = agentState === 'available';
  $('idle-title').textContent = waiting ? 'Waiting for chats' : 'Ready when you are';
  $('idle-text').textContent = waiting
    ? "You are available. Offers appear at the top of the page with the customer's details."
    : "Set your status to Available to receive chats. Offers appear at the top of the page with the customer's details.";
}

// ---------------------------------------------------------------------------
// Agent actions
// ---------------------------------------------------------------------------

statusSelect.addEventListener('change', () => {
  const state = statusSelect.value;
  if (!socket?.send({ type: 'status', state })) {
    flash(notice, 'Not connected; status not changed.', { error: true });
    setAgentState(agentState);
  }
});

$('offer-accept').addEventListener('click', () => answerOffer('accept'));
$('offer-decline').addEventListener('click', () => answerOffer('decline'));

function answerOffer(type) {
  const id = currentOfferId();
  if (id == null) return;
  const offer = offers.get(id);
  // A call: ask for the microphone (and camera) now, inside the click.
  if (type === 'accept' && isCall(offer.media) && !pendingMedia.has(id)) pendingMedia.set(id, getLocalMedia(offer.media));
  if (!socket?.send({ type, contact: id })) {
    releaseLocalMedia(pendingMedia.get(id));
    pendingMedia.delete(id);
    flash(notice, 'Not connected.', { error: true });
    return;
  }
  if (type === 'decline') offers.delete(id);
  // On accept, keep the offer until `assigned` (or an error) arrives; just lock the buttons.
  else offers.get(id).answering = true;
  renderOffer();
}

/** Reports how the call went; on `connected` the server follows with `assigned`. */
function answerCallback(id, connected) {
  if (!socket?.send({ type: 'callback_result', contact: id, connected })) {
    flash(notice, 'Not connected; result not sent.', { error: true });
    return;
  }
  callbacks.delete(id);
  callbackList.refresh();
  renderCallbacks();
}

$('compose').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sendReply();
});
chatInput.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    sendReply();
  }
});
chatInput.addEventListener('input', () => {
  const conv = conversations.get(selectedId);
  if (!conv) return;
  conv.draft = chatInput.value;
  noteTyping(conv);
});

function sendReply() {
  const conv = conversations.get(selectedId);
  const text = chatInput.value.trim();
  if (!conv || conv.state !== 'connected' || !text) return;
  stopTyping();
  if (!socket?.send({ type: 'message', contact: conv.id, text })) {
    flash(notice, 'Not connected; message not sent.', { error: true });
    return;
  }
  const message = { from: 'agent', text, at: Date.now(), pending: true };
  conv.messages.push(message);
  conv.pending.push({ text, at: Date.now(), message });
  conv.draft = '';
  chatInput.value = '';
  renderLog();
}

/** `typing: true` on the first keystroke, `false` once the agent pauses or sends. */
function noteTyping(conv) {
  if (conv.state !== 'connected') return;
  if (!chatInput.value) {
    stopTyping();
    return;
  }
  if (typingSentFor !== conv.id) {
    stopTyping();
    if (socket?.send({ type: 'typing', contact: conv.id, active: true })) typingSentFor = conv.id;
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSentFor != null) {
    socket?.send({ type: 'typing', contact: typingSentFor, active: false });
    typingSentFor = null;
  }
}

// "See the visitor's page" (cobrowse.js) asks for the selected contact;
// the event's detail learns which contact was asked, if any.
document.addEventListener('sb:cobrowse-request', (ev) => {
  const conv = conversations.get(selectedId);
  if (conv?.state === 'connected' && socket?.send({ type: 'cobrowse_request', contact: conv.id })) ev.detail.contact = conv.id;
});

$('end').addEventListener('click', () => {
  const conv = conversations.get(selectedId);
  if (conv?.state === 'connected') socket?.send({ type: 'end', contact: conv.id });
});

$('wrapup').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const conv = conversations.get(selectedId);
  const code = $('wrapup-code').value;
  if (!conv || conv.state !== 'wrapup' || !code) return;
  const frame = { type: 'wrapup', contact: conv.id, code };
  const note = $('wrapup-note').value.trim();
  if (note) frame.note = note;
  if (!socket?.send(frame)) flash(notice, 'Not connected; wrap-up not sent.', { error: true });
});

$('logout').addEventListener('click', async () => {
  callbackList.stop();
  socket?.close();
  socket = null;
  closeCalls();
  stopRing();
  try {
    await logout();
  } catch (err) {
    flash(notice, err.message, { error: true });
  }
  showLogin();
});

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function renderAll() {
  renderOffer();
  renderList();
  renderChat();
}

function currentOfferId() {
  return offers.keys().next().value ?? null;
}

function renderOffer() {
  const id = currentOfferId();
  const section = $('offer');
  clearInterval(countdownTimer);
  if (id == null) {
    section.hidden = true;
    stopRing();
    return;
  }
  const offer = offers.get(id);
  $('offer-accept').disabled = !!offer.answering;
  $('offer-decline').disabled = !!offer.answering;
  const pop = offer.screenpop || {};
  const kind = { voice: 'Incoming voice call', video: 'Incoming video call' }[offer.media] || 'Incoming chat';
  $('offer-title').textContent = `${kind}${pop.link_name ? ` · ${pop.link_name}` : ''}`;
  section.dataset.media = offer.media || 'chat';
  if (offerPop.data !== pop) offerPop.data = pop;
  section.hidden = false;
  section.classList.add('ringing');
  const tick = () => {
    const left = Math.max(0, Math.ceil((offer.expiresAt - Date.now()) / 1000));
    section.querySelector('.countdown').textContent =
      left > 0 ? `Answer within ${left} s` : 'Time is up…';
    section.querySelector('.countdown-bar span').style.width = `${(left / offer.total) * 100}%`;
    if (!left) clearInterval(countdownTimer);
  };
  tick();
  countdownTimer = setInterval(tick, 250);
}

/** `+44 ••••••••23`: enough to tell two callbacks apart at a glance. */
function maskNumber(phone) {
  const digits = String(phone || '').replace(/[^\d+]/g, '');
  if (digits.length < 6) return digits;
  return `${digits.slice(0, 3)} ${'•'.repeat(digits.length - 5)}${digits.slice(-2)}`;
}

/** One card per callback: the number to dial (a tel: link), the attempt, the screen pop. */
function renderCallbacks() {
  $('callbacks').replaceChildren(
    ...[...callbacks].map(([id, cb]) => {
      const pop = { callback_for: maskNumber(cb.phone), ...cb.screenpop };
      const meta = [`Attempt ${cb.attempt ?? 1}`, pop.link_name || pop.link, `#${id}`];
      return h(
        'section',
        {
          class: 'offer card callback',
          dataset: { testid: 'callback-card', contact: String(id) },
          attrs: { 'aria-label': 'Call back' },
        },
        h(
          'div',
          { class: 'offer-head' },
          h(
            'div',
            {},
            h('h2', { text: 'Call back' }),
            h('a', {
              class: 'callback-phone',
              href: `tel:${cb.phone.replace(/[^\d+]/g, '')}`,
              dataset: { testid: 'callback-phone' },
              text: cb.phone,
            }),
            h('p', {
              class: 'callback-meta',
              dataset: { testid: 'callback-attempt' },
              text: meta.filter(Boolean).join(' · '),
            }),
          ),
          h(
            'div',
            { class: 'offer-actions' },
            h('button', {
              type: 'button',
              class: 'btn ok',
              dataset: { testid: 'callback-connected' },
              text: 'Connected',
              on: { click: () => answerCallback(id, true) },
            }),
            h('button', {
              type: 'button',
              class: 'btn danger',
              dataset: { testid: 'callback-failed' },
              text: 'No answer',
              on: { click: () => answerCallback(id, false) },
            }),
          ),
        ),
        h('sb-screen-pop', { dataset: { testid: 'callback-screenpop' }, data: pop }),
      );
    }),
  );
}

function renderList() {
  const list = $('contact-list');
  $('contacts-empty').hidden = conversations.size > 0;
  list.replaceChildren(
    ...[...conversations.values()].map((conv) => {
      const id = conv.screenpop.identity || {};
      const name = id.name || 'Visitor';
      const selected = conv.id === selectedId;
      return h(
        'li',
        { attrs: { role: 'presentation' } },
        h(
          'button',
          {
            type: 'button',
            class: `contact-tab${selected ? ' selected' : ''}`,
            dataset: { testid: 'contact-tab', contact: String(conv.id) },
            attrs: { role: 'tab', 'aria-selected': String(selected), 'aria-controls': 'chat' },
            on: { click: () => select(conv.id) },
          },
          h('span', { class: 'tab-name', text: name }),
          h('span', {
            class: 'tab-meta muted',
            text: [`#${conv.id}`, conv.screenpop.link_name || conv.screenpop.link].filter(Boolean).join(' · '),
          }),
          isCall(conv.media)
            ? h('span', {
              class: `badge media-badge ${conv.callState === 'on_hold' ? 'warn' : conv.state === 'connected' ? 'ok' : ''}`,
              dataset: { testid: 'contact-media' },
              text: `${conv.media === 'video' ? 'Video' : 'Voice'}${conv.callState === 'on_hold' ? ' · on hold' : ''}`,
            })
            : null,
          conv.state === 'wrapup' ? h('span', { class: 'badge warn', text: 'Wrap-up' }) : null,
          conv.unread ? h('span', { class: 'badge ok', text: String(conv.unread), title: 'Unread messages' }) : null,
        ),
      );
    }),
  );
}

function select(id) {
  if (id !== selectedId) stopTyping();
  selectedId = id;
  renderAll();
  chatInput.focus();
}

function renderChat() {
  const conv = conversations.get(selectedId);
  $('chat').hidden = !conv;
  $('idle').hidden = !!conv;
  activePop.closest('aside').hidden = !conv;
  if (!conv) {
    renderedChatId = null;
    callPanel.show(null);
    return;
  }
  conv.unread = 0;
  const identity = conv.screenpop.identity || {};
  $('chat-title').textContent = `${identity.name || 'Visitor'} · #${conv.id}`;
  const kind = { voice: 'Voice call', video: 'Video call' }[conv.media] || 'Live chat';
  $('chat-state').textContent =
    conv.state === 'connected' ? `${kind}${conv.screenpop.link_name ? ` on ${conv.screenpop.link_name}` : ''}` : 'Ended: wrap-up due';
  if (activePop.data !== conv.screenpop) activePop.data = conv.screenpop;
  callPanel.show(conv);

  const live = conv.state === 'connected';
  $('compose').hidden = !live;
  // A call hangs up from its call panel.
  $('end').hidden = !live || isCall(conv.media);
  const wrapup = $('wrapup');
  const showWrapup = conv.state === 'wrapup';
  if (showWrapup && wrapup.hidden) $('wrapup-note').value = '';
  wrapup.hidden = !showWrapup;
  if (renderedChatId !== conv.id) {
    // Switching conversations swaps the draft in the input box.
    chatInput.value = conv.draft;
    renderedChatId = conv.id;
  }
  renderLog();
  renderTyping();
}

function renderWrapupCodes() {
  const select = $('wrapup-code');
  select.replaceChildren(
    h('option', { value: '', text: 'Choose…', disabled: true, selected: true }),
    ...wrapupCodes.map((code) => h('option', { value: code, text: code.replace(/[_-]/g, ' ') })),
  );
}

function renderLog() {
  const conv = conversations.get(selectedId);
  if (!conv) return;
  const atBottom = chatLog.scrollHeight - chatLog.scrollTop - chatLog.clientHeight < 40;
  const agentLabel = $('agent-name').textContent || 'You';
  const visitorLabel = conv.screenpop.identity?.name || 'Visitor';
  chatLog.replaceChildren(
    ...conv.messages.map((m) =>
      h(
        'li',
        { class: `msg ${m.from}${m.pending ? ' pending' : ''}`, dataset: { from: m.from } },
        m.from === 'system'
          ? null
          : h('span', { class: 'meta' },
            h('span', { class: 'who', text: m.from === 'agent' ? agentLabel : visitorLabel }),
            ' ',
            h('time', { class: 'at', text: formatTime(m.at) })),
        h('span', { class: 'text', text: m.text }),
      ),
    ),
  );
  if (atBottom || conv.messages.at(-1)?.from === 'agent') chatLog.scrollTop = chatLog.scrollHeight;
}

function renderTyping() {
  const conv = conversations.get(selectedId);
  const active = !!conv?.visitorTyping;
  $('typing').hidden = !active;
  clearTimeout(typingStaleTimer);
  if (active) {
    // If the "stopped typing" frame is lost, do not show the indicator forever.
    typingStaleTimer = setTimeout(() => {
      conv.visitorTyping = false;
      renderTyping();
    }, TYPING_STALE_MS);
  }
}

// ---------------------------------------------------------------------------
// Ringing: a pulsing offer card, a blinking title and a short chime
// ---------------------------------------------------------------------------

let titleTimer = 0;
let audio = null;

function ring() {
  clearInterval(titleTimer);
  let on = false;
  titleTimer = setInterval(() => {
    on = !on;
    document.title = on ? '● Incoming chat - Switchboard' : 'Switchboard';
  }, 800);
  try {
    audio ||= new AudioContext();
    const now = audio.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.15, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.17);
    }
  } catch {
    /* no audio (autoplay policy, no device): the visual ring is enough */
  }
}

function stopRing() {
  clearInterval(titleTimer);
  $('offer').classList.remove('ringing');
  if (!consoleView.hidden) document.title = 'Switchboard';
}

// ---------------------------------------------------------------------------
// Boot
// ---------------------------------------------------------------------------

(async () => {
  try {
    const { user } = await me();
    startConsole(user);
  } catch (err) {
    showLogin();
    if (err.status !== 401) showLoginError(err.message);
  }
})();
