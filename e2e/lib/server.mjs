/**
 * Starts a Switchboard server for a test and stops it afterwards.
 *
 *   const server = await startServer();
 *   server.publicUrl  // http://127.0.0.1:PORT (widget, demo, visitor WebSocket)
 *   server.agentUrl   // http://127.0.0.1:PORT (console, REST, agent WebSocket)
 *   await server.stop();
 *
 * The binary comes from SWITCHBOARD_BIN (relative to e2e/ or absolute), default
 * ../target/debug/switchboard. Each server gets a fresh data directory, ports chosen
 * by the OS, and the demo tenant. Call media (WebRTC over UDP) binds a port chosen
 * by the OS on 127.0.0.1, so test media stays on loopback.
 * SWITCHBOARD_TEST_DATABASE_URL, when set, is passed
 * as --database-url. SWITCHBOARD_TEST_POSTGRES (an admin URL such as
 * postgres://postgres@127.0.0.1:5432/test) gives each server a fresh PostgreSQL
 * database instead, created and dropped with psql.
 *
 * `tenantFiles` (optional) is a list of tenant-file texts (TOML, as in
 * crates/server/src/demo.toml) applied with `switchboard tenant apply` against the
 * same data directory / database before the server starts, so it loads them at start:
 *
 *   const server = await startServer({ tenantFiles: [toml] });
 *   server.tenantOutput  // stdout of each `tenant apply`, in order
 *   server.newUsers      // { name: password } for users those files created
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';


/** Call media on a free UDP port of 127.0.0.1. */
const MEDIA_ARGS = ['--media-port', '0', '--media-ip', '127.0.0.1', '--rtp-ports', '0-0'];
/** SIP on a free port unless a test passes its own --sip-addr. */
const SIP_ARGS = ['--sip-addr', '127.0.0.1:0'];
export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(E2E_DIR, '..');

/** The readiness line the server prints once both listeners are bound. */
const READY = /^switchboard listening public=(http:\/\/127\.0\.0\.1:\d+) agent=(http:\/\/127\.0\.0\.1:\d+)$/;
const START_TIMEOUT_MS = Number(process.env.SWITCHBOARD_START_TIMEOUT_MS) || 60_000;
const STOP_TIMEOUT_MS = 5_000;

/** Demo staff accounts (documented in the README). */
export const DEMO_USERS = {
  alice: 'demo-alice',
  bob: 'demo-bob',
  sam: 'demo-sam',
  ada: 'demo-ada',
};

export function serverBinary() {
  return path.resolve(E2E_DIR, process.env.SWITCHBOARD_BIN || '../target/debug/switchboard');
}

export async function startServer({ extraArgs = [], env = {}, tenantFiles = [] } = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(
      `Switchboard binary not found at ${bin}. Build it with \`cargo build -p switchboard\` ` +
        'or point SWITCHBOARD_BIN at it.',
    );
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'switchboard-e2e-'));
  const args = [
    'serve',
    '--demo',
    '--public-addr', '127.0.0.1:0',
    '--agent-addr', '127.0.0.1:0',
  ];
  const pg = freshPostgres();
  // Where the data lives; shared by `serve` and `tenant apply`.
  const storeArgs = ['--data-dir', dataDir];
  if (pg) {
    storeArgs.push('--database-url', pg.url);
  } else if (process.env.SWITCHBOARD_TEST_DATABASE_URL) {
    storeArgs.push('--database-url', process.env.SWITCHBOARD_TEST_DATABASE_URL);
  }
  const sipArgs = extraArgs.includes('--sip-addr') ? [] : SIP_ARGS;
  args.push(...storeArgs, ...MEDIA_ARGS, ...sipArgs, ...extraArgs);

  const tenantOutput = [];
  const newUsers = {};
  try {
    for (const [i, text] of tenantFiles.entries()) {
      const file = path.join(dataDir, `tenant-${i}.toml`);
      await writeFile(file, text);
      let out;
      try {
        out = execFileSync(bin, [...storeArgs, 'tenant', 'apply', file], {
          cwd: REPO_DIR,
          env: { ...process.env, ...env },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        throw new Error(
          `switchboard tenant apply (file ${i}) failed: ${err.message}\n` +
            `--- stdout ---\n${err.stdout ?? ''}\n--- stderr ---\n${err.stderr ?? ''}`,
        );
      }
      tenantOutput.push(out);
      for (const m of out.matchAll(/^new user (\S+): password \(shown once\): (\S+)$/gm)) {
        newUsers[m[1]] = m[2];
      }
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    pg?.drop();
    throw err;
  }

  const child = spawn(bin, args, {
    cwd: REPO_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  // Keep the tail of the output for error messages.
  const log = [];
  const remember = (stream) => (line) => {
    log.push(`[${stream}] ${line}`);
    if (log.length > 300) log.shift();
    if (process.env.SWITCHBOARD_E2E_VERBOSE) console.error(`[switchboard ${stream}] ${line}`);
  };
  createInterface({ input: child.stderr }).on('line', remember('stderr'));
  const stdout = createInterface({ input: child.stdout });

  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  let urls;
  try {
    urls = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not print its listening line within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      stdout.on('line', (line) => {
        remember('stdout')(line);
        const m = READY.exec(line.trim());
        if (m) {
          clearTimeout(timer);
          resolve({ publicUrl: m[1], agentUrl: m[2] });
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`server exited early (code ${code}, signal ${signal})`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    process.removeListener('exit', killOnExit);
    await rm(dataDir, { recursive: true, force: true });
    pg?.drop();
    err.message += `\n--- server output ---\n${log.join('\n')}`;
    throw err;
  }

  let stopped = null;
  return {
    ...urls,
    dataDir,
    tenantOutput,
    newUsers,
    /** The last lines the server printed, for failure messages. */
    output: () => log.join('\n'),
    /** Stops the server (SIGTERM, then SIGKILL) and removes its data directory. */
    stop() {
      stopped ||= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit);
        await rm(dataDir, { recursive: true, force: true });
        pg?.drop();
      })();
      return stopped;
    },
  };
}

let pgCounter = 0;

/** A new, empty PostgreSQL database when SWITCHBOARD_TEST_POSTGRES is set. */
function freshPostgres() {
  const admin = process.env.SWITCHBOARD_TEST_POSTGRES;
  if (!admin) return null;
  const name = `sb_e2e_${process.pid}_${pgCounter++}`;
  const psql = (sql) => execFileSync('psql', [admin, '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: 'pipe' });
  psql(`DROP DATABASE IF EXISTS ${name}`);
  psql(`CREATE DATABASE ${name}`);
  return {
    url: `${admin.slice(0, admin.lastIndexOf('/'))}/${name}`,
    drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
