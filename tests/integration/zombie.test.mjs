// Zombie workers (SPEC §1 Lease, §2.2): a worker frozen past its lease
// (SIGSTOP: a GC pause, a suspended VM) wakes up and carries on with its old
// token. Only the current token may ack, fail or heartbeat, so every call
// of the zombie is a 409 that changes nothing: the job keeps the result of
// the worker that took it over, its timeline gains nothing, no lease is
// extended and no attempt is counted. A lease that ran out is dead even when
// nobody has leased the job again.
//
// The zombie is a real process: lib/zombie_worker.mjs (leases, waits for a
// line on stdin, then acks, fails and heartbeats), and `errand work`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Api, FAST_BACKOFF, uniqueQueue, waitFor } from './lib/http.mjs';
import { scratchDir, startWorker, within } from './lib/cli.mjs';
import { startServer, trackChild } from './lib/server.mjs';

const ZOMBIE_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'zombie_worker.mjs');
const WAIT_MS = 30_000; // generous: sanitizer builds on a busy machine
const SHORT_LEASE_MS = 1000;

let srv;
let api;
let scratch;
const children = [];
before(async () => {
  srv = await startServer();
  api = new Api(srv);
  scratch = scratchDir('errand-zombie-');
});
after(async () => {
  for (const c of children) {
    try {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  await srv?.close();
  scratch?.remove();
});

/**
 * Starts lib/zombie_worker.mjs on `queue` and waits for its lease. Returns
 * {leased, freeze(), wake() -> the answers to its ack, fail and heartbeat}.
 */
async function startZombie(queue, leaseMs = SHORT_LEASE_MS) {
  const proc = trackChild(spawn(process.execPath, [ZOMBIE_SCRIPT, srv.url, queue, String(leaseMs)],
                                { stdio: ['pipe', 'pipe', 'pipe'] }));
  children.push(proc);
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
  const exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const { value, done } = await within(lines.next(), WAIT_MS, 'a line from the zombie worker');
    assert.ok(!done, `the zombie worker ended early\n${stderr}`);
    return JSON.parse(value);
  };
  const first = await nextLine();
  assert.ok(first.leased, `the zombie worker could not lease: ${JSON.stringify(first)}\n${stderr}`);
  return {
    leased: first.leased,
    freeze() {
      proc.kill('SIGSTOP');
    },
    /** Lets it go on (the line is buffered while it is stopped); returns its three answers. */
    async wake() {
      proc.stdin.end('go\n');
      proc.kill('SIGCONT');
      const answers = {};
      for (let i = 0; i < 3; i++) {
        const a = await nextLine();
        answers[a.op] = a;
      }
      const { code } = await within(exited, WAIT_MS, 'the zombie worker to exit');
      assert.equal(code, 0, stderr);
      return answers;
    },
  };
}

/**
 * Everything a zombie could change: the job, its timeline and its queue's
 * counters (without waiting_on, whose message counts down the lease).
 */
async function snapshot(id, queue) {
  const { waiting_on, ...job } = await api.job(id);
  return { job, events: await api.events(id), queue: await api.queueState(queue) };
}

/** Each of the zombie's calls was refused with a 409 problem naming the lost lease. */
function assertAllRefused(answers) {
  assert.deepEqual(Object.keys(answers).sort(), ['ack', 'fail', 'heartbeat']);
  for (const a of Object.values(answers)) {
    assert.equal(a.status, 409, `the zombie's ${a.op}: ${JSON.stringify(a.body)}`);
    assert.equal(a.body?.status, 409, `a problem document: ${JSON.stringify(a.body)}`);
    assert.equal(typeof a.body?.detail, 'string');
  }
}

/** Waits for the job to reach one of `states`; returns the job document. */
async function jobIn(id, states) {
  return waitFor(async () => {
    const doc = await api.job(id);
    return states.includes(doc.state) ? doc : null;
  }, { timeoutMs: WAIT_MS, intervalMs: 50, message: `job ${id} to be ${states.join(' or ')}` });
}

describe('a zombie worker with its old token', () => {
  test('after its job was taken over and acked: 409 for ack, fail and heartbeat, nothing changes', async () => {
    const q = uniqueQueue('zombie-acked');
    const job = await api.submitOk(q, { payload: { n: 1 }, backoff: FAST_BACKOFF, max_attempts: 5 });
    const zombie = await startZombie(q);
    assert.equal(zombie.leased.id, job.id);
    assert.equal(zombie.leased.attempt, 1);
    zombie.freeze();

    // The second worker gets the job once the frozen worker's lease has run out.
    const second = await api.leaseOne(q, { wait: 20, worker: 'successor', lease_ms: 60_000, timeoutMs: WAIT_MS });
    assert.equal(second.id, job.id);
    assert.equal(second.attempt, 2);
    assert.notEqual(second.lease, zombie.leased.lease);
    await api.ackOk(second.id, second.lease, { by: 'successor' });
    const before = await snapshot(job.id, q);
    assert.equal(before.job.state, 'succeeded');

    assertAllRefused(await zombie.wake());
    const afterwards = await snapshot(job.id, q);
    assert.deepEqual(afterwards, before, 'the zombie changed nothing');
    assert.deepEqual(afterwards.job.result, { by: 'successor' });
    assert.equal(afterwards.job.attempt, 2);
    assert.equal(afterwards.job.worker, 'successor');
  });

  test('while its successor still runs the job: no ack, no fail, no extension of the lease', async () => {
    const q = uniqueQueue('zombie-running');
    const job = await api.submitOk(q, { payload: { n: 2 }, backoff: FAST_BACKOFF, max_attempts: 5 });
    const zombie = await startZombie(q);
    zombie.freeze();
    const second = await api.leaseOne(q, { wait: 20, worker: 'successor', lease_ms: 60_000, timeoutMs: WAIT_MS });
    assert.equal(second.attempt, 2);
    const before = await snapshot(job.id, q);
    assert.equal(before.job.state, 'running');

    assertAllRefused(await zombie.wake());
    const afterwards = await snapshot(job.id, q);
    assert.deepEqual(afterwards, before, 'the zombie changed nothing');
    assert.equal(afterwards.job.lease_expires_at, second.lease_expires_at, 'its heartbeat extended nothing');
    assert.equal(afterwards.job.progress, null, 'its progress was not recorded');

    // The successor's token still works, and the job has one failed attempt: the expiry.
    await api.ackOk(job.id, second.lease, { by: 'successor' });
    const done = await api.job(job.id);
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { by: 'successor' });
    const events = await api.events(job.id);
    const failures = events.filter((e) => e.type === 'failed_attempt');
    assert.equal(failures.length, 1, `one failed attempt: ${JSON.stringify(failures)}`);
    assert.equal(failures[0].error.type, 'lease_expired');
    assert.equal(events.filter((e) => e.type === 'succeeded').length, 1);
  });

  // Decision: a lease that ran out is dead, whether or not the job was leased
  // again; the zombie's work is not accepted late (the retry will redo it).
  const slowRetry = { initial_ms: 600_000, multiplier: 1, max_ms: 600_000, jitter: 0 };
  const nobodyElse = {
    'a retry is scheduled': { job: { backoff: slowRetry, max_attempts: 5 }, state: 'scheduled' },
    'it was the last attempt (dead-lettered)': { job: { max_attempts: 1 }, state: 'failed' },
  };
  for (const [when, c] of Object.entries(nobodyElse)) {
    test(`after its lease ran out, nobody else holding the job (${when}): 409, nothing changes`, async () => {
      const q = uniqueQueue('zombie-expired');
      const job = await api.submitOk(q, { payload: { n: 3 }, ...c.job });
      const zombie = await startZombie(q);
      zombie.freeze();
      const expired = await jobIn(job.id, [c.state]); // the lease ran out
      assert.equal(expired.error.type, 'lease_expired');
      assert.equal(expired.attempt, 1);
      const before = await snapshot(job.id, q);

      assertAllRefused(await zombie.wake());
      assert.deepEqual(await snapshot(job.id, q), before, 'the zombie changed nothing');
    });
  }
});

