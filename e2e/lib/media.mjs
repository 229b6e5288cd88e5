/**
 * Media helpers for the call tests: tone files made with sox, a Chromium whose
 * fake microphone plays one of them, and a WebAudio probe that tells which tone a
 * page hears on a remote stream.
 *
 *   const wav = toneFile(440);                       // 48 kHz mono sine, 60 s
 *   const browser = await launchMediaBrowser({ wav }); // fake mic plays it (looped)
 *   await waitForTone(page, '[data-testid="sb-remote-audio"]', 1000);
 *   await waitForTone(page, selector, 1000, { present: false });
 *
 * The probe reads the element's `srcObject` with an AnalyserNode (Chrome only
 * feeds a remote WebRTC track into WebAudio while a media element also holds the
 * stream, which is why it starts from the element) and takes the peak bin of
 * getFloatFrequencyData, refined by parabolic interpolation.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, until, TIMEOUT_MS } from './browser.mjs';

const TONE_DIR = path.join(tmpdir(), 'switchboard-e2e-tones');
const FFT_SIZE = 32768;
/** A tone counts as heard when its peak is this loud (dBFS) ... */
const MIN_DB = -75;
/** ... and within this many Hz of the expected frequency (about 3 bins at 44.1 kHz). */
const TOLERANCE_HZ = 5;

/** A sine WAV (48 kHz, mono, 16 bit, `seconds` long) made with sox; cached per frequency. */
export function toneFile(hz, seconds = 60) {
  mkdirSync(TONE_DIR, { recursive: true });
  const file = path.join(TONE_DIR, `tone-${hz}hz-${seconds}s.wav`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp.wav`;
    try {
      execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', tmp, 'synth', String(seconds), 'sine', String(hz), 'vol', '0.5'], {
        stdio: 'pipe',
      });
    } catch (err) {
      throw new Error(`sox could not make a ${hz} Hz tone (apt-get install sox): ${err.message}`);
    }
    execFileSync('mv', [tmp, file]);
  }
  return file;
}

/**
 * A headless Chromium with fake media devices. `wav`: what the fake microphone
 * plays. `fakeUi: false` leaves permission prompts to the browser (headless denies
 * them), for the permission-denied path.
 */
export function launchMediaBrowser({ wav, fakeUi = true } = {}) {
  const args = [
    '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (fakeUi) args.push('--use-fake-ui-for-media-stream');
  if (wav) args.push(`--use-file-for-fake-audio-capture=${wav}`);
  return launchBrowser(args);
}

/**
 * The loudest frequency (Hz) between 80 Hz and 5 kHz in the stream of the element
 * matching `selector`, with its level: `{hz, db}`, or null while the element has
 * no audio yet. The analyser is set up once per element and stream.
 */
export function dominantFrequency(page, selector) {
  return page.evaluate(
    async ([sel, fftSize]) => {
      const el = document.querySelector(sel);
      const stream = el?.srcObject;
      const track = stream?.getAudioTracks?.()[0];
      if (!track) return null;
      const probes = (window.__sbProbes ||= new Map());
      let p = probes.get(el);
      if (!p || p.track !== track) {
        p?.ctx.close();
        const ctx = new AudioContext();
        const analyser = ctx.createAnalyser();
        analyser.fftSize = fftSize;
        analyser.smoothingTimeConstant = 0;
        ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
        p = { ctx, analyser, track, bins: new Float32Array(analyser.frequencyBinCount) };
        probes.set(el, p);
      }
      if (p.ctx.state !== 'running') await p.ctx.resume();
      p.analyser.getFloatFrequencyData(p.bins);
      const width = p.ctx.sampleRate / fftSize;
      let best = -Infinity;
      let at = 0;
      for (let i = Math.ceil(80 / width); i < Math.floor(5000 / width); i++) {
        if (p.bins[i] > best) {
          best = p.bins[i];
          at = i;
        }
      }
      if (!Number.isFinite(best)) return { hz: 0, db: -Infinity };
      const [l, c, r] = [p.bins[at - 1], p.bins[at], p.bins[at + 1]];
      const denom = l - 2 * c + r;
      const shift = Number.isFinite(denom) && denom !== 0 ? (0.5 * (l - r)) / denom : 0;
      return { hz: (at + shift) * width, db: best };
    },
    [selector, FFT_SIZE],
  );
}

/** Whether a probe reading is the tone `hz`. */
export function isTone(reading, hz) {
  return !!reading && reading.db > MIN_DB && Math.abs(reading.hz - hz) <= TOLERANCE_HZ;
}

/**
 * Waits until the page hears the tone `hz` on the element's stream (or, with
 * `present: false`, no longer hears it) for `samples` readings in a row.
 */
export async function waitForTone(page, selector, hz, { present = true, samples = 3, timeout = TIMEOUT_MS, label = '' } = {}) {
  let streak = 0;
  let last = null;
  await until(
    async () => {
      last = await dominantFrequency(page, selector);
      streak = isTone(last, hz) === present ? streak + 1 : 0;
      return streak >= samples;
    },
    {
      timeout,
      interval: 150,
      message: `${label || selector} to ${present ? '' : 'stop '}hear${present ? '' : 'ing'} ${hz} Hz`,
      describe: () => `last reading ${last ? `${last.hz.toFixed(1)} Hz at ${last.db.toFixed(1)} dB` : 'none (no remote audio yet)'}`,
    },
  );
  return last;
}

/** Decoded frames of the `<video>` matching `selector`: `{width, frames}`. */
export function videoFrames(page, selector) {
  return page.evaluate((sel) => {
    const v = document.querySelector(sel);
    if (!v) return { width: 0, frames: 0 };
    return { width: v.videoWidth, frames: v.getVideoPlaybackQuality().totalVideoFrames };
  }, selector);
}

/** Waits until the `<video>` has a size and its decoded frame count keeps rising. */
export async function waitForVideo(page, selector, { timeout = TIMEOUT_MS } = {}) {
  const first = await until(
    async () => {
      const v = await videoFrames(page, selector);
      return v.width > 0 && v.frames > 0 && v;
    },
    { timeout, message: `video frames in ${selector}` },
  );
  await until(async () => (await videoFrames(page, selector)).frames >= first.frames + 10, {
    timeout,
    message: `more video frames in ${selector} (had ${first.frames})`,
  });
  return first;
}
