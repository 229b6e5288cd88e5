/**
 * A test phone's media, in plain Node (dgram): what the far end of a SIP trunk
 * (a call center's phone) sends and hears. No SIP here; lib/sipp.mjs answers the
 * call and its SDP points the server at this phone's port.
 *
 *   const phone = await createPhone({ toneHz: 1000 });   // PCMU, DTMF on PT 101
 *   phone.port                                          // put it in the SDP
 *   await phone.waitForTone(440, { timeoutMs: 15000 });  // what the far end says
 *   phone.hears(440)                                    // the last windows had it
 *   await phone.sendDtmf('*76');                        // RFC 4733 events
 *   await phone.close();
 *
 * Sending: 20 ms packets (160 samples at 8 kHz) of a sine tone, G.711 µ-law
 * (PT 0) or A-law (PT 8), one SSRC, sequence +1 and timestamp +160 per packet,
 * paced against the wall clock. Symmetric RTP: with no `remote` the phone stays
 * silent until the first packet arrives and then answers its source (latching).
 *
 * Receiving: PCMU/PCMA is decoded to PCM and cut into 40 ms windows; a window
 * has tone `hz` when its Goertzel power at `hz` holds most of the window's energy
 * (see `toneRatio`), so 440 Hz and 1000 Hz are told apart.
 *
 * G.711 is written out here from the ITU-T G.711 segment tables, so the tests do
 * not depend on what they test.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';

export const SAMPLE_RATE = 8000;
/** Samples per 20 ms packet. */
export const PACKET_SAMPLES = 160;
const PACKET_MS = 20;
/** Samples per analysis window (40 ms: 25 Hz resolution). */
export const WINDOW_SAMPLES = 320;
/** How many analysed windows are kept. */
const KEEP_WINDOWS = 100;
/** A window counts as having tone `hz` when this share of its energy is at `hz` ... */
const MIN_TONE_RATIO = 0.5;
/** ... and it is louder than this RMS (full scale 1.0; about -46 dBFS). */
const MIN_RMS = 0.005;

export const PT = { PCMU: 0, PCMA: 8 };
const CODEC_PT = { pcmu: PT.PCMU, pcma: PT.PCMA };

// ---------------------------------------------------------------------------
// G.711 (16-bit linear PCM <-> 8-bit µ-law / A-law)
// ---------------------------------------------------------------------------

const MULAW_BIAS = 0x84;
const MULAW_CLIP = 32635;

