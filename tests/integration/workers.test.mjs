// SPEC §3 Workers: POST /v1/leases (fields, max, strict queue order, long
// poll, paused queues), ack, fail (retry, backoff, retry_in_ms, exhaustion),
// heartbeat (lease extension, progress), lease expiry and POST /v1/acks.
//
// Decisions where SPEC is silent:
// - The `lease_ms` of the lease request sets the lease length.
// - Ack of an unknown job is 404, in POST /v1/acks too.
// - The answer to a fail that ends the job has state "failed" (its run_at may
//   be null or absent).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, FAST_BACKOFF, assertJobDoc, assertLeaseEntry, assertProblem, assertTimestamp, msUntil,
  randomUuidV7, sleep, uniqueQueue,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

describe('leases', () => {
  test('a lease carries every field and makes the job running', async () => {
    const q = uniqueQueue('lease');
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const job = await api.submitOk(q, { payload: { p: 1 }, tags: ['t1'], ttl_ms: 60_000, max_attempts: 4 },
                                   { headers: { traceparent } });
    const res = await api.lease([q], { worker: 'host-1/123', max: 10, lease_ms: 30_000 });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.body.jobs.length, 1);
    const l = res.body.jobs[0];
    assertLeaseEntry(l);
    assert.equal(l.id, job.id);
    assert.equal(l.queue, q);
    assert.deepEqual(l.payload, { p: 1 });
    assert.equal(l.attempt, 1);
    assert.equal(l.max_attempts, 4);
    assert.equal(Date.parse(l.deadline), Date.parse(job.deadline));
    assert.equal(l.traceparent, traceparent);
    assert.deepEqual(l.tags, ['t1']);
    const left = msUntil(l.lease_expires_at);
    assert.ok(left > 25_000 && left <= 31_000, `lease_expires_at is about now + 30 s (${left} ms)`);

    const doc = await api.job(job.id);
    assertJobDoc(doc);
    assert.equal(doc.state, 'running');
    assert.equal(doc.attempt, 1);
    assert.equal(doc.worker, 'host-1/123');
    assertTimestamp(doc.started_at, 'started_at');
    assert.equal(Date.parse(doc.lease_expires_at), Date.parse(l.lease_expires_at));
    const qd = await api.queue(q);
    assert.equal(qd.counts.running, 1);
    assert.equal(qd.counts.queued, 0);
  });

  test('max bounds the number of jobs per lease', async () => {
    const q = uniqueQueue('lease-max');
    const res = await api.batch(q, Array.from({ length: 5 }, (_, i) => ({ payload: i })));
    assert.equal(res.status, 202);
    const first = await api.leaseJobs([q], { max: 3 });
    assert.equal(first.length, 3);
    const second = await api.leaseJobs([q], { max: 10 });
    assert.equal(second.length, 2);
    const ids = [...first, ...second].map((j) => j.id);
    assert.deepEqual(ids, res.body.jobs.map((j) => j.id), 'FIFO across leases');
    assert.equal(new Set(second.map((j) => j.lease)).size, 2, 'each job has its own token');
  });

  test('queues are taken in the given order (strict priority)', async () => {
    const high = uniqueQueue('lease-high');
    const low = uniqueQueue('lease-low');
    const l1 = await api.submitOk(low, { payload: 'low1' });
    const h1 = await api.submitOk(high, { payload: 'high1', priority: 5 });
    const h2 = await api.submitOk(high, { payload: 'high2', priority: 0 });
    const l2 = await api.submitOk(low, { payload: 'low2', priority: 100 });
    assert.equal((await api.leaseOne(high, { wait: 0 })).id, h1.id, 'sanity');
    const jobs = await api.leaseJobs([high, low], { max: 10 });
    assert.deepEqual(jobs.map((j) => j.id), [h2.id, l2.id, l1.id]);
    assert.deepEqual(jobs.map((j) => j.queue), [high, low, low]);
  });

  test('a long poll returns as soon as a job is submitted', async () => {
    const q = uniqueQueue('lease-wake');
    const waiting = api.lease([q], { wait: 10 });
    await sleep(300); // the lease request is parked by now
    const job = await api.submitOk(q, { payload: 'wake' });
    const t0 = performance.now();
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.body.jobs.length, 1);
    assert.equal(res.body.jobs[0].id, job.id);
    assert.ok(performance.now() - t0 < 2000, 'woken at once, not at the end of the wait');
    assert.ok(res.ms < 5000, `well before the 10 s wait ended (${res.ms} ms)`);
  });

  test('a long poll answers an empty list when nothing comes within the wait', async () => {
    const q = uniqueQueue('lease-empty');
    const res = await api.lease([q], { wait: 0.3 });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.jobs, []);
    assert.ok(res.ms >= 250 && res.ms < 3000, `waited about 0.3 s: ${res.ms} ms`);
  });

  test('a lease without wait answers at once', async () => {
    const res = await api.lease([uniqueQueue('lease-nowait')]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.jobs, []);
    assert.ok(res.ms < 1000);
  });

  test('a paused queue leases nothing until resumed', async () => {
    const q = uniqueQueue('lease-paused');
    await api.submitOk(q, { payload: 0 });
    assert.equal((await api.req('POST', `/v1/queues/${q}/pause`)).status, 200);
    const job = await api.submitOk(q, { payload: 1 });
    assert.equal(job.state, 'queued', 'a paused queue accepts jobs');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.3 }), []);
    assert.equal((await api.queue(q)).counts.queued, 2);
    const waiting = api.lease([q], { wait: 10, max: 10 });
    await sleep(200);
    assert.equal((await api.req('POST', `/v1/queues/${q}/resume`)).status, 200);
    const res = await waiting;
    assert.equal(res.body.jobs.length, 2, 'a waiting worker is woken by resume');
    assert.ok(res.ms < 5000, `woken by resume (${res.ms} ms)`);
  });

  test('a job is not delivered to a second worker while leased', async () => {
    const q = uniqueQueue('lease-once');
    await api.submitAndLease(q);
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.2 }), []);
  });
});

