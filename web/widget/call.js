/**
 * Switchboard call window (widget/call.html).
 *
 * Opened in a popup by the widget panel's "Call" / "Video" buttons, so the visitor
 * keeps browsing the merchant's site during the call. The fragment carries what
 * the panel knows (never sent to a server): `tenant`, `link`, `media` (`voice` or
 * `video`), `name` (the link's name), `opener` (the merchant page's origin) and
 * `hello` (the loader's hello frame: page context, identity, resume token).
 *
 * This window connects to the visitor WebSocket as another tab of the same visitor
 * (same resume token), asks for the microphone (and camera) at once, shows the
 * recording notice when the link records calls, then sends `call {media, sdp}` and
 * applies `call_answer`. The microphone reaches the connection through WebAudio
 * (source -> gain -> destination) so the agent can adjust the mic gain with the
 * visitor's consent (`media_control`). Remote audio plays in the
 * `[data-testid=sb-remote-audio]` element.
 */
import { preferCodecs } from './rtc.js';

/** The hello frame stays small: its page list is trimmed to fit (the server takes 16 KB, for SDP offers). */
const MAX_FRAME = 3900;
const STORE_KEY = 'sb:call';
const MEDIA_NAME = { voice: 'Voice call', video: 'Video call' };
/** Hold tone: two soft beeps every few seconds, so the line never sounds dead. */
const HOLD_TONE = { hz: 425, everyMs: 4000, gain: 0.06 };
const CONTROL_LABELS = {
  echo_cancellation: 'Echo cancellation',
  noise_suppression: 'Noise suppression',
  auto_gain_control: 'Automatic mic level',
  mic_gain: 'Microphone volume',
  speaker_volume: 'Speaker volume',
};
const CONSTRAINT = {
  echo_cancellation: 'echoCancellation',
  noise_suppression: 'noiseSuppression',
  auto_gain_control: 'autoGainControl',
};

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const ui = {
  main: $('sb-call'),
  title: $('sb-call-title'),
  rec: $('sb-recording-badge'),
  timer: $('sb-call-timer'),
  status: $('sb-call-state'),
  detail: $('sb-call-detail'),
  videos: $('sb-videos'),
  remoteVideo: $('sb-remote-video'),
  localVideo: $('sb-local-video'),
  hold: $('sb-hold'),
  push: $('sb-push'),
  recNotice: $('sb-recording-notice'),
  fallback: $('sb-fallback'),
  fallbackText: $('sb-fallback-text'),
  callbackForm: $('sb-callback'),
  phone: $('sb-callback-phone'),
  callbackResult: $('sb-callback-result'),
  consent: $('sb-media-consent'),
  changes: $('sb-media-changes'),
  controls: $('sb-controls'),
  mute: $('sb-mute'),
  keypadToggle: $('sb-keypad-toggle'),
  keypad: $('sb-keypad'),
  volume: $('sb-volume'),
  playAudio: $('sb-play-audio'),
  close: $('sb-close'),
  audio: $('sb-remote-audio'),
};

// ---------------------------------------------------------------------------
// Parameters: from the fragment, kept in sessionStorage so a reload finds them
// ---------------------------------------------------------------------------

function readParams() {
  let raw = location.hash.slice(1);
  try {
    if (raw) sessionStorage.setItem(STORE_KEY, raw);
    else raw = sessionStorage.getItem(STORE_KEY) || '';
  } catch {
    /* storage blocked: a reload loses the parameters */
  }
  // Keep the resume token out of the address bar.
  if (location.hash) history.replaceState(null, '', location.pathname);
  const q = new URLSearchParams(raw);
  let hello = null;
  try {
    hello = JSON.parse(q.get('hello') || 'null');
  } catch {
    hello = null;
  }
  const media = q.get('media') === 'video' ? 'video' : 'voice';
  if (!q.get('tenant') || !q.get('link') || !hello || typeof hello !== 'object') return null;
  return { tenant: q.get('tenant'), link: q.get('link'), media, name: q.get('name') || '', opener: q.get('opener') || '', hello };
}

