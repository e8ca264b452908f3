// Test harness: runs the real `errand serve` binary as a child process.
//
// startServer() spawns $ERRAND_BIN on 127.0.0.1:0 with a fresh temp data dir,
// waits for the "errand listening on 127.0.0.1:<port>" line on stdout and
// returns a handle whose url/port are updated by restart(). Every handle is
// registered so that a crashed test never leaves a server running: close()
// (call it from `after`) stops the process and removes the temp dir, and a
// process 'exit' hook SIGKILLs whatever is still alive.
//
// Run the suite (Node 20, no npm packages) from the repository root:
//   ERRAND_BIN=$PWD/build/release/src/server/errand node --test tests/integration/
// ERRAND_SKIP_SLOW=1 skips the one-minute default max-wait check;
// ERRAND_TEST_VERBOSE=1 copies the servers' output to the terminal.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createDatabase } from './postgres.mjs';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 15_000;
const STDERR_TAIL_BYTES = 64 * 1024;

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Absolute path of the errand binary: $ERRAND_BIN, else a build under build/. */
export function errandBin() {
  if (process.env.ERRAND_BIN) return path.resolve(process.env.ERRAND_BIN);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  for (const preset of ['release', 'debug', 'dev', 'ci', 'tsan']) {
    const candidate = path.join(root, 'build', preset, 'src', 'server', 'errand');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('set ERRAND_BIN to the errand binary (none found under build/*/src/server/)');
}

/** Environment for the child: ours minus every ERRAND_* variable (hermetic config). */
export function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ERRAND_')) env[k] = v;
  return { ...env, ...extra };
}

/**
 * Starts `errand serve`. Options: durability ('fsync'), args (extra CLI args),
 * dataDir (default: a new temp dir, removed by close()), env (extra env vars),
 * ca (PEM text: the server serves HTTPS, given --tls-cert/--tls-key in args,
 * with a certificate this CA signs; url is then https:// and Api trusts it).
 * With $ERRAND_TEST_SERVE_ON_POSTGRES set (and no --store in args), the server
 * runs on a new database of the fixture's PostgreSQL, dropped by close(): a
 * test file written for the embedded store runs on PostgreSQL unchanged.
 */
export async function startServer({ durability = 'fsync', args = [], dataDir, env = {}, ca } = {}) {
  const db = process.env.ERRAND_TEST_SERVE_ON_POSTGRES && !args.includes('--store')
    ? createDatabase('errand_srv') : null;
  if (db) args = [...args, '--store', db.url];
  const ownsDir = !dataDir;
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'errand-it-'));
  const srv = {
    url: null,
    port: null,
    ca: ca ?? null,
    dataDir: dir,
    proc: null,
    exited: null, // Promise<{code, signal}> of the current process
    stderrTail: '',
    stderr() {
      return this.stderrTail;
    },
    alive() {
      return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
    },
    /** SIGTERM, wait for exit; throws unless the exit code is `expectCode` (0). */
    async stop({ expectCode = 0, signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS } = {}) {
      if (!this.alive()) throw new Error(`server not running\n${this.stderrTail}`);
      this.proc.kill(signal);
      const res = await withTimeout(this.exited, timeoutMs).catch(async (e) => {
        this.proc.kill('SIGKILL');
        await this.exited;
        throw new Error(`server did not exit within ${timeoutMs} ms of ${signal}: ${e.message}\n` +
                        `--- stderr ---\n${this.stderrTail}`);
      });
      if (expectCode !== null && res.code !== expectCode) {
        throw new Error(`server exited with ${JSON.stringify(res)} after ${signal}, expected code ` +
                        `${expectCode}\n--- stderr ---\n${this.stderrTail}`);
      }
      return res;
    },
    /** SIGKILL and wait for the process to be gone. */
    async kill9() {
      if (!this.alive()) throw new Error(`server not running\n${this.stderrTail}`);
      this.proc.kill('SIGKILL');
      return this.exited;
    },
    /** Starts the server again on the same data dir (new port). */
    async restart() {
      if (this.alive()) throw new Error('restart() needs a stopped server: call stop() or kill9()');
      await launch(this, { durability, args, env });
      return this;
    },
    /** Cleanup for `after`: stop (expecting exit 0) if running, then remove the temp dir. */
    async close() {
      try {
        if (this.alive()) await this.stop();
      } finally {
        if (ownsDir) rmSync(dir, { recursive: true, force: true });
        db?.drop();
      }
    },
  };
  await launch(srv, { durability, args, env });
  return srv;
}

async function launch(srv, { durability, args, env }) {
  const bin = errandBin();
  const argv = ['serve', '--listen', '127.0.0.1:0', '--data-dir', srv.dataDir,
                '--durability', durability, ...args];
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) });
  live.add(child);
  srv.proc = child;
  srv.stderrTail = '';
  srv.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    srv.stderrTail = (srv.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    if (process.env.ERRAND_TEST_VERBOSE) process.stderr.write(chunk);
  });

  const port = await new Promise((resolve, reject) => {
    let out = '';
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`errand serve ${why}\nargv: ${bin} ${argv.join(' ')}\n` +
                       `--- stdout ---\n${out}\n--- stderr ---\n${srv.stderrTail}`));
    };
    const timer = setTimeout(() => fail(`printed no listening line within ${READY_TIMEOUT_MS} ms`),
                             READY_TIMEOUT_MS);
    child.once('error', (e) => fail(`could not be spawned: ${e.message}`));
    srv.exited.then(({ code, signal }) => fail(`exited early: code ${code}, signal ${signal}`));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      if (process.env.ERRAND_TEST_VERBOSE) process.stdout.write(chunk);
      if (settled) return;  // keep draining so the child never blocks on a full pipe
      out += chunk;
      const m = /errand listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        settled = true;
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  srv.port = port;
  srv.url = `${srv.ca ? 'https' : 'http'}://127.0.0.1:${port}`;
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** Registers a child process so that the 'exit' hook kills it if a test fails first. */
export function trackChild(child) {
  live.add(child);
  child.once('close', () => live.delete(child));
  return child;
}

/**
 * Runs the errand binary with `args` to completion (the CLI, --help...).
 * Options: input (written to stdin, which is then closed), env, timeoutMs.
 * Resolves to {code, signal, stdout, stderr}.
 */
export function runErrand(args, { input, timeoutMs = 10_000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = trackChild(spawn(errandBin(), args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: childEnv(env),
    }));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    if (input !== undefined) {
      child.stdin.on('error', () => {}); // the command may exit without reading it
      child.stdin.end(input);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`errand ${args.join(' ')} did not exit within ${timeoutMs} ms\n` +
                       `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