describe('errand work as the zombie', () => {
  test('frozen past its lease, a second errand work takes over; resumed, the first keeps its hands off', async () => {
    const q = uniqueQueue('zombie-cli');
    const go = scratch.file('go');
    const started = scratch.file('started');
    // The first worker's command: says it started, waits for `go`, answers "first".
    const slow = scratch.script('first.sh', [
      'cat > /dev/null',
      'touch "$STARTED"',
      'i=0; while [ ! -e "$GO" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done',
      'echo \'"first"\'',
    ].join('\n'));
    const quick = scratch.script('second.sh', 'cat > /dev/null\necho \'"second"\'');
    const first = startWorker(srv, [q], [slow], {
      args: ['--lease-ms', '2000', '--concurrency', '1', '--name', 'first'],
      env: { GO: go, STARTED: started },
    });
    let second;
    try {
      const job = await api.submitOk(q, { payload: { n: 5 }, backoff: FAST_BACKOFF, max_attempts: 5 });
      await waitFor(() => existsSync(started), { timeoutMs: WAIT_MS, message: 'the first command to start' });
      first.signal('SIGSTOP'); // its heartbeats stop; its command runs on (own process group)

      second = startWorker(srv, [q], [quick], { args: ['--name', 'second'] });
      const done = await jobIn(job.id, ['succeeded']); // by the second worker
      assert.equal(done.result, 'second');
      assert.equal(done.attempt, 2);
      assert.equal(done.worker, 'second');
      assert.equal((await second.stop()).code, 0);
      const before = await snapshot(job.id, q);

      writeFileSync(go, ''); // the first command ends while its worker is still frozen
      first.signal('SIGCONT');
      await waitFor(() => /lease was lost|lease lost/.test(first.stderr()),
                    { timeoutMs: WAIT_MS, message: `the first worker to notice\n${first.stderr()}` });
      assert.deepEqual(await snapshot(job.id, q), before, 'the resumed worker changed nothing');

      // It lives on and takes the next job normally.
      const next = await api.submitOk(q, { payload: { n: 6 } });
      const nextDone = await jobIn(next.id, ['succeeded']);
      assert.equal(nextDone.result, 'first');
      assert.equal(nextDone.worker, 'first');
      const { code } = await first.stop();
      assert.equal(code, 0, first.stderr());
      assert.match(first.stderr(), /stopped after 1 succeeded, 0 failed, 1 lost leases/);
    } finally {
      first.signal('SIGCONT');
      if (first.alive()) await first.stop().catch(() => {});
      if (second?.alive()) await second.stop().catch(() => {});
    }
  });
});
