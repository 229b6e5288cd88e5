/**
 * SIPp as the far end of a SIP trunk for the phone tests: one call on
 * 127.0.0.1, from a scenario in e2e/sipp/. By default a UAS (a call center the
 * server calls):
 *
 *   const cc = await startSipp({ scenario: 'uas-answer.xml', phonePort: phone.port });
 *   cc.port                      // the trunk's port (tenant file: [[phone.trunks]] port)
 *   await cc.offerMedia()        // {address, port, payloadTypes} of the server's INVITE SDP
 *   await cc.expectExit(0)       // waits for SIPp to end; throws with its logs otherwise
 *   await cc.stop()              // kills it if still running, removes its files
 *
 * With `remote`, a UAC (a caller on the carrier's side) that dials `service` at
 * `remote` as soon as it starts:
 *
 *   const caller = await startSipp({ scenario: 'uac-dial-in.xml', remote: '127.0.0.1:5060',
 *     service: '+15125550130', phonePort: phone.port, keys: { caller: '+15125557777' } });
 *   await caller.answerMedia()   // {address, port, payloadTypes} of the server's 200 OK SDP
 *
 * The scenario's SDP (the UAS's 200 OK, the UAC's INVITE) sends the call's media
 * to `phoneIp:phonePort` (the test phone, lib/phone.mjs) with PCMU and
 * telephone-event 101 (`-key phone_ip/phone_port`; `keys` adds more).
 * SIPp's output, unexpected messages (-trace_err), every SIP message
 * (-trace_msg) and the scenario's <log> lines (-trace_logs) go to a temporary
 * directory; `logs()` reads them and errors thrown here include them.
 *
 * The binary is /usr/bin/sipp (Debian's sip-tester), or SIPP_PATH.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { E2E_DIR } from './server.mjs';

export const SIPP_PATH = process.env.SIPP_PATH || '/usr/bin/sipp';
const SCENARIO_DIR = path.join(E2E_DIR, 'sipp');
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;

/** Whether SIPp is installed. */
export function haveSipp() {
  return existsSync(SIPP_PATH);
}

/** A UDP port of `host` that was free a moment ago (bound to 0, read, closed). */
export async function freeUdpPort(host = '127.0.0.1') {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, resolve);
  });
  const { port } = socket.address();
  await new Promise((resolve) => socket.close(resolve));
  return port;
}

/**
 * A port of `host` free a moment ago for both UDP and TCP (a SIP listener binds
 * both on one port, e.g. the server's `--sip-addr`).
 */
export async function freeSipPort(host = '127.0.0.1') {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort(host);
    const server = net.createServer();
    const ok = await new Promise((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, host, () => resolve(true));
    });
    if (ok) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
    if (attempt >= 20) throw new Error(`no port of ${host} free for both UDP and TCP`);
  }
}

/** Whether some process has `host:port` bound for UDP (Linux: /proc/net/udp). */
function udpBound(host, port) {
  const want = `${host.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0')).join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  const wild = `00000000:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  return readFileSync('/proc/net/udp', 'utf8')
    .split('\n')
    .slice(1)
    .some((line) => {
      const local = line.trim().split(/\s+/)[1];
      return local === want || local === wild;
    });
}

/**
 * Starts SIPp for one call: in UAS mode, or in UAC mode dialling `remote`
 * ('host:port') when given. Options: `scenario` (a file name in e2e/sipp/ or a
 * path), `phonePort` and `phoneIp` ('127.0.0.1') for the SDP, `host`
 * ('127.0.0.1'), `port` (a free one when absent), `remote`, `service` (the
 * number a UAC dials: `-s`), `keys` ({name: value}: more `-key`s for the
 * scenario), `timeoutS` (SIPp gives up and fails after this long; 120),
 * `extraArgs`.
 */
