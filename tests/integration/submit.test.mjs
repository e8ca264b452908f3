// SPEC §3 Producers: POST /v1/queues/{queue}/jobs — the 202/200 answers and
// their headers, the job document, Prefer: wait, idempotency keys, priority
// and FIFO ordering, delayed jobs, deadlines, traceparent and tags.
//
// Decisions where SPEC is silent:
// - A job that has never been leased has attempt 0 ("1 on the first lease").
// - `tags` of a job submitted without tags may be null or [].
// - `run_at` in the past makes the job ready at once (state queued).
// - A job whose deadline passes while it is scheduled expires at the deadline,
//   not when it would have become ready.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, FAST_BACKOFF, assertJobDoc, assertProblem, assertTimestamp, uniqueQueue, waitFor,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

/** Starts a worker that leases one job of `queue` and acks it with {echo: payload}. */
function ackingWorker(queue) {
  return (async () => {
    const job = await api.leaseOne(queue, { wait: 10 });
    await api.ackOk(job.id, job.lease, { echo: job.payload });
    return job;
  })();
}

describe('submit', () => {
  test('answers 202 with Location, Retry-After and a complete job document', async () => {
    const q = uniqueQueue('submit');
    const res = await api.submit(q, { payload: { hello: 'world', n: [1, 2] } });
    assert.equal(res.status, 202, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const job = res.body;
    assertJobDoc(job);
    const location = new URL(res.headers.get('location'), srv.url).pathname;
    assert.equal(location, `/v1/jobs/${job.id}`);
    const retryAfter = res.headers.get('retry-after');
    assert.ok(retryAfter !== null, 'Retry-After header present');
    assert.ok(/^\d+$/.test(retryAfter) || !Number.isNaN(Date.parse(retryAfter)),
              `Retry-After is delta-seconds or an HTTP date: ${retryAfter}`);
    assert.equal(res.headers.get('preference-applied'), null, 'no Preference-Applied without Prefer');
    assert.equal(res.headers.get('idempotent-replayed'), null);

    assert.equal(job.queue, q);
    assert.equal(job.state, 'queued');
    assert.deepEqual(job.payload, { hello: 'world', n: [1, 2] });
    assert.equal(job.attempt, 0);
    assert.equal(job.max_attempts, 5, 'default max_attempts is 5');
    for (const f of ['started_at', 'finished_at', 'lease_expires_at', 'worker', 'result', 'error',
                     'progress', 'idempotency_key', 'deadline', 'flow']) {
      assert.equal(job[f], null, `${f} is null on a fresh job`);
    }
    assert.equal(job.cancel_requested, false);
    assert.ok(job.tags === null || (Array.isArray(job.tags) && job.tags.length === 0));
    assert.ok(Math.abs(Date.parse(job.created_at) - Date.now()) < 5000, 'created_at is now');

    assert.deepEqual(await api.job(job.id), job, 'GET returns the same document');
  });

  test('ids are distinct, time-ordered UUIDv7s', async () => {
    const q = uniqueQueue('ids');
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await api.submitOk(q, { payload: i })).id);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual([...ids].sort(), ids, 'later jobs have larger ids');
  });

  test('accepts any JSON value as payload, including null, strings and numbers', async () => {
    const q = uniqueQueue('payloads');
    for (const payload of [null, 'text', 42, 1.5, true, [], {}, [{ a: null }]]) {
      const job = await api.submitOk(q, { payload });
      assert.deepEqual(job.payload, payload);
      assert.deepEqual((await api.job(job.id)).payload, payload);
    }
  });

  test('stores priority, max_attempts, tags and accepts backoff and lease_ms', async () => {
    const q = uniqueQueue('fields');
    const job = await api.submitOk(q, {
      payload: 1, priority: 7, max_attempts: 3, tags: ['a', 'b'], backoff: FAST_BACKOFF, lease_ms: 5000,
    });
    assert.equal(job.priority, 7);
    assert.equal(job.max_attempts, 3);
    assert.deepEqual(job.tags, ['a', 'b']);
  });

  test('a queue name of 128 characters is valid', async () => {
    const q = `A${'b'.repeat(126)}9`;
    assert.equal(q.length, 128);
    const job = await api.submitOk(q, { payload: 1 });
    assert.equal(job.queue, q);
    const dotted = await api.submitOk('x.y_z-1', { payload: 1 });
    assert.equal(dotted.queue, 'x.y_z-1');
  });
});

