/**
 * The signed-in member's mailbox on the directory page: voice and video
 * messages left when they were offline, busy or did not answer
 * (`GET /api/v1/mailbox`), played here and deleted
 * (`DELETE /api/v1/mailbox/{id}`). A message's audio is Ogg/Opus, which the
 * `<audio>` element plays; its video is VP8 in IVF, decoded here with
 * WebCodecs onto a canvas in step with the audio.
 */
import { api } from '/common/api.js';
import { h, formatTime } from '/common/dom.js';

const IVF_HEADER = 32;
const IVF_FRAME_HEADER = 12;

export class Mailbox {
  /** @param {Record<string, HTMLElement>} el  notice, list, audio, canvas, status */
  constructor(el) {
    this.el = el;
    this.player = null;
  }

  /** Reads the list; says how many are new (the sign-in notification). */
  async load() {
    let data;
    try {
      data = await api('/api/v1/mailbox');
    } catch (err) {
      if (err.status === 404) return; // staff who are no member have no mailbox
      throw err;
    }
    this.el.section.hidden = false;
    const { messages, new: fresh } = data;
    this.el.notice.textContent = fresh
      ? `You have ${fresh} new message${fresh === 1 ? '' : 's'}.`
      : messages.length ? 'No new messages.' : 'Your mailbox is empty.';
    this.el.notice.dataset.new = String(fresh);
    this.el.list.replaceChildren(...messages.map((m) => this.row(m)));
  }

  row(m) {
    const what = m.video ? 'Video' : 'Voice';
    return h(
      'li',
      { dataset: { message: String(m.id), heard: String(m.heard) } },
      h('strong', { text: m.heard ? '' : 'New · ' }),
      `${what} message from ${m.caller}${m.caller_number ? ` (${m.caller_number})` : ''}, `,
      `${formatTime(m.created_at)}, ${Math.round(m.duration_ms / 1000)} s${m.cut ? ' (cut at the limit)' : ''} `,
      h('button', { type: 'button', text: 'Play', dataset: { testid: `mail-play-${m.id}` }, on: { click: () => this.play(m) } }),
      ' ',
      h('button', { type: 'button', text: 'Delete', dataset: { testid: `mail-delete-${m.id}` }, on: { click: () => this.remove(m) } }),
    );
  }

  async play(m) {
    this.stop();
    const { audio, canvas, status } = this.el;
    audio.src = `/api/v1/mailbox/${m.id}/audio`;
    canvas.hidden = !m.video;
    canvas.dataset.frames = '0';
    status.textContent = `Playing the message from ${m.caller}.`;
    const player = (this.player = { timers: [], decoder: null });
    if (m.video) {
      try {
        await this.playVideo(m, player);
      } catch (err) {
        status.textContent = `The video cannot be played here: ${err.message}`;
      }
    }
    await audio.play().catch(() => {});
    this.load().catch(() => {});
  }

  /** Decodes the IVF's frames, each at its time, onto the canvas. */
  async playVideo(m, player) {
    if (!('VideoDecoder' in window)) throw new Error('this browser has no WebCodecs');
    const res = await fetch(`/api/v1/mailbox/${m.id}/video`, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const frames = parseIvf(new Uint8Array(await res.arrayBuffer()));
    const { canvas } = this.el;
    const ctx = canvas.getContext('2d');
    let decoded = 0;
    const decoder = (player.decoder = new VideoDecoder({
      output: (frame) => {
        canvas.width = frame.displayWidth;
        canvas.height = frame.displayHeight;
        ctx.drawImage(frame, 0, 0);
        frame.close();
        canvas.dataset.frames = String(++decoded);
      },
      error: (err) => {
        this.el.status.textContent = `The video cannot be played: ${err.message}`;
      },
    }));
    decoder.configure({ codec: 'vp8' });
    for (const f of frames) {
      player.timers.push(
        setTimeout(() => {
          if (decoder.state !== 'configured') return;
          decoder.decode(new EncodedVideoChunk({ type: f.key ? 'key' : 'delta', timestamp: f.ms * 1000, data: f.data }));
        }, f.ms),
      );
    }
  }

  stop() {
    const p = this.player;
    if (!p) return;
    p.timers.forEach(clearTimeout);
    if (p.decoder && p.decoder.state !== 'closed') p.decoder.close();
    this.el.audio.pause();
    this.player = null;
  }

  async remove(m) {
    this.stop();
    await api(`/api/v1/mailbox/${m.id}`, { method: 'DELETE' });
    this.el.status.textContent = `The message from ${m.caller} was deleted.`;
    await this.load();
  }
}

/** An IVF file's frames: `{ms, key, data}` (timebase 1/1000, as the server writes it). */
function parseIvf(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < IVF_HEADER || String.fromCharCode(...bytes.subarray(0, 4)) !== 'DKIF') {
    throw new Error('not an IVF file');
  }
  const scale = view.getUint32(20, true) || 1;
  const rate = view.getUint32(16, true) || 1000;
  const frames = [];
  let at = view.getUint16(6, true) || IVF_HEADER;
  while (at + IVF_FRAME_HEADER <= bytes.length) {
    const size = view.getUint32(at, true);
    const pts = Number(view.getBigUint64(at + 4, true));
    const start = at + IVF_FRAME_HEADER;
    if (start + size > bytes.length) break;
    const data = bytes.subarray(start, start + size);
    frames.push({ ms: Math.round((pts * scale * 1000) / rate), key: (data[0] & 1) === 0, data });
    at = start + size;
  }
  return frames;
}