describe('ack', () => {
  test('answers {"state":"succeeded"} and stores the result', async () => {
    const q = uniqueQueue('ack');
    const { job, leased } = await api.submitAndLease(q);
    const res = await api.ack(job.id, leased.lease, { answer: 42 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'succeeded');
    const doc = await api.job(job.id);
    assertJobDoc(doc);
    assert.equal(doc.state, 'succeeded');
    assert.deepEqual(doc.result, { answer: 42 });
    assertTimestamp(doc.finished_at, 'finished_at');
    assert.equal(doc.error, null);
    const qd = await api.queue(q);
    assert.equal(qd.counts.succeeded, 1);
    assert.equal(qd.counts.running, 0);
    assert.equal(qd.succeeded_total, 1);
  });

  test('acking twice is 409', async () => {
    const q = uniqueQueue('ack-twice');
    const { job, leased } = await api.submitAndLease(q);
    await api.ackOk(job.id, leased.lease, 1);
    assertProblem(await api.ack(job.id, leased.lease, 2), 409);
    assert.equal((await api.job(job.id)).result, 1, 'the first result stays');
  });

  test('an unknown or foreign token is 409 and changes nothing', async () => {
    const q = uniqueQueue('ack-token');
    const a = await api.submitAndLease(q);
    const b = await api.submitAndLease(q);
    assertProblem(await api.ack(a.job.id, 'not-a-token', 1), 409);
    assertProblem(await api.ack(a.job.id, b.leased.lease, 1), 409, 'token of another job');
    assertProblem(await api.fail(a.job.id, 'not-a-token'), 409, 'fail');
    assertProblem(await api.heartbeat(a.job.id, 'not-a-token'), 409, 'heartbeat');
    const doc = await api.job(a.job.id);
    assert.equal(doc.state, 'running');
    assert.equal(doc.attempt, 1);
    await api.ackOk(a.job.id, a.leased.lease, 'ok');
  });

  test('ack of an unknown job is 404', async () => {
    assertProblem(await api.ack(randomUuidV7(), 'x', 1), 404);
  });
});

describe('fail', () => {
  test('a retryable failure schedules attempt 2 after the backoff', async () => {
    const q = uniqueQueue('fail-retry');
    const { job, leased } = await api.submitAndLease(q, { payload: 1, backoff: FAST_BACKOFF });
    const error = { message: 'db down', type: 'ConnectionError', detail: 'at line 3' };
    const t0 = Date.now();
    const res = await api.fail(job.id, leased.lease, { error });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'scheduled');
    assertTimestamp(res.body.run_at, 'run_at');
    const delay = Date.parse(res.body.run_at) - t0;
    assert.ok(delay >= 0 && delay < 1000, `run_at about now + 50 ms (${delay} ms)`);

    const doc = await api.job(job.id);
    assert.ok(['scheduled', 'queued'].includes(doc.state), doc.state);
    assert.deepEqual(doc.error, { ...error, attempt: 1 });
    const again = await api.leaseOne(q, { wait: 5 });
    assert.equal(again.id, job.id);
    assert.equal(again.attempt, 2);
    assert.notEqual(again.lease, leased.lease, 'a new token per lease');
    assertProblem(await api.ack(job.id, leased.lease, 'old'), 409, 'the old token is stale');
    await api.ackOk(job.id, again.lease, 'second time lucky');
    const done = await api.job(job.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.attempt, 2);
    const failedAttempt = (await api.events(job.id)).find((e) => e.type === 'failed_attempt');
    assert.equal(failedAttempt.error.message, 'db down');
  });

  test('the default backoff waits about a second before attempt 2', async () => {
    const q = uniqueQueue('fail-default-backoff');
    const { job, leased } = await api.submitAndLease(q);
    const t0 = Date.now();
    const res = await api.fail(job.id, leased.lease);
    assert.equal(res.body.state, 'scheduled');
    const delay = Date.parse(res.body.run_at) - t0;
    assert.ok(delay >= 700 && delay <= 1300, `initial 1000 ms with 0.2 jitter (${delay} ms)`);
  });

  test('retry:false fails the job terminally', async () => {
    const q = uniqueQueue('fail-final');
    const { job, leased } = await api.submitAndLease(q, { payload: 1, backoff: FAST_BACKOFF });
    const res = await api.fail(job.id, leased.lease, {
      retry: false, error: { message: 'bad input', type: 'ValidationError', detail: 'field x' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'failed');
    const doc = await api.job(job.id);
    assert.equal(doc.state, 'failed');
    assert.deepEqual(doc.error, { message: 'bad input', type: 'ValidationError', detail: 'field x', attempt: 1 });
    assertTimestamp(doc.finished_at, 'finished_at');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.2 }), []);
    const qd = await api.queue(q);
    assert.equal(qd.counts.failed, 1);
    assert.equal(qd.failed_total, 1);
    const types = (await api.events(job.id)).map((e) => e.type);
    assert.equal(types.at(-1), 'failed');
  });

  test('exhausting max_attempts fails the job with the last error', async () => {
    const q = uniqueQueue('fail-exhaust');
    const job = await api.submitOk(q, { payload: 1, max_attempts: 2, backoff: FAST_BACKOFF });
    const first = await api.leaseOne(q);
    assert.equal(first.max_attempts, 2);
    const r1 = await api.fail(job.id, first.lease, { error: { message: 'e1', type: 'T', detail: '' } });
    assert.equal(r1.body.state, 'scheduled');
    const second = await api.leaseOne(q, { wait: 5 });
    assert.equal(second.attempt, 2);
    const r2 = await api.fail(job.id, second.lease, { error: { message: 'e2', type: 'T', detail: 'last' } });
    assert.equal(r2.status, 200);
    assert.equal(r2.body.state, 'failed');
    const doc = await api.job(job.id);
    assert.equal(doc.state, 'failed');
    assert.equal(doc.attempt, 2);
    assert.deepEqual(doc.error, { message: 'e2', type: 'T', detail: 'last', attempt: 2 });
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.2 }), []);
  });

  test('retry_in_ms overrides the backoff', async () => {
    const q = uniqueQueue('fail-retry-in');
    const { job, leased } = await api.submitAndLease(q, { payload: 1, backoff: FAST_BACKOFF });
    const t0 = Date.now();
    const res = await api.fail(job.id, leased.lease, { retry_in_ms: 600 });
    assert.equal(res.body.state, 'scheduled');
    const delay = Date.parse(res.body.run_at) - t0;
    assert.ok(delay >= 550 && delay < 1200, `run_at about now + 600 ms (${delay} ms)`);
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.2 }), [], 'not before run_at');
    const again = await api.leaseOne(q, { wait: 5 });
    assert.equal(again.attempt, 2);
    assert.ok(Date.now() - t0 >= 550);
  });

  test('a stale token cannot fail the job twice', async () => {
    const q = uniqueQueue('fail-twice');
    const slow = { ...FAST_BACKOFF, initial_ms: 60_000, max_ms: 60_000 };
    const { job, leased } = await api.submitAndLease(q, { payload: 1, backoff: slow });
    assert.equal((await api.fail(job.id, leased.lease)).status, 200);
    assertProblem(await api.fail(job.id, leased.lease), 409);
    assert.equal((await api.job(job.id)).error.attempt, 1);
  });
});

