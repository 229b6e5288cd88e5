/**
 * Listening in on a live call: a receive-only RTCPeerConnection with two audio
 * transceivers (the first carries the visitor, the second the agent), offered with
 * `POST /api/v1/calls/{contact}/listen` -> `{leg, sdp}`, and stopped with
 * `DELETE /api/v1/calls/{contact}/listen/{leg}`. Each party plays in its own
 * `<audio data-testid="listen-audio-visitor-CONTACT">` / `...-agent-CONTACT`.
 */
import { api } from '/common/api.js';
import { preferCodecs } from '/widget/rtc.js';

export class Listening {
  /** @param {number} contact  @param {HTMLElement} home  where the audio elements go */
  constructor(contact, home) {
    this.contact = contact;
    this.home = home;
    this.pc = null;
    this.leg = null;
    this.audios = [];
    this.stopped = false;
  }

  async start() {
    const pc = (this.pc = new RTCPeerConnection());
    for (const party of ['visitor', 'agent']) {
      const tx = pc.addTransceiver('audio', { direction: 'recvonly' });
      preferCodecs(tx, 'audio');
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.dataset.testid = `listen-audio-${party}-${this.contact}`;
      audio.srcObject = new MediaStream([tx.receiver.track]);
      this.home.append(audio);
      this.audios.push(audio);
    }
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await api(`/api/v1/calls/${encodeURIComponent(this.contact)}/listen`, {
      method: 'POST',
      body: { sdp: pc.localDescription.sdp },
    });
    this.leg = answer.leg;
    if (this.stopped) {
      await this.hangUp();
      return;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    for (const audio of this.audios) audio.play().catch(() => {});
  }

  /** Stops listening: the server drops the leg, the connection closes. */
  async stop() {
    this.stopped = true;
    this.pc?.close();
    for (const audio of this.audios) {
      audio.srcObject = null;
      audio.remove();
    }
    await this.hangUp();
  }

  async hangUp() {
    if (this.leg == null) return;
    const leg = this.leg;
    this.leg = null;
    try {
      await api(`/api/v1/calls/${encodeURIComponent(this.contact)}/listen/${encodeURIComponent(leg)}`, { method: 'DELETE' });
    } catch (err) {
      // The call may have ended already, taking the leg with it.
      if (err.status !== 404) throw err;
    }
  }
}