// The panel may reuse this window for a new call: start over with the new fragment.
addEventListener('hashchange', () => {
  if (location.hash.length > 1 && !call.active) location.reload();
});

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

const params = readParams();
const call = {
  /** `starting` | `notice` | `calling` | a server call state | `ended` | `fallback` */
  phase: 'starting',
  /** The call was sent from this window and has not ended. */
  active: false,
  agentName: '',
  position: null,
  waitSeconds: null,
  recording: false,
  connectedAt: 0,
  muted: false,
};
let welcome = null;
let ws = null;
let retries = 0;
let pingTimer = 0;
let leaving = false;
/** Microphone (and camera) stream, or the error getUserMedia gave. */
let local = null;
let localError = null;
let audioCtx = null;
let micGain = null;
/** The microphone's node in the WebAudio graph (swapped when the mic is reopened). */
let micSource = null;
let sendDest = null;
let audioSender = null;
let pc = null;
let timerTick = 0;
let holdTimer = 0;
/** The media_control request on screen: `{id, settings}`. */
let pendingControl = null;
/** Constraints applied to the mic track so far (applyConstraints replaces the set). */
const micConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

// ---------------------------------------------------------------------------
// Visitor WebSocket (another tab of the same visitor)
// ---------------------------------------------------------------------------

function send(frame) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  const msg = { v: 1, ...frame };
  let text = JSON.stringify(msg);
  while (msg.context?.pages?.length && new TextEncoder().encode(text).length > MAX_FRAME) {
    msg.context.pages.shift();
    text = JSON.stringify(msg);
  }
  ws.send(text);
  return true;
}