describe('heartbeat', () => {
  test('extends the lease and stores progress', async () => {
    const q = uniqueQueue('hb');
    const { job, leased } = await api.submitAndLease(q, { payload: 1 }, { lease_ms: 2000 });
    const progress = { percent: 55, message: 'resizing', data: { frames: 12 } };
    const res = await api.heartbeat(job.id, leased.lease, { lease_ms: 60_000, progress });
    assert.equal(res.status, 200, res.text);
    assertTimestamp(res.body.lease_expires_at, 'lease_expires_at');
    assert.equal(res.body.cancel_requested, false);
    assert.ok(Date.parse(res.body.lease_expires_at) > Date.parse(leased.lease_expires_at), 'extended');
    assert.ok(msUntil(res.body.lease_expires_at) > 50_000, 'extended by lease_ms');
    const doc = await api.job(job.id);
    assert.deepEqual(doc.progress, progress);
    assert.equal(Date.parse(doc.lease_expires_at), Date.parse(res.body.lease_expires_at));
    const ev = (await api.events(job.id)).find((e) => e.type === 'progress');
    assert.ok(ev, 'a progress event in the timeline');
    assert.equal((ev.progress ?? ev).percent, 55);
  });

  test('keeps a short lease alive past its first expiry', async () => {
    const q = uniqueQueue('hb-keep');
    const { job, leased } = await api.submitAndLease(q, { payload: 1 }, { lease_ms: 600 });
    for (let i = 0; i < 4; i++) {
      await sleep(250);
      const res = await api.heartbeat(job.id, leased.lease, { lease_ms: 600 });
      assert.equal(res.status, 200, `heartbeat ${i}: ${res.text}`);
    }
    const doc = await api.job(job.id);
    assert.equal(doc.state, 'running');
    assert.equal(doc.attempt, 1);
    await api.ackOk(job.id, leased.lease, 'kept');
  });

  test('progress out of 0..100 is 400', async () => {
    const q = uniqueQueue('hb-bad');
    const { job, leased } = await api.submitAndLease(q);
    for (const percent of [101, -1, 'half']) {
      const res = await api.heartbeat(job.id, leased.lease, { progress: { percent, message: '', data: null } });
      assertProblem(res, 400, `percent ${percent}`);
    }
    assert.equal((await api.job(job.id)).progress, null);
  });
});