describe('Prefer: wait on submit', () => {
  test('answers 200 with the result when a worker acks within the wait', async () => {
    const q = uniqueQueue('wait-ok');
    const worker = ackingWorker(q);
    const res = await api.submit(q, { payload: { x: 1 } }, { wait: 5 });
    assert.equal(res.status, 200, res.text);
    assertJobDoc(res.body);
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(res.body.result, { echo: { x: 1 } });
    assertTimestamp(res.body.finished_at, 'finished_at');
    assert.match(res.headers.get('preference-applied') ?? '', /^wait=5(\.0*)?$/);
    assert.ok(res.ms < 4000, `answered at once when acked, took ${res.ms} ms`);
    assert.equal((await worker).id, res.body.id);
    // Answered from what the ack wrote, with the payload the submit sent
    // (Broker::ended_view): the very document a read of the store gives.
    assert.deepEqual(res.body, await api.job(res.body.id));
  });

  test('answers 202 with Location when the wait times out', async () => {
    const q = uniqueQueue('wait-timeout');
    const res = await api.submit(q, { payload: 1 }, { wait: 0.5 });
    assert.equal(res.status, 202, res.text);
    assertJobDoc(res.body);
    assert.equal(res.body.state, 'queued');
    assert.equal(new URL(res.headers.get('location'), srv.url).pathname, `/v1/jobs/${res.body.id}`);
    assert.ok(res.headers.get('retry-after') !== null);
    assert.match(res.headers.get('preference-applied') ?? '', /^wait=0?\.50*$/);
    assert.ok(res.ms >= 450, `waited about 0.5 s, took ${res.ms} ms`);
    assert.ok(res.ms < 3000, `did not wait much longer than 0.5 s: ${res.ms} ms`);
  });

  test('honours fractional waits such as wait=0.2', async () => {
    const q = uniqueQueue('wait-frac');
    const res = await api.submit(q, { payload: 1 }, { wait: 0.2 });
    assert.equal(res.status, 202, res.text);
    assert.ok(res.ms >= 150 && res.ms < 2000, `waited about 0.2 s, took ${res.ms} ms`);
  });

  test('answers 200 with the error when the job fails terminally within the wait', async () => {
    const q = uniqueQueue('wait-fail');
    const worker = (async () => {
      const job = await api.leaseOne(q, { wait: 10 });
      const res = await api.fail(job.id, job.lease, { retry: false });
      assert.equal(res.status, 200, res.text);
    })();
    const res = await api.submit(q, { payload: 1 }, { wait: 5 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'failed');
    assert.equal(res.body.error.message, 'boom');
    await worker;
  });

  test('a wait above the server maximum is capped, not an error', async () => {
    const q = uniqueQueue('wait-cap');
    const worker = ackingWorker(q);
    const res = await api.submit(q, { payload: 1 }, { wait: 100000 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'succeeded');
    const applied = res.headers.get('preference-applied');
    if (applied !== null) {
      const n = Number(/^wait=([\d.]+)$/.exec(applied)?.[1]);
      assert.ok(n > 0 && n <= 100000, `Preference-Applied ${applied}`);
    }
    await worker;
  });
});

describe('idempotency keys', () => {
  test('the body field replays the existing job with Idempotent-Replayed: true', async () => {
    const q = uniqueQueue('idem-body');
    const first = await api.submit(q, { payload: { a: 1 }, idempotency_key: 'order-17' });
    assert.equal(first.status, 202);
    assert.notEqual(first.headers.get('idempotent-replayed'), 'true');
    assert.equal(first.body.idempotency_key, 'order-17');
    const again = await api.submit(q, { payload: { a: 1 }, idempotency_key: 'order-17' });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assertJobDoc(again.body);
    const qd = await api.queue(q);
    assert.equal(qd.enqueued_total, 1, 'no second job');
    assert.equal(qd.counts.queued, 1);
  });

  test('the Idempotency-Key header works like the body field', async () => {
    const q = uniqueQueue('idem-header');
    const first = await api.submit(q, { payload: 2 }, { headers: { 'idempotency-key': 'hdr-1' } });
    assert.equal(first.status, 202);
    assert.equal(first.body.idempotency_key, 'hdr-1');
    const viaHeader = await api.submit(q, { payload: 2 }, { headers: { 'idempotency-key': 'hdr-1' } });
    assert.equal(viaHeader.status, 202);
    assert.equal(viaHeader.headers.get('idempotent-replayed'), 'true');
    assert.equal(viaHeader.body.id, first.body.id);
    const viaBody = await api.submit(q, { payload: 2, idempotency_key: 'hdr-1' });
    assert.equal(viaBody.headers.get('idempotent-replayed'), 'true');
    assert.equal(viaBody.body.id, first.body.id);
    assert.equal((await api.queue(q)).enqueued_total, 1);
  });

  test('a replay of a terminal job answers 200 with its result', async () => {
    const q = uniqueQueue('idem-terminal');
    const first = await api.submitOk(q, { payload: 3, idempotency_key: 'done-1' });
    const leased = await api.leaseOne(q);
    await api.ackOk(leased.id, leased.lease, { ok: true });
    const again = await api.submit(q, { payload: 3, idempotency_key: 'done-1' });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.id);
    assert.equal(again.body.state, 'succeeded');
    assert.deepEqual(again.body.result, { ok: true });
  });

  test('the same key with a different payload is 409 and stores nothing', async () => {
    const q = uniqueQueue('idem-conflict');
    await api.submitOk(q, { payload: { v: 1 }, idempotency_key: 'k' });
    const res = await api.submit(q, { payload: { v: 2 }, idempotency_key: 'k' });
    assertProblem(res, 409);
    const qd = await api.queue(q);
    assert.equal(qd.enqueued_total, 1);
    assert.equal(qd.counts.queued, 1);
  });

  test('keys are per queue', async () => {
    const a = await api.submitOk(uniqueQueue('idem-a'), { payload: 1, idempotency_key: 'shared' });
    const res = await api.submit(uniqueQueue('idem-b'), { payload: 1, idempotency_key: 'shared' });
    assert.equal(res.status, 202);
    assert.notEqual(res.headers.get('idempotent-replayed'), 'true');
    assert.notEqual(res.body.id, a.id);
  });
});

describe('ordering', () => {
  test('higher priority first, FIFO within a priority', async () => {
    const q = uniqueQueue('prio');
    const ids = {};
    for (const [name, priority] of [['a', 0], ['b', 5], ['c', 0], ['d', 5], ['e', 1]]) {
      ids[(await api.submitOk(q, { payload: name, priority })).id] = name;
    }
    const order = [];
    for (let i = 0; i < 5; i++) order.push(ids[(await api.leaseOne(q, { wait: 0 })).id]);
    assert.deepEqual(order, ['b', 'd', 'e', 'a', 'c']);
  });

  test('FIFO is by the time a job became ready, not by submission', async () => {
    const q = uniqueQueue('fifo-ready');
    const late = await api.submitOk(q, { payload: 'late', delay_ms: 150 });
    const early = await api.submitOk(q, { payload: 'early' });
    // Wait until the delayed job has become ready before adding the last one.
    await waitFor(async () => (await api.job(late.id)).state === 'queued',
                  { timeoutMs: 5000, message: 'the delayed job to become queued' });
    const last = await api.submitOk(q, { payload: 'last' });
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await api.leaseOne(q, { wait: 0 })).id);
    assert.deepEqual(got, [early.id, late.id, last.id]);
  });
});