/** Linear 16-bit sample -> µ-law byte. */
export function mulawEncode(sample) {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > MULAW_CLIP) s = MULAW_CLIP;
  s += MULAW_BIAS;
  // Segment: position of the highest set bit above bit 7.
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** µ-law byte -> linear 16-bit sample. */
export function mulawDecode(byte) {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

/** Linear 16-bit sample -> A-law byte. */
export function alawEncode(sample) {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  let sign = 0x80; // A-law marks positive samples with the top bit
  if (s < 0) {
    sign = 0;
    s = -s - 1;
  }
  s >>= 3; // 13-bit magnitude
  let byte;
  if (s < 32) {
    byte = s >> 1; // segment 0: 4-bit step 2 (in 13-bit units)
  } else {
    let segment = 1;
    while (segment < 7 && s >= 32 << segment) segment++;
    byte = (segment << 4) | ((s >> segment) & 0x0f);
  }
  return (byte | sign) ^ 0x55;
}

/** A-law byte -> linear 16-bit sample. */
export function alawDecode(byte) {
  const a = byte ^ 0x55;
  const segment = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = segment === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (segment - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

const ENCODE = { [PT.PCMU]: mulawEncode, [PT.PCMA]: alawEncode };
const DECODE = { [PT.PCMU]: mulawDecode, [PT.PCMA]: alawDecode };

// ---------------------------------------------------------------------------
// RTP (RFC 3550) header, and RFC 4733 telephone-events
// ---------------------------------------------------------------------------

/** One RTP packet: 12-byte header (no CSRC, no extension) + payload. */
export function rtpPacket({ payloadType, seq, timestamp, ssrc, marker = false, payload }) {
  const buf = Buffer.alloc(12 + payload.length);
  buf[0] = 0x80; // V=2, P=0, X=0, CC=0
  buf[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  buf.writeUInt16BE(seq & 0xffff, 2);
  buf.writeUInt32BE(timestamp >>> 0, 4);
  buf.writeUInt32BE(ssrc >>> 0, 8);
  Buffer.from(payload).copy(buf, 12);
  return buf;
}

/** The parts of an RTP packet, or null when it is not RTP version 2. */
export function parseRtp(buf) {
  if (buf.length < 12 || buf[0] >> 6 !== 2) return null;
  const csrcCount = buf[0] & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (buf[0] & 0x10) {
    // Header extension: 16-bit profile, 16-bit length in 32-bit words.
    if (buf.length < offset + 4) return null;
    offset += 4 + 4 * buf.readUInt16BE(offset + 2);
  }
  let end = buf.length;
  if (buf[0] & 0x20) end -= buf[buf.length - 1]; // padding
  if (offset > end) return null;
  return {
    marker: (buf[1] & 0x80) !== 0,
    payloadType: buf[1] & 0x7f,
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(offset, end),
  };
}

/** RFC 4733 event codes of the DTMF keys. */
export const DTMF_EVENTS = Object.fromEntries(
  [...'0123456789*#ABCD'].map((key, code) => [key, code]),
);

/** A telephone-event payload: event, end bit, volume (-dBm0), duration (samples). */
export function dtmfPayload({ event, end = false, volume = 10, duration }) {
  const p = Buffer.alloc(4);
  p[0] = event;
  p[1] = (end ? 0x80 : 0) | (volume & 0x3f);
  p.writeUInt16BE(Math.min(duration, 0xffff), 2);
  return p;
}

// ---------------------------------------------------------------------------
// Tone analysis
// ---------------------------------------------------------------------------

/**
 * The share of the window's energy at `hz` (0..1; about 1 for a pure tone at hz,
 * about 0 for silence, noise spread wide, or a tone far from hz). Goertzel power
 * at exactly `hz` (not rounded to a bin), normalised by the window's energy.
 */
export function toneRatio(samples, hz, rate = SAMPLE_RATE) {
  const n = samples.length;
  const w = (2 * Math.PI * hz) / rate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i];
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (energy === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2; // |X(hz)|^2
  return power / ((energy * n) / 2);
}

/** Root mean square of the samples (full scale 1.0). */
export function rms(samples) {
  let sum = 0;
  for (const x of samples) sum += x * x;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

/** The strongest frequency between 100 and 3900 Hz in 10 Hz steps (for failure messages). */
export function strongestTone(samples) {
  let best = { hz: 0, ratio: 0 };
  for (let hz = 100; hz < 3900; hz += 10) {
    const ratio = toneRatio(samples, hz);
    if (ratio > best.ratio) best = { hz, ratio };
  }
  return best;
}

/** Whether a window of samples carries the tone `hz`. */
export function windowHasTone(samples, hz) {
  return rms(samples) >= MIN_RMS && toneRatio(samples, hz) >= MIN_TONE_RATIO;
}

// ---------------------------------------------------------------------------
// The phone
// ---------------------------------------------------------------------------

/**
 * Binds a UDP socket and starts the media clock. Options:
 * - `host` ('127.0.0.1'), `port` (0: OS-chosen)
 * - `remote`: `{address, port}` to send to; absent: latch to the first sender
 * - `codec`: 'pcmu' (default) or 'pcma'; `toneHz` (1000; 0 sends silence);
 *   `amplitude` (0.3 of full scale)
 * - `dtmfPayloadType` (101)
 */
export async function createPhone(options = {}) {
  const phone = new Phone(options);
  await phone.bind();
  return phone;
}

class Phone {
  constructor({ host = '127.0.0.1', port = 0, remote = null, codec = 'pcmu', toneHz = 1000, amplitude = 0.3, dtmfPayloadType = 101 } = {}) {
    if (!(codec in CODEC_PT)) throw new Error(`unknown codec ${codec}: pcmu or pcma`);
    this.host = host;
    this.wantedPort = port;
    this.remote = remote ? { address: remote.address, port: remote.port } : null;
    this.latched = false;
    this.payloadType = CODEC_PT[codec];
    this.toneHz = toneHz;
    this.amplitude = amplitude;
    this.dtmfPayloadType = dtmfPayloadType;
    this.ssrc = randomInt(1, 2 ** 32 - 1);
    this.seq = randomInt(0, 0x10000);
    /** Media clock in samples; the next audio packet's timestamp is base + clock. */
    this.clock = 0;
    this.timestampBase = randomInt(0, 2 ** 31);
    /** Samples generated so far (the tone's phase). */
    this.sampleIndex = 0;
    /** `skipped`: 20 ms ticks given up after a stall of the event loop (no packet sent for them). */
    this.stats = { sent: 0, skipped: 0, received: 0, ignored: 0, receivedByType: {} };
    /** Decoded samples waiting to fill a window. */
    this.pending = [];
    /** Recent analysed windows: Float32Array each. */
    this.windows = [];
    /** Tone watchers: fn(window) called for each new window. */
    this.watchers = new Set();
    /** DTMF digits queued for sending: [{event, resolve}] and the one being sent. */
    this.dtmfQueue = [];
    /** Digits received as RFC 4733 events, in order. */
    this.digits = '';
    this.lastEventTs = null;
    this.dtmf = null;
    this.socket = dgram.createSocket('udp4');
  }

  bind() {
    return new Promise((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.wantedPort, this.host, () => {
        this.socket.removeListener('error', reject);
        this.socket.on('error', (err) => (this.lastError = err));
        this.socket.on('message', (msg, rinfo) => this.onPacket(msg, rinfo));
        this.port = this.socket.address().port;
        this.address = this.socket.address().address;
        this.startClock();
        resolve();
      });
    });
  }

  /** Send to this address from now on (instead of latching). */
  setRemote(address, port) {
    this.remote = { address, port };
  }

  // ---- sending ------------------------------------------------------------

  /** A 20 ms tick on the wall clock; late ticks are caught up (a few at most). */
  startClock() {
    this.startedAt = performance.now();
    this.ticks = 0;
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - this.startedAt) / PACKET_MS);
      let catchUp = 0;
      while (this.ticks < due && catchUp++ < 10) this.tick();
      // Fell far behind (a stalled event loop): skip time rather than burst.
      if (this.ticks < due) {
        const skipped = due - this.ticks;
        this.stats.skipped += skipped;
        this.ticks = due;
        this.clock += skipped * PACKET_SAMPLES;
        this.sampleIndex += skipped * PACKET_SAMPLES;
      }
    }, PACKET_MS);
  }

  /** Ticks due on the wall clock that the timer has not run yet (it fires late under load). */
  ticksOwed() {
    return Math.floor((performance.now() - this.startedAt) / PACKET_MS) - this.ticks;
  }

  tick() {
    this.ticks++;
    if (!this.dtmf && this.dtmfQueue.length) this.beginDigit();
    if (this.dtmf) this.sendDtmfPacket();
    else this.sendAudio();
    this.clock += PACKET_SAMPLES;
  }

  sendRtp(packet) {
    if (!this.remote) return; // not latched yet: nowhere to send
    this.socket.send(packet, this.remote.port, this.remote.address);
    this.stats.sent++;
  }

  sendAudio() {
    const encode = ENCODE[this.payloadType];
    const payload = Buffer.alloc(PACKET_SAMPLES);
    const w = (2 * Math.PI * this.toneHz) / SAMPLE_RATE;
    for (let i = 0; i < PACKET_SAMPLES; i++) {
      const x = this.toneHz ? this.amplitude * Math.sin(w * (this.sampleIndex + i)) : 0;
      payload[i] = encode(x * 32767);
    }
    this.sampleIndex += PACKET_SAMPLES;
    if (!this.remote) return;
    this.sendRtp(
      rtpPacket({
        payloadType: this.payloadType,
        seq: this.seq++,
        timestamp: this.timestampBase + this.clock,
        ssrc: this.ssrc,
        payload,
      }),
    );
  }

  /**
   * Sends `digits` as RFC 4733 events on `dtmfPayloadType`, one after another:
   * per digit a start packet (marker bit), continuation packets every 20 ms with
   * the growing duration, then the end packet three times, all with the event's
   * start timestamp; audio resumes for `gapMs` between digits. Resolves once the
   * last end packet is sent.
   */
  sendDtmf(digits, { durationMs = 100, gapMs = 100, volume = 10 } = {}) {
    if (!this.remote) return Promise.reject(new Error('sendDtmf: no remote address yet (nothing received to latch to)'));
    const events = [...String(digits)].map((key) => {
      const event = DTMF_EVENTS[key.toUpperCase()];
      if (event === undefined) throw new Error(`sendDtmf: ${JSON.stringify(key)} is not a DTMF key`);
      return event;
    });
    const packets = Math.max(1, Math.round(durationMs / PACKET_MS));
    const gapTicks = Math.max(1, Math.round(gapMs / PACKET_MS));
    const sent = events.map(
      (event, i) =>
        new Promise((resolve) =>
          this.dtmfQueue.push({ event, packets, volume, gapTicks: i < events.length - 1 ? gapTicks : 0, resolve }),
        ),
    );
    return Promise.all(sent).then(() => undefined);
  }

  beginDigit() {
    const d = this.dtmfQueue.shift();
    this.dtmf = { ...d, timestamp: this.timestampBase + this.clock, sentPackets: 0, ends: 0, gapLeft: d.gapTicks, first: true };
  }

  sendDtmfPacket() {
    const d = this.dtmf;
    if (d.ends >= 3) {
      // The gap after the digit: audio again, then the next digit.
      if (d.gapLeft-- > 0) {
        this.sendAudio();
        return;
      }
      this.dtmf = null;
      if (this.dtmfQueue.length) {
        this.beginDigit();
        this.sendDtmfPacket();
      } else this.sendAudio();
      return;
    }
    let end = false;
    if (d.sentPackets < d.packets) d.sentPackets++;
    if (d.sentPackets >= d.packets) {
      end = true;
      d.ends++;
    }
    this.sendRtp(
      rtpPacket({
        payloadType: this.dtmfPayloadType,
        seq: this.seq++,
        timestamp: d.timestamp,
        ssrc: this.ssrc,
        marker: d.first, // the event's first packet only
        payload: dtmfPayload({ event: d.event, end, volume: d.volume, duration: d.sentPackets * PACKET_SAMPLES }),
      }),
    );
    d.first = false;
    if (d.ends === 3) d.resolve();
  }

  // ---- receiving ----------------------------------------------------------

  onPacket(msg, rinfo) {
    // RTCP multiplexed on the port (RFC 5761: second byte 192-223) is not media.
    const rtp = msg.length > 1 && msg[1] >= 192 && msg[1] <= 223 ? null : parseRtp(msg);
    if (!rtp) {
      this.stats.ignored++;
      return;
    }
    if (!this.remote) {
      this.remote = { address: rinfo.address, port: rinfo.port };
      this.latched = true;
    }
    this.stats.received++;
    this.stats.receivedByType[rtp.payloadType] = (this.stats.receivedByType[rtp.payloadType] || 0) + 1;
    this.lastSource = { address: rinfo.address, port: rinfo.port };
    if (rtp.payloadType === this.dtmfPayloadType) {
      this.onEvent(rtp);
      return;
    }
    const decode = DECODE[rtp.payloadType];
    if (!decode) return; // comfort noise...: not audio to analyse
    for (const byte of rtp.payload) {
      this.pending.push(decode(byte) / 32768);
      if (this.pending.length === WINDOW_SAMPLES) {
        this.addWindow(Float32Array.from(this.pending));
        this.pending = [];
      }
    }
  }

  /** A received RFC 4733 event: one digit per event, on its first end packet. */
  onEvent(rtp) {
    const p = rtp.payload;
    if (p.length < 4 || !(p[1] & 0x80) || this.lastEventTs === rtp.timestamp) return;
    this.lastEventTs = rtp.timestamp;
    this.digits += '0123456789*#ABCD'[p[0]] ?? '?';
  }

  /** Waits until the digits received (RFC 4733) read `want`. */
  async waitForDigits(want, { timeoutMs = 10_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    while (this.digits !== want && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.digits;
  }

  addWindow(win) {
    this.windows.push(win);
    if (this.windows.length > KEEP_WINDOWS) this.windows.shift();
    for (const fn of [...this.watchers]) fn(win);
  }

  /** Whether each of the last `windows` analysed windows (40 ms each) has tone `hz`. */
  hears(hz, { windows = 3 } = {}) {
    const recent = this.windows.slice(-windows);
    return recent.length === windows && recent.every((w) => windowHasTone(w, hz));
  }

  /** What the last window sounded like: `{rms, hz, ratio}` (for messages). */
  describeLast() {
    const w = this.windows[this.windows.length - 1];
    if (!w) return 'no audio received yet';
    const { hz, ratio } = strongestTone(w);
    return `last window: rms ${rms(w).toFixed(4)}, strongest ${hz} Hz (${(ratio * 100).toFixed(0)}% of the energy)`;
  }

  /**
   * Resolves once `consecutive` windows in a row carry tone `hz` (or, with
   * `present: false`, do not); rejects after `timeoutMs` with what was heard.
   */
  waitForTone(hz, { timeoutMs = 15_000, consecutive = 5, present = true } = {}) {
    return new Promise((resolve, reject) => {
      let streak = 0;
      const watcher = (win) => {
        streak = windowHasTone(win, hz) === present ? streak + 1 : 0;
        if (streak >= consecutive) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `phone on port ${this.port} did not ${present ? '' : 'stop '}hear ${hz} Hz for ${consecutive} windows ` +
              `within ${timeoutMs} ms (${this.describeLast()}; packets received ${this.stats.received}, ` +
              `by payload type ${JSON.stringify(this.stats.receivedByType)}, sent ${this.stats.sent})`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
      };
      this.watchers.add(watcher);
    });
  }

  /** Stops the clock and closes the socket; pending DTMF promises resolve. */
  close() {
    clearInterval(this.timer);
    for (const d of [this.dtmf, ...this.dtmfQueue]) d?.resolve();
    this.dtmfQueue = [];
    this.dtmf = null;
    return new Promise((resolve) => {
      try {
        this.socket.close(resolve);
      } catch {
        resolve(); // already closed
      }
    });
  }
}