describe('lease expiry', () => {
  test('an expired lease is a failed attempt (lease_expired) and the job is delivered again', async () => {
    const q = uniqueQueue('expiry');
    const job = await api.submitOk(q, { payload: 1, backoff: FAST_BACKOFF });
    const first = await api.leaseOne(q, { lease_ms: 300, worker: 'slow' });
    const second = await api.leaseOne(q, { wait: 5, worker: 'fast' });
    assert.equal(second.id, job.id);
    assert.equal(second.attempt, 2);
    assertProblem(await api.ack(job.id, first.lease, 'late'), 409, 'the expired token is stale');
    assertProblem(await api.heartbeat(job.id, first.lease), 409, 'no heartbeat on an expired lease');
    const events = await api.events(job.id);
    const failed = events.find((e) => e.type === 'failed_attempt');
    assert.ok(failed, `timeline ${events.map((e) => e.type)}`);
    assert.equal(failed.error.type, 'lease_expired');
    const doc = await api.job(job.id);
    assert.equal(doc.worker, 'fast');
    assert.equal(doc.error.type, 'lease_expired');
    assert.equal(doc.error.attempt, 1);
    await api.ackOk(job.id, second.lease, 'done');
  });

  test('an expired lease on the last attempt fails the job', async () => {
    const q = uniqueQueue('expiry-last');
    const job = await api.submitOk(q, { payload: 1, max_attempts: 1 });
    await api.leaseOne(q, { lease_ms: 200 });
    const doc = await api.job(job.id, { wait: 5 });
    assert.equal(doc.state, 'failed');
    assert.equal(doc.error.type, 'lease_expired');
  });
});

describe('POST /v1/acks', () => {
  test('acks many jobs and reports each result', async () => {
    const q = uniqueQueue('acks');
    await api.batch(q, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    const [a, b, c] = await api.leaseJobs([q], { max: 3 });
    const unknown = randomUuidV7();
    const res = await api.req('POST', '/v1/acks', {
      json: {
        acks: [
          { id: a.id, lease: a.lease, result: 'ra' },
          { id: b.id, lease: 'stale-token', result: 'rb' },
          { id: c.id, lease: c.lease, result: { rc: true } },
          { id: unknown, lease: 'x', result: null },
        ],
      },
    });
    assert.equal(res.status, 200, res.text);
    const results = res.body.results;
    assert.equal(results.length, 4);
    assert.equal(results[0].id, a.id);
    assert.equal(results[0].ok, true);
    assert.equal(results[1].id, b.id);
    assert.equal(results[1].ok, false);
    assert.equal(results[1].status, 409);
    assert.equal(typeof results[1].detail, 'string');
    assert.equal(results[2].id, c.id);
    assert.equal(results[2].ok, true);
    assert.equal(results[3].id, unknown);
    assert.equal(results[3].ok, false);
    assert.equal(results[3].status, 404);

    assert.equal((await api.job(a.id)).result, 'ra');
    assert.deepEqual((await api.job(c.id)).result, { rc: true });
    const bDoc = await api.job(b.id);
    assert.equal(bDoc.state, 'running');
    assert.equal(bDoc.result, null);
    await api.ackOk(b.id, b.lease, 'rb');
  });
});