describe('scheduling', () => {
  test('delay_ms makes the job scheduled until run_at, then leasable', async () => {
    const q = uniqueQueue('delay');
    const t0 = Date.now();
    const job = await api.submitOk(q, { payload: 1, delay_ms: 400 });
    assert.equal(job.state, 'scheduled');
    assertTimestamp(job.run_at, 'run_at');
    const delta = Date.parse(job.run_at) - Date.parse(job.created_at);
    assert.ok(delta >= 390 && delta <= 450, `run_at is created_at + 400 ms (got +${delta})`);
    assert.deepEqual(await api.leaseJobs([q], { wait: 0 }), [], 'not leasable before run_at');
    assert.equal((await api.queue(q)).counts.scheduled, 1);
    const leased = await api.leaseOne(q, { wait: 5 });
    assert.equal(leased.id, job.id);
    assert.ok(Date.now() - t0 >= 380, 'delivered no earlier than run_at');
  });

  test('run_at schedules the job for that time', async () => {
    const q = uniqueQueue('run-at');
    const runAt = new Date(Date.now() + 400).toISOString();
    const job = await api.submitOk(q, { payload: 1, run_at: runAt });
    assert.equal(job.state, 'scheduled');
    assert.equal(Date.parse(job.run_at), Date.parse(runAt));
    assert.deepEqual(await api.leaseJobs([q], { wait: 0 }), []);
    const leased = await api.leaseOne(q, { wait: 5 });
    assert.equal(leased.id, job.id);
    assert.ok(Date.now() >= Date.parse(runAt) - 20, 'delivered no earlier than run_at');
  });

  test('run_at in the past makes the job ready at once', async () => {
    const q = uniqueQueue('run-at-past');
    const job = await api.submitOk(q, { payload: 1, run_at: new Date(Date.now() - 60_000).toISOString() });
    assert.equal(job.state, 'queued');
    assert.equal((await api.leaseOne(q, { wait: 0 })).id, job.id);
  });
});

