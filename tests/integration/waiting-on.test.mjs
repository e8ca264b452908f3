// waiting_on (docs/api.md "waiting_on"): every answer with a job that is not
// finished says why, one test per reason, against the real server; finished
// jobs say null. The no_workers tests run a second server started with
// --no-worker-after-ms 300, and wait for the condition with a deadline.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, assertTimestamp, uniqueQueue, waitFor } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const SHORT_THRESHOLD_MS = 300;
const SLOW_BACKOFF = { initial_ms: 60_000, multiplier: 1, max_ms: 60_000, jitter: 0 };

let srv;
let api;
let idleSrv;
let idleApi;
before(async () => {
  [srv, idleSrv] = await Promise.all([
    startServer(),
    startServer({ args: ['--no-worker-after-ms', String(SHORT_THRESHOLD_MS)] }),
  ]);
  api = new Api(srv);
  idleApi = new Api(idleSrv);
});
after(() => Promise.all([srv?.close(), idleSrv?.close()]));

/** Asserts the common shape: an object with `reason` and a non-empty `message`. */
function assertWaitingOn(doc, reason) {
  const w = doc.waiting_on;
  assert.ok(w && typeof w === 'object', `waiting_on should be an object: ${JSON.stringify(doc)}`);
  assert.equal(w.reason, reason, `waiting_on: ${JSON.stringify(w)}`);
  assert.equal(typeof w.message, 'string');
  assert.ok(w.message.length > 0, 'message is a sentence');
  return w;
}

/** GETs the job until its waiting_on has `reason` (nothing notifies idleness: poll, with a deadline). */
function waitForReason(client, id, reason) {
  return waitFor(async () => {
    const doc = await client.job(id);
    return doc.waiting_on?.reason === reason ? doc.waiting_on : null;
  }, { timeoutMs: 10_000, message: `waiting_on ${reason} of job ${id}` });
}

