/**
 * The agent's side of a voice or video call: microphone (and camera), one
 * RTCPeerConnection to the server's media engine, and the remote audio/video.
 *
 *   const media = getLocalMedia('voice');        // at the Accept click (user gesture)
 *   const call = new AgentCall(contact, 'voice', send, audioHome);
 *   await call.start(media);                      // sends `call_sdp {contact, sdp}`
 *   call.answer(sdp);                             // on `call_answer`
 *   call.close();                                 // on `call_state ended` / `ended`
 *
 * The remote audio plays in `<audio data-testid="remote-audio-CONTACT">`, kept in
 * `audioHome` (outside the re-rendered conversation view) so it keeps playing
 * while the agent looks at another conversation. A `change` event fires when the
 * call's local state changes (connected, failed, muted).
 */

import { preferCodecs } from '/widget/rtc.js';

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** Starts the devices for a call; resolves to the MediaStream. */
export function getLocalMedia(media) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return Promise.reject(Object.assign(new Error('This browser cannot use a microphone here (HTTPS needed).'), { name: 'SecurityError' }));
  }
  return navigator.mediaDevices.getUserMedia({
    audio: AUDIO,
    video: media === 'video' ? { width: { ideal: 640 }, height: { ideal: 480 } } : false,
  });
}

/** Stops a device request that is no longer needed (accept failed, offer withdrawn). */
export function releaseLocalMedia(promise) {
  promise?.then((s) => s.getTracks().forEach((t) => t.stop())).catch(() => {});
}

/** A readable reason for a getUserMedia failure. */
export function deviceError(err, media) {
  const what = media === 'video' ? 'microphone or camera' : 'microphone';
  if (err?.name === 'NotAllowedError') return `Permission to use the ${what} was denied.`;
  if (err?.name === 'NotFoundError') return `No ${what} found.`;
  if (err?.name === 'NotReadableError') return `The ${what} is in use by another program.`;
  return err?.message || `The ${what} could not be started.`;
}

export class AgentCall extends EventTarget {
  /**
   * @param {number} contact
   * @param {'voice'|'video'} media
   * @param {(frame: object) => boolean} send  sends a frame on the agent socket
   * @param {HTMLElement} audioHome  where the remote audio element lives
   */
  constructor(contact, media, send, audioHome) {
    super();
    this.contact = contact;
    this.media = media;
    this.send = send;
    this.pc = null;
    this.local = null;
    /** Why the call has no media (device refused, setup failed), or ''. */
    this.error = '';
    this.muted = false;
    this.closed = false;
    this.audio = document.createElement('audio');
    this.audio.autoplay = true;
    this.audio.dataset.testid = `remote-audio-${contact}`;
    audioHome.append(this.audio);
    this.remoteVideo = videoElement(`remote-video-${contact}`, 'Visitor camera');
    this.localVideo = videoElement(`local-video-${contact}`, 'Your camera');
    this.localVideo.classList.add('local');
  }

  /** Gets the devices (a promise from getLocalMedia) and sends the offer. */
  async start(localMedia) {
    try {
      this.local = await localMedia;
    } catch (err) {
      this.fail(deviceError(err, this.media));
      return false;
    }
    if (this.closed) {
      this.local.getTracks().forEach((t) => t.stop());
      return false;
    }
    try {
      const pc = (this.pc = new RTCPeerConnection());
      const mic = this.local.getAudioTracks()[0];
      preferCodecs(pc.addTransceiver(mic || 'audio', { direction: mic ? 'sendrecv' : 'recvonly' }), 'audio');
      if (this.media === 'video') {
        const cam = this.local.getVideoTracks()[0];
        preferCodecs(pc.addTransceiver(cam || 'video', { direction: cam ? 'sendrecv' : 'recvonly' }), 'video');
        if (cam) this.localVideo.srcObject = new MediaStream([cam]);
      }
      pc.addEventListener('track', (ev) => this.onTrack(ev.track));
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState === 'failed' && !this.closed) this.fail('The call audio connection failed.');
        this.emit();
      });
      await pc.setLocalDescription(await pc.createOffer());
      if (this.closed) return false;
      if (!this.send({ type: 'call_sdp', contact: this.contact, sdp: pc.localDescription.sdp })) {
        this.fail('Not connected: the call audio could not be set up.');
        return false;
      }
      return true;
    } catch (err) {
      this.fail(`The call could not be set up: ${err.message}`);
      return false;
    }
  }

  /** Applies the server's `call_answer`. */
  async answer(sdp) {
    if (!this.pc || this.closed) return;
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (err) {
      this.fail(`The call answer was refused: ${err.message}`);
    }
  }

  onTrack(track) {
    const stream = new MediaStream([track]);
    if (track.kind === 'audio') {
      this.audio.srcObject = stream;
      this.audio.play().catch(() => {
        /* autoplay refused: the agent clicked Accept, so this is rare; the next click plays */
        document.addEventListener('click', () => this.audio.play().catch(() => {}), { once: true });
      });
    } else {
      this.remoteVideo.srcObject = stream;
      this.remoteVideo.play().catch(() => {});
    }
    this.emit();
  }

  /** True once ICE and DTLS are up. */
  get connected() {
    return this.pc?.connectionState === 'connected';
  }

  setMuted(muted) {
    this.muted = muted;
    this.local?.getAudioTracks().forEach((t) => (t.enabled = !muted));
    this.emit();
  }

  fail(message) {
    this.error = message;
    this.emit();
  }

  /** Hangs up locally: the connection closes, devices stop, elements go. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc?.close();
    this.local?.getTracks().forEach((t) => t.stop());
    for (const el of [this.audio, this.remoteVideo, this.localVideo]) {
      el.srcObject = null;
      el.remove();
    }
    this.emit();
  }

  emit() {
    this.dispatchEvent(new Event('change'));
  }
}

function videoElement(testid, label) {
  const v = document.createElement('video');
  v.autoplay = true;
  v.muted = true; // sound plays through the audio element
  v.playsInline = true;
  v.dataset.testid = testid;
  v.setAttribute('aria-label', label);
  return v;
}
