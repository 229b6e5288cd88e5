/**
 * Calls by number from the directory page: this page calls a member
 * (`POST /api/v1/directory/calls`), rings when someone calls the signed-in
 * member (`event: call` on the directory's event stream, `kind: ring`) and
 * accepts or declines; when the member is not reachable the caller leaves a
 * voice and video message. One call at a time.
 *
 *   const phone = new Phone(elements, onMail);
 *   phone.call('2000 0000 0001', 'Alice');
 *   phone.notice(JSON.parse(event.data));   // from the event stream
 *
 * The server's media engine terminates both legs: the caller's and the
 * member's browsers each send one offer and get one answer.
 */
import { api } from '/common/api.js';
import { preferCodecs } from '/widget/rtc.js';
import { getLocalMedia, deviceError } from '/console/call.js';

/** Ringing: a 425 Hz burst every 3 s while an incoming call waits. */
const RING_HZ = 425;
const RING_EVERY_MS = 3000;
const RING_FOR_MS = 1000;
/** The tone a caller hears before speaking a message. */
const BEEP_HZ = 880;

export class Phone {
  /**
   * @param {Record<string, HTMLElement>} el  panel, status, accept, decline, hangup,
   *   remoteAudio, remoteVideo, localVideo
   * @param {(message: object) => void} onMail  a message was left for this member
   */
  constructor(el, onMail) {
    this.el = el;
    this.onMail = onMail;
    /** `{id, role: 'caller'|'callee', pc, local}` or null. */
    this.current = null;
    /** A ring waiting for Accept: `{call, from, number}`. */
    this.incoming = null;
    /** Notices that came before the call's id was known. */
    this.early = [];
    this.ringTimer = null;
    el.accept.addEventListener('click', () => this.accept());
    el.decline.addEventListener('click', () => this.decline());
    el.hangup.addEventListener('click', () => this.hangup());
  }

  show(text, { accept = false, hangup = false } = {}) {
    this.el.panel.hidden = false;
    this.el.status.textContent = text;
    this.el.accept.hidden = !accept;
    this.el.decline.hidden = !accept;
    this.el.hangup.hidden = !hangup;
  }

  /** Calls a member by number from this page. */
  async call(number, name) {
    if (this.current || this.incoming) return;
    this.current = { id: null, role: 'caller', pc: null, local: null };
    this.show(`Calling ${name}…`, { hangup: true });
    try {
      const sdp = await this.connect(this.current);
      const placed = await api('/api/v1/directory/calls', { method: 'POST', body: { number, sdp } });
      if (!this.current) {
        // Hung up while the call was being placed.
        await api(`/api/v1/directory/calls/${placed.call}/hangup`, { method: 'POST' }).catch(() => {});
        return;
      }
      this.current.id = placed.call;
      await this.current.pc.setRemoteDescription({ type: 'answer', sdp: placed.sdp });
      this.el.panel.dataset.state = placed.state;
      if (placed.state === 'ringing') this.show(`Ringing ${placed.callee.display_name}…`, { hangup: true });
      const early = this.early.filter((n) => n.call === placed.call);
      this.early = [];
      early.forEach((n) => this.notice(n));
    } catch (err) {
      this.end(deviceError(err, 'video'));
    }
  }

  /** Microphone and camera, one peer connection; resolves to the offer SDP. */
  async connect(leg) {
    leg.local = await getLocalMedia('video');
    const pc = (leg.pc = new RTCPeerConnection());
    const mic = leg.local.getAudioTracks()[0];
    const cam = leg.local.getVideoTracks()[0];
    preferCodecs(pc.addTransceiver(mic || 'audio', { direction: mic ? 'sendrecv' : 'recvonly' }), 'audio');
    preferCodecs(pc.addTransceiver(cam || 'video', { direction: cam ? 'sendrecv' : 'recvonly' }), 'video');
    if (cam) this.el.localVideo.srcObject = new MediaStream([cam]);
    pc.addEventListener('track', ({ track }) => {
      const target = track.kind === 'audio' ? this.el.remoteAudio : this.el.remoteVideo;
      target.srcObject = new MediaStream([track]);
      target.play().catch(() => {});
    });
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription.sdp;
  }