describe('waiting_on reasons', () => {
  test('scheduled: a delayed job waits until its run_at', async () => {
    const q = uniqueQueue('wo-scheduled');
    const submitted = await api.submitOk(q, { payload: {}, delay_ms: 60_000 });
    const w = assertWaitingOn(submitted, 'scheduled');
    assertTimestamp(w.until, 'until');
    assert.equal(w.until, submitted.run_at);
    assert.match(w.message, /^scheduled to run at .+ \(in \d+ s\)$/);
    assert.deepEqual((await api.job(submitted.id)).waiting_on.until, w.until);
  });

  test('backoff: a failed attempt waits with its attempt, until and last error', async () => {
    const q = uniqueQueue('wo-backoff');
    const { job, leased } =
      await api.submitAndLease(q, { payload: {}, backoff: SLOW_BACKOFF, max_attempts: 3 });
    const res = await api.fail(job.id, leased.lease,
                               { error: { message: 'db down', type: 'ConnectionError' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'scheduled');
    const doc = await api.job(job.id);
    const w = assertWaitingOn(doc, 'backoff');
    assert.equal(w.attempt, 1);
    assert.equal(w.max_attempts, 3);
    assert.equal(w.until, res.body.run_at);
    assert.deepEqual(w.last_error, { message: 'db down', type: 'ConnectionError' });
    assert.match(w.message, /after attempt 1 of 3 failed \(ConnectionError: db down\)/);
  });

  test('paused: a job of a paused queue says so, in the list too', async () => {
    const q = uniqueQueue('wo-paused');
    const submitted = await api.submitOk(q);
    assert.equal((await api.req('POST', `/v1/queues/${q}/pause`)).status, 200);
    const w = assertWaitingOn(await api.job(submitted.id), 'paused');
    assert.equal(w.queue, q);
    const list = await api.req('GET', `/v1/jobs?queue=${q}`);
    assert.equal(list.status, 200, list.text);
    assertWaitingOn(list.body.jobs[0], 'paused');
    assert.equal((await api.req('POST', `/v1/queues/${q}/resume`)).status, 200);
    assertWaitingOn(await api.job(submitted.id), 'queued');
  });

  test('queued: ahead counts the ready jobs leased first (priority, then FIFO)', async () => {
    const q = uniqueQueue('wo-queued');
    const low1 = await api.submitOk(q, { payload: {}, priority: 0 });
    const high = await api.submitOk(q, { payload: {}, priority: 10 });
    const low2 = await api.submitOk(q, { payload: {}, priority: 0 });
    assert.equal(assertWaitingOn(low2, 'queued').ahead, 2, 'the submit answer carries it');
    assert.equal(assertWaitingOn(await api.job(high.id), 'queued').ahead, 0);
    assert.equal(assertWaitingOn(await api.job(low1.id), 'queued').ahead, 1);
    assert.equal(assertWaitingOn(await api.job(low2.id), 'queued').ahead, 2);
    assert.match((await api.job(low2.id)).waiting_on.message, /behind 2 jobs/);

    await api.leaseOne(q);  // takes `high`
    assert.equal((await api.job(low2.id)).waiting_on.ahead, 1);
  });

  test('no_workers: nobody has asked for the queue past the threshold', async () => {
    const q = uniqueQueue('wo-idle');
    const submitted = await idleApi.submitOk(q);
    const w = await waitForReason(idleApi, submitted.id, 'no_workers');
    assert.equal(w.last_lease_request_at, null, 'no worker ever asked');
    assert.ok(Number.isInteger(w.idle_seconds) && w.idle_seconds >= 0, `idle_seconds ${w.idle_seconds}`);
    assert.equal(w.ahead, 0);
    assert.match(w.message, new RegExp(`no worker has asked queue '${q}' for jobs`));
  });

  test('no_workers: a long poll asks for its whole wait, and its end is the last request', async () => {
    const q = uniqueQueue('wo-poll');
    const started = Date.now();
    // An empty queue: the poll waits its full second (longer than the threshold).
    const jobs = await idleApi.leaseJobs([q], { wait: 1 });
    assert.equal(jobs.length, 0);
    const ended = Date.now();
    assert.ok(ended - started >= 900, 'the long poll stayed open');

    const submitted = await idleApi.submitOk(q);
    if (Date.now() - ended < SHORT_THRESHOLD_MS) {  // else this machine stalled past the threshold
      assertWaitingOn(submitted, 'queued');
    }
    const w = await waitForReason(idleApi, submitted.id, 'no_workers');
    assertTimestamp(w.last_lease_request_at, 'last_lease_request_at');
    assert.ok(Date.parse(w.last_lease_request_at) >= started + 900,
              `the last request is the poll's end, not its start: ${w.last_lease_request_at}`);
  });

  test('running: the lease holder and its expiry, then cancel_requested', async () => {
    const q = uniqueQueue('wo-running');
    const submitted = await api.submitOk(q);
    const leased = await api.leaseOne(q, { worker: 'host-7/99', lease_ms: 60_000 });
    const w = assertWaitingOn(await api.job(submitted.id), 'running');
    assert.equal(w.worker, 'host-7/99');
    assert.equal(w.lease_expires_at, leased.lease_expires_at);
    assert.equal(w.attempt, 1);
    assert.equal(w.cancel_requested, false);

    const res = await api.cancel(submitted.id);
    assert.equal(res.status, 200, res.text);
    const c = assertWaitingOn(res.body, 'running');
    assert.equal(c.cancel_requested, true);
    assert.match(c.message, /cancellation was requested/);
  });
});

describe('finished jobs', () => {
  test('waiting_on is null once a job is terminal, and back after an admin retry', async () => {
    const q = uniqueQueue('wo-done');
    const { job, leased } = await api.submitAndLease(q);
    await api.ackOk(job.id, leased.lease);
    const done = await api.job(job.id);
    assert.equal(done.state, 'succeeded');
    assert.ok(Object.hasOwn(done, 'waiting_on'), 'the field is present');
    assert.equal(done.waiting_on, null);

    const other = await api.submitOk(q);
    const cancelled = await api.cancel(other.id);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.equal(cancelled.body.waiting_on, null);
    const retried = await api.req('POST', `/v1/jobs/${other.id}/retry`);
    assert.equal(retried.status, 200, retried.text);
    assertWaitingOn(retried.body, 'queued');
  });
});
