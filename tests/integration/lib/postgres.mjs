// The PostgreSQL side of the integration tests: the throwaway server that
// ctest's `postgres` fixture starts (scripts/postgres-for-tests), reached
// through $ERRAND_TEST_POSTGRES, and a fresh database per test file. Talks
// to PostgreSQL with psql (Debian's postgresql-client), not an npm driver.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                            '../../../scripts/postgres-for-tests');

/** The fixture server's URL, or null when the tests run without one. */
export function postgresUrl() {
  return process.env.ERRAND_TEST_POSTGRES || null;
}

/** `url` with its database (the path, "/postgres") replaced by `name`. */
export function databaseUrl(name, url = postgresUrl()) {
  return url.replace('/postgres?', `/${name}?`);
}

/** Runs SQL with psql on `url`; returns its output (unaligned, tuples only). */
export function psql(url, sql) {
  return execFileSync('psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql],
                      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Runs a SQL file with psql, `vars` as its -v name=value; returns its output. */
export function psqlFile(url, file, vars = {}) {
  const args = [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  args.push('-f', file);
  return execFileSync('psql', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A new empty database; returns {url, drop()}. */
export function createDatabase(prefix = 'errand_it') {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  psql(postgresUrl(), `CREATE DATABASE ${name}`);
  return {
    name,
    url: databaseUrl(name),
    drop() {
      try {
        psql(postgresUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch {
        // the server is gone, and its databases with it
      }
    },
  };
}

/**
 * A PostgreSQL server of the test's own (scripts/postgres-for-tests), for a
 * test that stops and starts it. Returns {url, stop(), start(), freeze(),
 * thaw(), close()}: stop() is an immediate shutdown (as a crash: no
 * checkpoint), start() brings it back on the same data, freeze() stops every
 * process of it (SIGSTOP: alive, its sockets open, silent) until thaw(),
 * close() removes it.
 */
export function privatePostgres() {
  const dir = mkdtempSync(path.join(tmpdir(), 'errand-pg-'));
  const run = (...args) => execFileSync(SCRIPT, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  run('start', dir);
  const url = run('url', dir).trim();
  return {
    url,
    stop() {
      run('halt', dir);
    },
    start() {
      run('start', dir);
    },
    freeze() {
      signalAll(dir, 'STOP');
    },
    thaw() {
      signalAll(dir, 'CONT');
    },
    close() {
      run('stop', dir);
    },
  };
}

// The postmaster of the server in `dir` and its children.
function signalAll(dir, signal) {
  const postmaster = readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0].trim();
  let children = '';
  try {
    children = execFileSync('pgrep', ['-P', postmaster], { encoding: 'utf8' });
  } catch {
    // none
  }
  const pids = [postmaster, ...children.split('\n').map((s) => s.trim()).filter(Boolean)];
  execFileSync('kill', [`-${signal}`, ...pids]);
}