export async function startSipp({
  scenario, phonePort = 0, phoneIp = '127.0.0.1', host = '127.0.0.1', port, remote, service, keys = {}, timeoutS = 120, extraArgs = [],
}) {
  if (!haveSipp()) throw new Error(`SIPp not found at ${SIPP_PATH} (apt-get install sip-tester)`);
  const file = path.isAbsolute(scenario) ? scenario : path.join(SCENARIO_DIR, scenario);
  const dir = await mkdtemp(path.join(tmpdir(), 'switchboard-sipp-'));
  const files = {
    stdout: path.join(dir, 'stdout.log'),
    stderr: path.join(dir, 'stderr.log'),
    errors: path.join(dir, 'errors.log'),
    messages: path.join(dir, 'messages.log'),
    logs: path.join(dir, 'logs.log'),
    screen: path.join(dir, 'screen.log'),
  };
  port ||= await freeUdpPort(host);
  const args = [
    '-i', host, '-p', String(port),
    '-m', '1',
    '-sf', file,
    '-key', 'phone_ip', phoneIp,
    '-key', 'phone_port', String(phonePort),
    ...Object.entries(keys).flatMap(([name, value]) => ['-key', name, String(value)]),
    ...(service ? ['-s', service] : []),
    // Answer in-dialog OPTIONS, INFO, UPDATE, NOTIFY with 200 instead of failing.
    '-aa',
    '-nostdin',
    '-timeout', `${timeoutS}s`, '-timeout_error',
    '-trace_err', '-error_file', files.errors,
    '-trace_msg', '-message_file', files.messages,
    '-trace_logs', '-log_file', files.logs,
    '-trace_screen', '-screen_file', files.screen,
    ...extraArgs,
    // A UAC: where it sends its INVITE.
    ...(remote ? [remote] : []),
  ];
  const out = await open(files.stdout, 'w');
  const err = await open(files.stderr, 'w');
  const child = spawn(SIPP_PATH, args, { cwd: dir, stdio: ['ignore', out.fd, err.fd] });
  await Promise.all([out.close(), err.close()]);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let exitCode;
  let exitSignal;
  const exited = new Promise((resolve) => {
    child.once('error', (e) => {
      exitCode = -1;
      exitSignal = e.message;
      resolve(-1);
    });
    child.once('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
      resolve(code);
    });
  });

  const read = (f) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  /** Everything SIPp wrote, for failure messages. */
  const logs = () =>
    [
      `sipp ${args.join(' ')}`,
      `exit: ${exitCode === undefined ? 'still running' : `code ${exitCode}${exitSignal ? `, ${exitSignal}` : ''}`}`,
      ...Object.entries(files)
        .filter(([name]) => name !== 'screen' || exitCode !== undefined)
        .map(([name, f]) => `--- ${name} ---\n${tail(read(f), name === 'messages' ? 12_000 : 4_000)}`),
    ].join('\n');
  const fail = (message) => new Error(`${message}\n${logs()}`);

  // Ready once its SIP socket is bound.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!udpBound(host, port)) {
    if (exitCode !== undefined) {
      process.removeListener('exit', killOnExit);
      throw fail(`SIPp exited before binding ${host}:${port}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      process.removeListener('exit', killOnExit);
      throw fail(`SIPp did not bind ${host}:${port} within ${READY_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  /** `{address, port, payloadTypes}` from the scenario's `<kind>-media` and `<kind>-codecs` log lines. */
  async function loggedMedia(kind, what, late, timeoutMs) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = read(files.logs);
      const media = new RegExp(`^${kind}-media (\\S+) (\\d+)$`, 'm').exec(text);
      const codecs = new RegExp(`^${kind}-codecs (.*)$`, 'm').exec(text);
      if (media && codecs) {
        return { address: media[1], port: Number(media[2]), payloadTypes: codecs[1].trim().split(/\s+/).map(Number) };
      }
      if (exitCode !== undefined) throw fail(`SIPp ended without logging ${what}`);
      if (Date.now() > end) throw fail(late);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  let stopped = null;
  return {
    host,
    port,
    dir,
    /** Resolves to SIPp's exit code (0: the call went as the scenario says). */
    exited,
    logs,
    /** The server's SDP offer as the scenario logged it: `{address, port, payloadTypes}`. */
    offerMedia({ timeoutMs = 15_000 } = {}) {
      return loggedMedia('offer', 'the INVITE\'s SDP offer', `no INVITE with an SDP offer reached SIPp within ${timeoutMs} ms`, timeoutMs);
    },
    /** A UAC's: the server's SDP answer (200 OK) as the scenario logged it, the same way. */
    answerMedia({ timeoutMs = 15_000 } = {}) {
      return loggedMedia('answer', 'the 200 OK\'s SDP answer', `no 200 OK with an SDP answer reached SIPp within ${timeoutMs} ms`, timeoutMs);
    },
    /** The SIP messages SIPp saw and sent so far. */
    messages: () => read(files.messages),
    /** Waits for SIPp to end with `code`; throws with its logs on another code or a timeout. */
    async expectExit(code = 0, { timeoutMs = 15_000, what = 'SIPp' } = {}) {
      let timer;
      const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const got = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (got === 'timeout') throw fail(`${what} still running after ${timeoutMs} ms`);
      if (got !== code) throw fail(`${what} exited with code ${got}, expected ${code}`);
    },
    /** Kills SIPp if it still runs and removes its files (keep them with SWITCHBOARD_E2E_KEEP_SIPP). */
    stop() {
      stopped ||= (async () => {
        if (exitCode === undefined) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit);
        if (process.env.SWITCHBOARD_E2E_KEEP_SIPP) console.error(`[sipp] files kept in ${dir}`);
        else await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function tail(text, max) {
  return text.length > max ? `…${text.slice(-max)}` : text;
}