  async accept() {
    const ring = this.incoming;
    if (!ring) return;
    this.stopRinging();
    this.incoming = null;
    this.current = { id: ring.call, role: 'callee', pc: null, local: null };
    this.show(`Connecting to ${ring.from}…`, { hangup: true });
    try {
      const sdp = await this.connect(this.current);
      const { sdp: answer } = await api(`/api/v1/directory/calls/${ring.call}/accept`, { method: 'POST', body: { sdp } });
      await this.current.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      this.el.panel.dataset.state = 'connected';
      this.show(`On a call with ${ring.from}`, { hangup: true });
    } catch (err) {
      this.end(err.message || String(err));
    }
  }

  async decline() {
    const ring = this.incoming;
    if (!ring) return;
    this.stopRinging();
    this.incoming = null;
    this.el.panel.hidden = true;
    await api(`/api/v1/directory/calls/${ring.call}/decline`, { method: 'POST' }).catch(() => {});
  }

  async hangup() {
    const call = this.current;
    if (!call) return;
    if (call.id == null) {
      this.end('Call cancelled.');
      return;
    }
    // A message being left is saved by the server; wait for its word.
    const leaving = this.el.panel.dataset.state === 'mailbox';
    this.release(call);
    this.el.hangup.hidden = true;
    this.el.status.textContent = leaving ? 'Saving your message…' : 'Call ended.';
    await api(`/api/v1/directory/calls/${call.id}/hangup`, { method: 'POST' }).catch(() => {});
    if (!leaving) this.end('Call ended.');
  }

  /** An `event: call` from the server. */
  notice(n) {
    if (n.kind === 'mail') {
      this.onMail(n.message);
      return;
    }
    if (n.kind === 'ring') {
      if (this.current || this.incoming) return; // busy here: it rings out to the mailbox
      this.incoming = n;
      this.el.panel.dataset.state = 'ringing';
      this.show(`Incoming call from ${n.from}${n.number ? ` (${n.number})` : ''}`, { accept: true });
      this.startRinging();
      return;
    }
    if (this.incoming?.call === n.call && (n.kind === 'ended' || n.kind === 'taken')) {
      this.stopRinging();
      this.incoming = null;
      this.el.panel.dataset.state = 'idle';
      this.show(n.reason === 'missed' ? 'Missed call.' : 'The caller hung up.');
      return;
    }
    const call = this.current;
    if (call && call.id == null && call.role === 'caller') {
      this.early.push(n);
      return;
    }
    if (!call || call.id !== n.call) return;
    switch (n.kind) {
      case 'answered':
        this.el.panel.dataset.state = 'connected';
        this.show('Connected.', { hangup: true });
        break;
      case 'mailbox':
        this.el.panel.dataset.state = 'mailbox';
        this.show(`${n.greeting} Recording your message (up to ${n.limit_secs} s); hang up when done.`, { hangup: true });
        beep();
        break;
      case 'cut':
        this.release(call);
        this.show(n.reason);
        break;
      case 'saved':
        this.end('Your message was left.');
        break;
      case 'ended':
        this.end(n.reason === 'too_short' ? 'Nothing was recorded.' : 'Call ended.');
        break;
      default:
    }
  }

  release(call) {
    call.pc?.close();
    call.local?.getTracks().forEach((t) => t.stop());
    for (const v of [this.el.remoteAudio, this.el.remoteVideo, this.el.localVideo]) v.srcObject = null;
  }

  end(text) {
    if (this.current) this.release(this.current);
    this.current = null;
    this.el.panel.dataset.state = 'idle';
    this.show(text);
  }

  startRinging() {
    this.stopRinging();
    const ring = () => tone(RING_HZ, RING_FOR_MS);
    ring();
    this.ringTimer = setInterval(ring, RING_EVERY_MS);
  }

  stopRinging() {
    clearInterval(this.ringTimer);
    this.ringTimer = null;
  }
}

let audioContext = null;

/** A short sine on the speakers (ringing, the message beep). */
function tone(hz, ms) {
  try {
    audioContext ||= new AudioContext();
    const osc = audioContext.createOscillator();
    const gain = audioContext.createGain();
    osc.frequency.value = hz;
    gain.gain.value = 0.1;
    osc.connect(gain).connect(audioContext.destination);
    osc.start();
    osc.stop(audioContext.currentTime + ms / 1000);
  } catch {
    // No audio output: the panel still says what happens.
  }
}

function beep() {
  tone(BEEP_HZ, 300);
}
