// The test phone's media (lib/phone.mjs) on its own, without the server: G.711
// both ways, tone detection that tells frequencies apart, two phones hearing
// each other over 127.0.0.1 (one latching to the other), and the RFC 4733 DTMF
// it sends, checked packet by packet by a small parser written here. Then the
// SIPp call-center scenarios (lib/sipp.mjs) against SIPp's own UAC; those skip
// without SIPp unless CI=true.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import {
  SAMPLE_RATE, WINDOW_SAMPLES, alawDecode, alawEncode, createPhone, mulawDecode, mulawEncode, parseRtp,
  toneRatio, windowHasTone,
} from './lib/phone.mjs';
import { SIPP_PATH, freeUdpPort, haveSipp, startSipp } from './lib/sipp.mjs';

/** Polls `check` every 10 ms until it is true, for at most 5 s. */
async function until(check, { message }) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sine = (hz, n, amplitude = 0.3, phase = 0) =>
  Float32Array.from({ length: n }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE + phase));

/** Signal-to-quantisation-noise ratio (dB) of a sine through encode/decode. */
function snrDb(encode, decode, hz, amplitude) {
  let signal = 0;
  let noise = 0;
  for (const x of sine(hz, 8000, amplitude)) {
    const s = x * 32767;
    const back = decode(encode(s));
    signal += s * s;
    noise += (back - s) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

// Half a quantisation step (16-bit units) at sample s: µ-law's steps grow from 2
// near zero, A-law's are 16 up to |s| = 512, then both double per segment.
const mulawHalfStep = (s) => (Math.abs(s) + 132) / 32;
const alawHalfStep = (s) => Math.max(8, Math.abs(s) / 32);

for (const [name, encode, decode, silence, halfStep, quietSnr] of [
  ['µ-law', mulawEncode, mulawDecode, 0xff, mulawHalfStep, 25],
  // A-law trades small-signal resolution for dynamic range.
  ['A-law', alawEncode, alawDecode, 0xd5, alawHalfStep, 22],
]) {
  test(`${name}: every code decodes and encodes back to itself`, () => {
    for (let byte = 0; byte < 256; byte++) {
      const back = encode(decode(byte));
      // µ-law has two zeros (0x7f is "-0"): both decode to 0, which encodes as 0xff.
      if (name === 'µ-law' && byte === 0x7f) assert.equal(back, 0xff);
      else assert.equal(back, byte, `code 0x${byte.toString(16)} -> ${decode(byte)} -> 0x${back.toString(16)}`);
    }
    assert.equal(encode(0), silence);
  });

  test(`${name}: linear samples round-trip within half a quantisation step`, () => {
    for (let s = -32768; s <= 32767; s += 7) {
      const err = Math.abs(decode(encode(s)) - s);
      assert.ok(err <= halfStep(s) + 1, `${s} came back as ${decode(encode(s))}`);
    }
    // Monotonic: a louder sample never decodes quieter.
    let last = -Infinity;
    for (let s = -32768; s <= 32767; s += 3) {
      const v = decode(encode(s));
      assert.ok(v >= last, `not monotonic at ${s}`);
      last = v;
    }
  });

  test(`${name}: a sine keeps G.711's signal-to-noise ratio at loud and quiet levels`, () => {
    for (const [amplitude, min] of [[0.5, 35], [0.05, 35], [0.005, quietSnr]]) {
      // 1020 Hz, as in G.712 tests: not a divisor of 8000, so every code gets used.
      const snr = snrDb(encode, decode, 1020, amplitude);
      assert.ok(snr > min, `${amplitude} of full scale: SNR ${snr.toFixed(1)} dB, want over ${min}`);
    }
  });
}

test('G.711 codes of known samples', () => {
  // Worked by hand from the G.711 segment tables.
  assert.equal(mulawEncode(1000), 0xce);
  assert.equal(mulawEncode(-1000), 0x4e);
  assert.equal(mulawDecode(0x00), -32124);
  assert.equal(mulawDecode(0x80), 32124);
  assert.equal(alawEncode(1000), 0xfa);
  assert.equal(alawDecode(0xd5), 8);
  assert.equal(alawDecode(0x55), -8);
  assert.equal(alawDecode(0xaa), 32256);
});

test('tone detection tells 440 Hz from 1000 Hz, and silence from both', () => {
  for (const phase of [0, 1, 2.5]) {
    const a = sine(440, WINDOW_SAMPLES, 0.3, phase);
    const b = sine(1000, WINDOW_SAMPLES, 0.3, phase);
    assert.ok(toneRatio(a, 440) > 0.9, `440 in 440: ${toneRatio(a, 440)}`);
    assert.ok(toneRatio(b, 1000) > 0.9, `1000 in 1000: ${toneRatio(b, 1000)}`);
    assert.ok(toneRatio(a, 1000) < 0.05, `1000 in 440: ${toneRatio(a, 1000)}`);
    assert.ok(toneRatio(b, 440) < 0.05, `440 in 1000: ${toneRatio(b, 440)}`);
    assert.equal(windowHasTone(a, 1000), false);
    assert.equal(windowHasTone(b, 440), false);
  }
  // Neighbours 100 Hz apart are told apart too.
  assert.equal(windowHasTone(sine(1100, WINDOW_SAMPLES), 1000), false);
  // Silence and faint hiss are no tone; the two tones mixed are neither alone.
  assert.equal(windowHasTone(new Float32Array(WINDOW_SAMPLES), 440), false);
  assert.equal(windowHasTone(sine(440, WINDOW_SAMPLES, 0.001), 440), false);
  const mix = sine(440, WINDOW_SAMPLES).map((x, i) => x + sine(1000, WINDOW_SAMPLES)[i]);
  assert.ok(toneRatio(mix, 440) < 0.6 && toneRatio(mix, 440) > 0.4);
});

for (const codec of ['pcmu', 'pcma']) {
  test(`two phones (${codec}) hear each other's tone and not a wrong one`, async (t) => {
    // B knows nothing: it answers whoever sends first (symmetric RTP).
    const b = await createPhone({ codec, toneHz: 440 });
    const a = await createPhone({ codec, toneHz: 1000, remote: { address: '127.0.0.1', port: b.port } });
    t.after(() => Promise.all([a.close(), b.close()]));

    await Promise.all([b.waitForTone(1000, { timeoutMs: 5000 }), a.waitForTone(440, { timeoutMs: 5000 })]);
    assert.equal(b.latched, true);
    assert.deepEqual(b.remote, { address: '127.0.0.1', port: a.port });
    assert.equal(a.latched, false);
    assert.ok(a.hears(440) && b.hears(1000));
    assert.ok(!a.hears(1000) && !b.hears(440), 'each phone hears only the other tone');
    assert.ok(!a.hears(1500) && !b.hears(1500));
    // Not a wrong frequency for a good stretch either.
    await Promise.all([
      a.waitForTone(1000, { present: false, consecutive: 10, timeoutMs: 10_000 }),
      b.waitForTone(440, { present: false, consecutive: 10, timeoutMs: 10_000 }),
    ]);
    const wrong = await a.waitForTone(1500, { timeoutMs: 400, consecutive: 2 }).then(() => 'heard', (e) => e.message);
    assert.match(wrong, /did not hear 1500 Hz .*strongest 440 Hz/);
    // Real time: one packet per 20 ms of wall clock. A loaded machine stalls the event
    // loop; the phone then gives up the ticks it missed rather than burst, and counts them,
    // so the accounting below holds however busy the machine is.
    const before = { sent: a.stats.sent, skipped: a.stats.skipped, owed: a.ticksOwed(), at: performance.now() };
    await b.waitForTone(1000, { consecutive: 25 }); // 25 windows of 40 ms = 1 s of fresh audio
    const wallTicks = (performance.now() - before.at) / 20;
    const sent = a.stats.sent - before.sent;
    const skipped = a.stats.skipped - before.skipped;
    const paced = sent + skipped + a.ticksOwed() - before.owed;
    const detail = `${sent} sent, ${skipped} skipped in ${wallTicks.toFixed(1)} ticks of wall clock`;
    assert.ok(Math.abs(paced - wallTicks) <= 1.5, detail);
    assert.ok(sent > 0, detail);
  });
}

test('waitForTone times out with what was heard when nothing arrives', async (t) => {
  const lonely = await createPhone();
  t.after(() => lonely.close());
  await assert.rejects(lonely.waitForTone(440, { timeoutMs: 200 }), /no audio received yet; packets received 0/);
  await assert.rejects(lonely.sendDtmf('1'), /no remote address/);
});

// ---------------------------------------------------------------------------
// RFC 4733, checked on the wire
// ---------------------------------------------------------------------------

/** A telephone-event payload (RFC 4733 section 2.3). */
function parseEvent(payload) {
  assert.equal(payload.length, 4, 'one event per packet');
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    reserved: (payload[1] & 0x40) !== 0,
    volume: payload[1] & 0x3f,
    duration: payload.readUInt16BE(2),
  };
}

/** Groups captured packets into events: runs of event packets sharing a timestamp. */
function eventsOf(packets, eventPt) {
  const events = [];
  for (const p of packets) {
    if (p.payloadType !== eventPt) continue;
    const last = events[events.length - 1];
    if (!last || last.timestamp !== p.timestamp) events.push({ timestamp: p.timestamp, packets: [] });
    events[events.length - 1].packets.push(p);
  }
  return events;
}

test('sendDtmf("*76") sends RFC 4733 events: marker, growing duration, three end packets, one timestamp each', async (t) => {
  const capture = dgram.createSocket('udp4');
  await new Promise((r) => capture.bind(0, '127.0.0.1', r));
  const packets = [];
  capture.on('message', (msg) => packets.push(parseRtp(msg)));
  const phone = await createPhone({ toneHz: 1000, dtmfPayloadType: 101, remote: { address: '127.0.0.1', port: capture.address().port } });
  t.after(async () => {
    await phone.close();
    capture.close();
  });

  await until(() => packets.length >= 5, { message: 'audio before the digits' });
  await phone.sendDtmf('*76');
  // The end packets are on the wire: a few audio packets after them prove it.
  const sentAll = packets.length;
  await until(() => packets.length >= sentAll + 3, { message: 'audio after the digits' });
  const lastEvent = packets.findLastIndex((p) => p.payloadType === 101);
  assert.ok(packets.slice(lastEvent + 1).every((p) => p.payloadType === 0), 'audio resumes after the last digit');

  // One stream: one SSRC, sequence numbers without gaps across audio and events.
  const ssrc = packets[0].ssrc;
  for (const [i, p] of packets.entries()) {
    assert.ok(p, `packet ${i} is RTP`);
    assert.equal(p.ssrc, ssrc);
    if (i) assert.equal(p.seq, (packets[i - 1].seq + 1) & 0xffff, `sequence at packet ${i}`);
  }
  // Audio: 160 samples per 20 ms packet; the marker is only for events.
  const audio = packets.filter((p) => p.payloadType === 0);
  assert.ok(audio.every((p) => p.payload.length === 160 && !p.marker));

  const events = eventsOf(packets, 101);
  assert.deepEqual(events.map((e) => parseEvent(e.packets[0].payload).event), [10, 7, 6], '*, 7, 6');
  for (const e of events) {
    const parsed = e.packets.map((p) => parseEvent(p.payload));
    const first = e.packets[0];
    assert.equal(first.marker, true, 'the first packet of an event has the marker bit');
    assert.ok(e.packets.slice(1).every((p) => !p.marker), 'only the first');
    assert.ok(parsed.every((p) => p.event === parsed[0].event && !p.reserved && p.volume === 10));
    // Continuation packets: duration grows by 160 samples (20 ms at 8 kHz).
    const running = parsed.filter((p) => !p.end);
    const ends = parsed.filter((p) => p.end);
    assert.ok(running.length >= 2, 'a few continuation packets');
    running.forEach((p, i) => assert.equal(p.duration, 160 * (i + 1)));
    assert.equal(ends.length, 3, 'the end packet is sent three times');
    assert.ok(parsed.slice(-3).every((p) => p.end), 'the end packets come last');
    assert.ok(ends.every((p) => p.duration === 800), `100 ms = 800 samples: ${ends.map((p) => p.duration)}`);
    // The event's timestamp is the media clock when it began: the packet before
    // it was audio stamped 160 samples earlier per sequence step.
    const before = packets[packets.indexOf(first) - 1];
    assert.equal(before.payloadType, 0);
    const steps = (first.seq - before.seq) & 0xffff;
    assert.equal((first.timestamp - before.timestamp) >>> 0, 160 * steps);
  }
  // Events follow each other in time, with audio in between.
  for (let i = 1; i < events.length; i++) {
    const gap = packets.indexOf(events[i].packets[0]) - packets.indexOf(events[i - 1].packets.at(-1)) - 1;
    assert.ok(gap >= 1, 'audio between digits');
    assert.ok(events[i].timestamp - events[i - 1].timestamp >= 800, 'the next digit starts after the last ended');
  }
});

// ---------------------------------------------------------------------------
// The SIPp call center (lib/sipp.mjs, sipp/*.xml), driven by SIPp's own
// built-in UAC instead of the server
// ---------------------------------------------------------------------------

const sippSkip = !haveSipp() && process.env.CI !== 'true' ? `SIPp is not installed at ${SIPP_PATH} (apt-get install sip-tester)` : false;
if (sippSkip) console.log(`skipping the SIPp tests: ${sippSkip}`);

/** SIPp's built-in UAC placing one call to `port`; resolves to `{code, output}`. */
async function sippUac(port, { holdMs = 300 } = {}) {
  const own = await freeUdpPort();
  return new Promise((resolve, reject) => {
    const child = spawn(
      SIPP_PATH,
      ['-sn', 'uac', '-i', '127.0.0.1', '-p', String(own), '-m', '1', '-d', String(holdMs), '-nostdin', '-timeout', '15s', '-timeout_error', `127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output: output.slice(-3000) }));
  });
}

test('sipp uas-answer.xml: answers with the phone\'s SDP, logs the offer, ends on BYE', { skip: sippSkip }, async (t) => {
  const cc = await startSipp({ scenario: 'uas-answer.xml', phonePort: 40123 });
  t.after(() => cc.stop());
  const uac = await sippUac(cc.port);
  assert.equal(uac.code, 0, `the UAC's call failed:\n${uac.output}\n${cc.logs()}`);
  await cc.expectExit(0);
  const offer = await cc.offerMedia();
  assert.equal(offer.address, '127.0.0.1');
  assert.ok(offer.port > 0);
  assert.deepEqual(offer.payloadTypes, [0]);
  const sent = cc.messages();
  assert.match(sent, /^SIP\/2\.0 180 Ringing/m);
  assert.match(sent, /^c=IN IP4 127\.0\.0\.1$/m);
  assert.match(sent, /^m=audio 40123 RTP\/AVP 0 101$/m);
  assert.match(sent, /^a=rtpmap:101 telephone-event\/8000$/m);
  assert.match(sent, /^a=fmtp:101 0-16$/m);
  assert.match(sent, /^BYE sip:/m);
});

test('sipp uas-busy.xml: answers 486 Busy Here and exits 0 once ACKed', { skip: sippSkip }, async (t) => {
  const cc = await startSipp({ scenario: 'uas-busy.xml' });
  t.after(() => cc.stop());
  const uac = await sippUac(cc.port);
  // The UAC wanted an answer: for it the call failed.
  assert.notEqual(uac.code, 0);
  await cc.expectExit(0);
  assert.match(cc.messages(), /^SIP\/2\.0 486 Busy Here/m);
  assert.match(cc.messages(), /^ACK sip:/m);
});

test('sipp: a call center that never gets its call fails with its logs', { skip: sippSkip }, async (t) => {
  const cc = await startSipp({ scenario: 'uas-answer.xml', phonePort: 40123 });
  t.after(() => cc.stop());
  await assert.rejects(cc.offerMedia({ timeoutMs: 300 }), /no INVITE with an SDP offer reached SIPp within 300 ms[^]*--- messages ---/);
  await assert.rejects(cc.expectExit(0, { timeoutMs: 200 }), /SIPp still running after 200 ms[^]*sipp -i 127\.0\.0\.1/);
  // stop() ends it (SIPp leaves quietly on SIGTERM) and is safe to repeat.
  await cc.stop();
  await cc.stop();
  assert.equal(typeof (await cc.exited), 'number');
});