function connect() {
  const url = new URL('/ws/visitor', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('tenant', params.tenant);
  url.searchParams.set('link', params.link);
  const sock = (ws = new WebSocket(url));
  sock.addEventListener('open', () => {
    send({ ...params.hello, type: 'hello' });
    pingTimer = setInterval(() => send({ type: 'ping' }), 25000);
  });
  sock.addEventListener('message', (ev) => {
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (frame && typeof frame.type === 'string') onFrame(frame);
  });
  sock.addEventListener('close', () => {
    clearInterval(pingTimer);
    if (ws !== sock || leaving) return;
    // The media keeps flowing without the socket; only the controls wait.
    if (call.active) call.detailOverride = 'Connection to the server lost. Reconnecting…';
    render();
    const delay = Math.min(15000, 500 * 2 ** retries++) * (0.5 + Math.random() / 2);
    setTimeout(connect, delay);
  });
}

function onFrame(f) {
  switch (f.type) {
    case 'welcome':
      retries = 0;
      call.detailOverride = '';
      onWelcome(f);
      break;
    case 'status':
      if (f.position != null) call.position = f.position;
      if (f.wait_seconds != null) call.waitSeconds = f.wait_seconds;
      break;
    case 'queued':
      call.position = f.position ?? null;
      call.waitSeconds = f.wait_seconds ?? null;
      break;
    case 'call_answer':
      pc?.setRemoteDescription({ type: 'answer', sdp: f.sdp }).catch((err) => {
        console.error('[switchboard] call answer', err);
        fail('The call could not be connected.');
      });
      return;
    case 'call_state':
      onCallState(f);
      // The call reaches a phone that takes keyed digits (a call center).
      ui.keypadToggle.hidden = !f.keypad || f.state === 'ended';
      if (ui.keypadToggle.hidden) ui.keypad.hidden = true;
      break;
    case 'connected':
      call.agentName = f.agent_name || call.agentName;
      break;
    case 'ended':
      if (call.active || call.phase === 'calling') finish(f.by === 'visitor' ? 'hangup' : 'agent');
      break;
    case 'unavailable':
      // Routing did not take the call (closed, not entitled to video...).
      if (call.active || call.phase === 'calling' || call.phase === 'ended') {
        finish('refused');
        const opens = f.next_open ? ` We open again ${whenText(f.next_open)}.` : '';
        showFallback(`${f.message || 'The call could not be taken right now.'}${opens}`);
      }
      break;
    case 'media_control':
      askConsent(f);
      break;
    case 'push_page':
      showPushedPage(f);
      break;
    case 'callback_scheduled':
      ui.callbackResult.textContent = `Thank you. We will call you back ${whenText(f.at)}.`;
      ui.callbackForm.hidden = true;
      break;
    case 'error':
      onError(f);
      break;
    default:
      return;
  }
  render();
}

function onWelcome(f) {
  welcome = f;
  call.recording = !!f.recording;
  const title = `${MEDIA_NAME[params.media]}${params.name ? ` · ${params.name}` : ''}`;
  ui.title.textContent = title;
  document.title = title;
  if (call.active) {
    // A reconnect: the call may have ended while the socket was down.
    if (!f.call || f.call.state === 'ended') finish('hangup');
    return;
  }
  if (call.phase !== 'starting') return;
  if (f.call && f.call.state !== 'ended') {
    // This window reloaded (or another window holds the call): its media is gone.
    call.phase = 'lost';
    return;
  }
  const offered = Array.isArray(f.calls) ? f.calls : [];
  if (!offered.includes(params.media)) {
    showFallback(
      params.media === 'video' ? 'Video calls are not available here.' : 'Calls are not available here.',
    );
    return;
  }
  ready();
}

function onCallState(f) {
  if (f.recording != null) call.recording = !!f.recording;
  if (!call.active && f.state !== 'ended') return; // another window's call
  call.stateSeen = true;
  if (f.state === 'ended') {
    if (call.active || call.phase === 'calling') finish(f.reason || 'hangup');
    return;
  }
  call.phase = f.state;
  if (f.state === 'connected' && !call.connectedAt) call.connectedAt = Date.now();
  playHoldTone(f.state === 'on_hold');
}

function onError(f) {
  if (call.phase === 'calling' && !call.stateSeen) {
    const why = {
      forbidden: `${MEDIA_NAME[params.media]}s are not available here.`,
      bad_state: 'A conversation is already open. End it in the chat first.',
      rate_limited: 'Too many calls at once. Please try again in a minute.',
      invalid: 'Your browser could not set up the call.',
    };
    stopMedia();
    call.active = false;
    showFallback(why[f.code] || f.message || 'The call could not start.');
  } else if (f.code === 'invalid' && !ui.fallback.hidden) {
    ui.callbackResult.textContent = f.message || 'Please check the phone number.';
  }
}

// ---------------------------------------------------------------------------
// Starting the call
// ---------------------------------------------------------------------------

/** Asks for the devices at once: the click that opened this window is the gesture. */
async function getDevices() {
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  const video = params.media === 'video' ? { width: { ideal: 640 }, height: { ideal: 480 } } : false;
  try {
    local = await navigator.mediaDevices.getUserMedia({ audio, video });
  } catch (err) {
    localError = err;
  }
  ready();
}

/** Goes on once both the devices and the welcome are there. */
function ready() {
  if (call.phase !== 'starting' || !welcome || (!local && !localError)) return;
  if (localError) {
    const name = localError.name;
    const what = params.media === 'video' ? 'microphone and camera' : 'microphone';
    const text =
      name === 'NotAllowedError' || name === 'SecurityError'
        ? `We could not use your ${what}: permission was denied.`
        : name === 'NotFoundError' || name === 'OverconstrainedError'
          ? `No ${what} was found on this device.`
          : `Your ${what} could not be started.`;
    showFallback(`${text} You can chat with us instead, or we can call you back.`);
    render();
    return;
  }
  if (call.recording) {
    call.phase = 'notice';
    render();
    ui.recNotice.querySelector('.primary').focus();
    return;
  }
  placeCall();
}

async function placeCall() {
  call.phase = 'calling';
  call.active = true;
  render();
  try {
    const offer = await buildConnection();
    if (!send({ type: 'call', media: params.media, sdp: offer })) throw new Error('not connected');
  } catch (err) {
    console.error('[switchboard] call setup', err);
    stopMedia();
    call.active = false;
    showFallback('The call could not be set up. You can chat with us instead, or we can call you back.');
    render();
  }
}

/** The RTCPeerConnection with the mic (through WebAudio) and camera; resolves to the offer SDP. */
async function buildConnection() {
  pc = new RTCPeerConnection();
  const mic = local.getAudioTracks()[0];
  const sendTrack = micPath(mic);
  const audioTx = pc.addTransceiver(sendTrack, { direction: 'sendrecv' });
  audioSender = audioTx.sender;
  preferCodecs(audioTx, 'audio');
  const cam = local.getVideoTracks()[0];
  if (params.media === 'video') {
    const videoTx = pc.addTransceiver(cam || 'video', { direction: cam ? 'sendrecv' : 'recvonly' });
    preferCodecs(videoTx, 'video');
    if (cam) ui.localVideo.srcObject = new MediaStream([cam]);
  }
  pc.addEventListener('track', (ev) => {
    const stream = new MediaStream([ev.track]);
    if (ev.track.kind === 'audio') {
      ui.audio.srcObject = stream;
      ui.audio.volume = Number(ui.volume.value);
      playRemote();
    } else {
      ui.remoteVideo.srcObject = stream;
      ui.remoteVideo.play().catch(() => {});
    }
  });
  pc.addEventListener('connectionstatechange', () => {
    if (pc?.connectionState === 'failed' && call.active) {
      send({ type: 'end' });
      finish('media_failed');
      render();
    }
  });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  return pc.localDescription.sdp;
}

/**
 * mic -> GainNode -> MediaStreamDestination, whose track is sent (so mic gain can
 * be changed). Until the AudioContext may run (autoplay rules), the raw mic track
 * is sent and swapped for the processed one once it does.
 */
function micPath(mic) {
  try {
    audioCtx = new AudioContext();
    micGain = audioCtx.createGain();
    sendDest = audioCtx.createMediaStreamDestination();
    micSource = audioCtx.createMediaStreamSource(new MediaStream([mic]));
    micSource.connect(micGain).connect(sendDest);
    const processed = sendDest.stream.getAudioTracks()[0];
    if (audioCtx.state === 'running') return processed;
    audioCtx.addEventListener('statechange', () => {
      if (audioCtx?.state === 'running' && audioSender && audioSender.track !== processed) {
        audioSender.replaceTrack(processed).catch(() => {});
      }
    });
    audioCtx.resume().catch(() => {});
  } catch {
    /* no WebAudio: send the microphone as it is */
  }
  return mic;
}

function playRemote() {
  ui.audio.play().then(
    () => (ui.playAudio.hidden = true),
    () => (ui.playAudio.hidden = false), // autoplay refused: one click turns sound on
  );
}

function stopMedia() {
  playHoldTone(false);
  pc?.close();
  pc = null;
  local?.getTracks().forEach((t) => t.stop());
  sendDest?.stream.getTracks().forEach((t) => t.stop());
  audioCtx?.close().catch(() => {});
  audioCtx = null;
  ui.audio.srcObject = null;
  ui.remoteVideo.srcObject = null;
  ui.localVideo.srcObject = null;
}

/** The call is over: media stopped, the window offers to close. */
function finish(reason) {
  call.active = false;
  call.phase = 'ended';
  call.endReason = reason;
  clearInterval(timerTick);
  stopMedia();
  hideConsent();
}

function fail(message) {
  if (call.active) send({ type: 'end' });
  finish('media_failed');
  call.failMessage = message;
  render();
}

function showFallback(text) {
  call.phase = 'fallback';
  ui.fallbackText.textContent = text;
  tellOpener({ type: 'switchboard:no-call' });
}

function tellOpener(message) {
  try {
    if (window.opener && !window.opener.closed && params.opener) {
      window.opener.postMessage({ ...message, link: params.link }, params.opener);
      return true;
    }
  } catch {
    /* the opener went to another site */
  }
  return false;
}

/** The agent on the phone sent a page: a link here (the merchant page opens it). */
function showPushedPage(f) {
  let url;
  try {
    url = new URL(f.url);
  } catch {
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return;
  const a = document.createElement('a');
  a.href = url.href;
  a.textContent = url.href;
  a.target = '_blank';
  a.rel = 'noopener';
  a.dataset.testid = 'sb-push-link';
  ui.push.replaceChildren('The agent sent you a page: ', a);
}

// ---------------------------------------------------------------------------
// Hold tone (local only: tells the visitor the line is alive)
// ---------------------------------------------------------------------------

function playHoldTone(on) {
  clearInterval(holdTimer);
  holdTimer = 0;
  ui.main.dataset.holdTone = on ? 'on' : 'off';
  if (!on || !audioCtx) return;
  const beep = () => {
    if (!audioCtx || audioCtx.state !== 'running') return;
    const t = audioCtx.currentTime;
    for (const at of [0, 0.5]) {
      const osc = audioCtx.createOscillator();
      const gain = audioCtx.createGain();
      osc.frequency.value = HOLD_TONE.hz;
      gain.gain.setValueAtTime(0.0001, t + at);
      gain.gain.exponentialRampToValueAtTime(HOLD_TONE.gain, t + at + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.3);
      osc.connect(gain).connect(audioCtx.destination);
      osc.start(t + at);
      osc.stop(t + at + 0.32);
    }
  };
  audioCtx.resume().catch(() => {});
  beep();
  holdTimer = setInterval(beep, HOLD_TONE.everyMs);
}

// ---------------------------------------------------------------------------
// Remote media control, with consent
// ---------------------------------------------------------------------------

function askConsent(f) {
  const settings = f.settings && typeof f.settings === 'object' ? f.settings : {};
  if (!call.active || !pc) {
    send({ type: 'media_control_result', id: f.id, accepted: false, applied: {} });
    return;
  }
  // A newer request replaces one still on screen; the older one is refused.
  if (pendingControl) send({ type: 'media_control_result', id: pendingControl.id, accepted: false, applied: {} });
  pendingControl = { id: f.id, settings };
  const rows = Object.entries(settings)
    .filter(([k]) => k in CONTROL_LABELS)
    .map(([k, v]) => {
      const li = document.createElement('li');
      li.textContent = `${CONTROL_LABELS[k]}: ${typeof v === 'boolean' ? (v ? 'on' : 'off') : `${Math.round(Number(v) * 100)}%`}`;
      return li;
    });
  ui.changes.replaceChildren(...rows);
  ui.consent.hidden = false;
  ui.consent.querySelector('.primary').focus();
}

function hideConsent() {
  pendingControl = null;
  ui.consent.hidden = true;
}

async function answerConsent(allow) {
  const req = pendingControl;
  if (!req) return;
  hideConsent();
  const applied = allow ? await applySettings(req.settings) : {};
  send({ type: 'media_control_result', id: req.id, accepted: allow, applied });
  render();
}

/** Applies what it can; returns the settings as they now are. */
async function applySettings(s) {
  const applied = {};
  const mic = local?.getAudioTracks()[0];
  const wanted = {};
  for (const [key, prop] of Object.entries(CONSTRAINT)) {
    if (typeof s[key] === 'boolean') wanted[prop] = s[key];
  }
  if (mic && Object.keys(wanted).length) {
    const target = { ...micConstraints, ...wanted };
    let track = mic;
    try {
      await mic.applyConstraints(target);
    } catch (err) {
      console.warn('[switchboard] audio constraints refused', err);
    }
    if (!settingsMatch(mic, wanted)) {
      // Chrome keeps a track's audio processing for its whole life: reopen the
      // microphone with the new settings and swap it in behind the gain node
      // (the track sent to the agent stays the same).
      try {
        const deviceId = mic.getSettings().deviceId;
        const fresh = await navigator.mediaDevices.getUserMedia({
          audio: deviceId ? { ...target, deviceId: { ideal: deviceId } } : target,
        });
        track = fresh.getAudioTracks()[0];
        await swapMic(mic, track);
      } catch (err) {
        console.warn('[switchboard] reopening the microphone failed', err);
      }
    }
    const now = track.getSettings();
    for (const [key, prop] of Object.entries(CONSTRAINT)) {
      if (typeof now[prop] === 'boolean') micConstraints[prop] = now[prop];
      if (prop in wanted && typeof now[prop] === 'boolean') applied[key] = now[prop];
    }
  }
  const gain = Number(s.mic_gain);
  if (s.mic_gain != null && Number.isFinite(gain) && micGain) {
    micGain.gain.value = Math.min(2, Math.max(0, gain));
    // The Allow click lets the AudioContext run, which swaps in the processed track.
    await audioCtx?.resume().catch(() => {});
    applied.mic_gain = micGain.gain.value;
  }
  const volume = Number(s.speaker_volume);
  if (s.speaker_volume != null && Number.isFinite(volume)) {
    ui.audio.volume = Math.min(1, Math.max(0, volume));
    ui.volume.value = String(ui.audio.volume);
    applied.speaker_volume = ui.audio.volume;
  }
  return applied;
}

function settingsMatch(track, wanted) {
  const now = track.getSettings();
  return Object.entries(wanted).every(([prop, value]) => now[prop] === value);
}

/** Puts a reopened microphone track where the old one was. */
async function swapMic(old, fresh) {
  fresh.enabled = !call.muted;
  if (audioCtx && micGain) {
    const source = audioCtx.createMediaStreamSource(new MediaStream([fresh]));
    source.connect(micGain);
    micSource?.disconnect();
    micSource = source;
  }
  // Still sending the raw microphone (WebAudio not running yet): swap the sent track.
  if (audioSender?.track === old) await audioSender.replaceTrack(fresh);
  local.removeTrack(old);
  local.addTrack(fresh);
  old.stop();
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function minutes(s) {
  return s > 30 ? `about ${Math.ceil(s / 60)} min` : 'less than a minute';
}

function whenText(ms) {
  if (!ms || ms - Date.now() < 90000) return 'shortly';
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? `at ${time}` : `on ${d.toLocaleDateString([], { weekday: 'short' })} ${time}`;
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

function statusText() {
  const agent = call.agentName || 'the agent';
  switch (call.phase) {
    case 'starting':
      return ['Starting your call…', 'Please allow the use of your microphone when your browser asks.'];
    case 'notice':
      return ['Before we connect you', ''];
    case 'calling':
      return ['Calling…', ''];
    case 'queued': {
      const parts = [];
      if (call.position != null) parts.push(`You are number ${call.position} in line`);
      if (call.waitSeconds != null) parts.push(`estimated wait ${minutes(call.waitSeconds)}`);
      return ['Waiting for an agent', parts.join(' · ')];
    }
    case 'ringing':
      return ['Ringing…', 'An agent is being connected.'];
    case 'connecting':
      return ['Connecting…', `${call.agentName || 'An agent'} is joining the call.`];
    case 'connected':
      return [`Connected to ${agent}`, ''];
    case 'on_hold':
      return ['On hold', `${agent} put the call on hold.`];
    case 'transferring':
      return ['Transferring your call…', 'Please stay on the line.'];
    case 'ended': {
      const why = {
        media_failed: call.failMessage || 'The connection was lost.',
        no_agents: 'No agent could take the call.',
        unanswered: 'No agent could answer the call. Please try again later, or chat with us.',
        agent: 'The agent ended the call.',
        busy: 'All our lines are busy. Please try again in a few minutes, or chat with us.',
        no_answer: 'Nobody could answer right now. Please try again later, or chat with us.',
        unavailable: 'We could not reach our call center. Please try again later, or chat with us.',
        remote_hangup: 'The agent ended the call.',
      };
      return ['Call ended', why[call.endReason] || ''];
    }
    case 'lost':
      return ['A call is in progress', 'This window was reloaded and lost the call’s sound. Hang up and call again.'];
    case 'fallback':
      return ['The call did not start', ''];
    default:
      return ['', ''];
  }
}

function render() {
  if (!params) return;
  const [status, detail] = statusText();
  ui.main.dataset.state = call.phase;
  ui.status.textContent = status;
  ui.detail.textContent = call.detailOverride || detail;
  ui.rec.hidden = !call.recording || !(call.active || call.phase === 'notice');
  ui.recNotice.hidden = call.phase !== 'notice';
  ui.fallback.hidden = call.phase !== 'fallback';
  ui.hold.hidden = call.phase !== 'on_hold';
  ui.controls.hidden = !(call.active || call.phase === 'lost');
  ui.mute.hidden = !call.active;
  ui.volume.closest('label').hidden = !call.active;
  ui.videos.hidden = params.media !== 'video' || !call.active;
  ui.close.hidden = !(call.phase === 'ended' || (call.phase === 'fallback' && !tellable()));
  ui.timer.hidden = !call.connectedAt;
  clearInterval(timerTick);
  if (call.connectedAt) {
    const tick = () => (ui.timer.textContent = clock(Date.now() - call.connectedAt));
    tick();
    if (call.active) timerTick = setInterval(tick, 1000);
  }
}

function tellable() {
  try {
    return !!(window.opener && !window.opener.closed);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Controls
// ---------------------------------------------------------------------------

for (const key of '123456789*0#') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn';
  b.textContent = key;
  b.dataset.testid = `sb-key-${key}`;
  b.addEventListener('click', () => send({ type: 'dtmf', digits: key }));
  ui.keypad.append(b);
}
ui.keypadToggle.addEventListener('click', () => {
  ui.keypad.hidden = !ui.keypad.hidden;
  ui.keypadToggle.setAttribute('aria-expanded', String(!ui.keypad.hidden));
});

ui.mute.addEventListener('click', () => {
  call.muted = !call.muted;
  local?.getAudioTracks().forEach((t) => (t.enabled = !call.muted));
  ui.mute.setAttribute('aria-pressed', String(call.muted));
  ui.mute.textContent = call.muted ? 'Unmute' : 'Mute';
});
ui.volume.addEventListener('input', () => {
  ui.audio.volume = Number(ui.volume.value);
});
ui.playAudio.addEventListener('click', () => {
  audioCtx?.resume().catch(() => {});
  playRemote();
});
ui.main.querySelector('[data-testid="sb-hangup"]').addEventListener('click', () => {
  send({ type: 'end' });
  finish('hangup');
  render();
});
ui.main.querySelector('[data-testid="sb-recording-continue"]').addEventListener('click', () => {
  audioCtx?.resume().catch(() => {});
  placeCall();
});
ui.main.querySelector('[data-testid="sb-recording-cancel"]').addEventListener('click', () => {
  stopMedia();
  showFallback('The call was not placed. You can chat with us instead, or we can call you back.');
  render();
});
ui.main.querySelector('[data-testid="sb-chat-instead"]').addEventListener('click', () => {
  stopMedia();
  if (tellOpener({ type: 'switchboard:chat' })) {
    window.close();
  } else {
    ui.callbackResult.textContent = 'Close this window and use the chat on the page you came from.';
  }
});
ui.callbackForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const phone = ui.phone.value.trim();
  if (!/^[\d +().-]{7,20}$/.test(phone)) {
    ui.callbackResult.textContent = 'Please enter a valid phone number.';
  } else if (!send({ type: 'callback', phone })) {
    ui.callbackResult.textContent = 'Not connected. Please try again in a moment.';
  } else {
    ui.callbackResult.textContent = 'Sending…';
  }
});
ui.main.querySelector('[data-testid="sb-media-allow"]').addEventListener('click', () => answerConsent(true));
ui.main.querySelector('[data-testid="sb-media-refuse"]').addEventListener('click', () => answerConsent(false));
ui.close.addEventListener('click', () => window.close());

// Closing the call window hangs up (the media lives here).
addEventListener('pagehide', () => {
  leaving = true;
  if (call.active) send({ type: 'end' });
  stopMedia();
});

// ---------------------------------------------------------------------------
// Boot
// ---------------------------------------------------------------------------

if (!params) {
  ui.status.textContent = 'Nothing to call';
  ui.detail.textContent = 'This window opens from the Call button on a website.';
  ui.main.dataset.state = 'invalid';
} else {
  ui.title.textContent = MEDIA_NAME[params.media];
  render();
  getDevices();
  connect();
}