describe('deadlines', () => {
  test('ttl_ms sets the deadline; an unstarted job expires and is never delivered', async () => {
    const q = uniqueQueue('ttl');
    const job = await api.submitOk(q, { payload: 1, ttl_ms: 200 });
    assertTimestamp(job.deadline, 'deadline');
    const delta = Date.parse(job.deadline) - Date.parse(job.created_at);
    assert.ok(delta >= 190 && delta <= 250, `deadline is created_at + 200 ms (got +${delta})`);
    const done = await api.job(job.id, { wait: 5 });
    assert.equal(done.state, 'expired');
    assertTimestamp(done.finished_at, 'finished_at');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.2 }), []);
    const qd = await api.queue(q);
    assert.equal(qd.counts.expired, 1);
    assert.equal(qd.counts.queued, 0);
  });

  test('deadline (RFC 3339) works like ttl_ms', async () => {
    const q = uniqueQueue('deadline');
    const deadline = new Date(Date.now() + 200).toISOString();
    const job = await api.submitOk(q, { payload: 1, deadline });
    assert.equal(Date.parse(job.deadline), Date.parse(deadline));
    assert.equal((await api.job(job.id, { wait: 5 })).state, 'expired');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0 }), []);
  });

  test('a scheduled job expires at its deadline, before it would have run', async () => {
    const q = uniqueQueue('deadline-scheduled');
    const job = await api.submitOk(q, { payload: 1, delay_ms: 3000, ttl_ms: 200 });
    assert.equal(job.state, 'scheduled');
    const res = await api.getJob(job.id, { wait: 2 });
    assert.equal(res.body.state, 'expired');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0 }), []);
  });

  test('a job leased before its deadline runs to completion', async () => {
    const q = uniqueQueue('deadline-started');
    const job = await api.submitOk(q, { payload: 1, ttl_ms: 1000 });
    const leased = await api.leaseOne(q, { wait: 0 });
    assert.equal(leased.id, job.id);
    assertTimestamp(leased.deadline, 'lease deadline');
    // Keep it past its deadline; a started job does not expire.
    const res = await api.getJob(job.id, { wait: 1.3 });
    assert.equal(res.body.state, 'running');
    await api.ackOk(leased.id, leased.lease, 'done');
    assert.equal((await api.job(job.id)).state, 'succeeded');
  });
});

describe('trace context and tags', () => {
  test('traceparent and tags are handed to the worker', async () => {
    const q = uniqueQueue('trace');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const job = await api.submitOk(q, { payload: 1, tags: ['vip', 'eu'] }, { headers: { traceparent } });
    assert.deepEqual(job.tags, ['vip', 'eu']);
    const leased = await api.leaseOne(q);
    assert.equal(leased.id, job.id);
    assert.equal(leased.traceparent, traceparent);
    assert.deepEqual(leased.tags, ['vip', 'eu']);
  });

  test('a job without traceparent is leased with traceparent null', async () => {
    const q = uniqueQueue('no-trace');
    await api.submitOk(q, { payload: 1 });
    const leased = await api.leaseOne(q);
    assert.equal(leased.traceparent, null);
  });
});
