// Helpers for the CLI tests (cli.test.mjs, work.test.mjs): run a client
// subcommand to completion with stdin, run `errand work` as a long-lived
// child, and start a server on a port that survives restart().
//
// Every child is registered (server.mjs's trackChild) so that a failed test
// never leaves one running.

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { childEnv, errandBin, runErrand, startServer, trackChild } from './server.mjs';

/**
 * Runs `errand ARGS` against `url` (as ERRAND_URL; null: unset) to completion.
 * Options: input (written to stdin, which is then closed), env, timeoutMs.
 * Resolves to {code, signal, stdout, stderr, json (stdout parsed, or undefined)}.
 */
export async function cli(url, args, { input, env = {}, timeoutMs = 30_000 } = {}) {
  const res = await runErrand(args, {
    input: input ?? '', timeoutMs, env: url ? { ERRAND_URL: url, ...env } : env,
  });
  let json;
  try {
    json = JSON.parse(res.stdout);
  } catch {
    json = undefined;
  }
  return { ...res, json };
}

/** A description of a finished cli() run, for assertion messages. */
export function show(res) {
  return `exit ${res.code} (signal ${res.signal})\n--- stdout ---\n${res.stdout}\n` +
         `--- stderr ---\n${res.stderr}`;
}

/**
 * Starts `errand work QUEUES... ARGS -- COMMAND...` against `srv` (its url is
 * read once: use a server from startServerOnFixedPort() to test restarts).
 * Returns {proc, stderr(), exited (Promise<{code, signal}>), signal(name),
 * stop() (SIGTERM, wait, SIGKILL after timeoutMs)}.
 */
export function startWorker(srv, queues, command, { args = [], env = {} } = {}) {
  const argv = ['work', ...queues, ...args, '--', ...command];
  const proc = trackChild(spawn(errandBin(), argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ ERRAND_URL: srv.url, ...env }),
  }));
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c) => {
    err += c;
    if (process.env.ERRAND_TEST_VERBOSE) process.stderr.write(c);
  });
  const exited = new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      resolve({ code, signal });
    });
  });
  return {
    proc,
    exited,
    stdout: () => out,
    stderr: () => err,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    signal(name = 'SIGTERM') {
      proc.kill(name);
    },
    /** SIGTERM and wait for the exit; SIGKILL if it takes longer than timeoutMs. */
    async stop({ timeoutMs = 30_000 } = {}) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const res = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (res === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`errand work did not exit within ${timeoutMs} ms of SIGTERM\n${err}`);
      }
      return res;
    },
  };
}

/** Resolves `promise`, or rejects after `ms` with a message naming `what`. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** A loopback port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * startServer() on a fixed port, so that restart() keeps the URL a worker
 * already uses (a later --listen wins over the harness's port 0).
 */
export async function startServerOnFixedPort(options = {}) {
  const port = await freePort();
  return startServer({ ...options, args: [...(options.args ?? []), '--listen', `127.0.0.1:${port}`] });
}

/** A temp dir for scripts and marker files; returns {dir, script(name, body), file(name), remove()}. */
export function scratchDir(prefix = 'errand-cli-') {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    /** Writes an executable /bin/sh script and returns its path. */
    script(name, body) {
      const p = path.join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${body}\n`);
      chmodSync(p, 0o755);
      return p;
    },
    file(name) {
      return path.join(dir, name);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
