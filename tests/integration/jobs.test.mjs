// SPEC §3 Producers: batch submit, GET /v1/jobs/{id} (with long poll) and
// POST /v1/jobs/{id}/cancel.
//
// Decisions where SPEC is silent:
// - A malformed job id (not a UUID) answers 404, like an unknown one.
// - Cancel answers 200 with the job document, also for a running job whose
//   cancellation is only requested.
// - As docs/api.md records: when a worker fails a job whose cancellation was
//   requested, the job becomes cancelled instead of being retried.
// - A batch's bad-job detail names the index as a plain number (e.g. "jobs[7]").

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, FAST_BACKOFF, assertJobDoc, assertProblem, randomUuidV7, sleep, uniqueQueue, waitFor,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

describe('batch submit', () => {
  test('answers 202 with {id, state} per job, in order', async () => {
    const q = uniqueQueue('batch');
    const jobs = [{ payload: 0 }, { payload: 1, delay_ms: 60_000 }, { payload: 2, priority: 3 }];
    const res = await api.batch(q, jobs);
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.jobs.length, 3);
    assert.deepEqual(res.body.jobs.map((j) => j.state), ['queued', 'scheduled', 'queued']);
    for (const [i, entry] of res.body.jobs.entries()) {
      const doc = await api.job(entry.id);
      assert.equal(doc.payload, i, `entry ${i} is the job at index ${i}`);
      assert.equal(doc.state, entry.state);
    }
    assert.equal(new Set(res.body.jobs.map((j) => j.id)).size, 3);
    const qd = await api.queue(q);
    assert.equal(qd.counts.queued, 2);
    assert.equal(qd.counts.scheduled, 1);
  });

  test('one bad job is 400 naming its index, and nothing is stored', async () => {
    const q = uniqueQueue('batch-bad');
    await api.submitOk(q, { payload: 'seed' });
    const before = await api.queueState(q);
    const jobs = Array.from({ length: 10 }, (_, i) => ({ payload: i }));
    jobs[7] = { priority: 1 }; // no payload
    const res = await api.batch(q, jobs);
    const problem = assertProblem(res, 400);
    assert.match(problem.detail, /\b7\b/, `detail names index 7: ${problem.detail}`);
    assert.deepEqual(await api.queueState(q), before, 'queue unchanged');
  });

  test('a bad job with a wrong type is also rejected as a whole', async () => {
    const q = uniqueQueue('batch-type');
    await api.submitOk(q, { payload: 'seed' });
    const before = await api.queueState(q);
    const res = await api.batch(q, [{ payload: 1 }, { payload: 2, priority: 'high' }]);
    assert.match(assertProblem(res, 400).detail, /\b1\b/);
    assert.deepEqual(await api.queueState(q), before);
  });

  test('more than 1000 jobs is 413; exactly 1000 is accepted', async () => {
    const q = uniqueQueue('batch-big');
    await api.submitOk(q, { payload: 'seed' });
    const before = await api.queueState(q);
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ payload: i }));
    assertProblem(await api.batch(q, tooMany), 413);
    assert.deepEqual(await api.queueState(q), before);
    const res = await api.batch(q, tooMany.slice(0, 1000));
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.jobs.length, 1000);
    assert.equal((await api.queue(q)).counts.queued, 1001);
  });

  test('a body without a jobs array is 400', async () => {
    const q = uniqueQueue('batch-shape');
    for (const json of [{}, { jobs: 'x' }, { jobs: {} }, []]) {
      assertProblem(await api.req('POST', `/v1/queues/${q}/batch`, { json }), 400, JSON.stringify(json));
    }
    assert.ok(!(await api.queueNames()).includes(q), 'no queue was created');
  });
});

describe('GET /v1/jobs/{id}', () => {
  test('returns the job document', async () => {
    const q = uniqueQueue('get');
    const job = await api.submitOk(q, { payload: { k: 'v' }, tags: ['t'] });
    const res = await api.getJob(job.id);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assertJobDoc(res.body);
    assert.deepEqual(res.body, job);
  });

  test('an unknown id is 404', async () => {
    assertProblem(await api.getJob(randomUuidV7()), 404);
  });

  test('a malformed id is 404', async () => {
    for (const id of ['not-a-uuid', '123', 'zzzzzzzz-zzzz-7zzz-8zzz-zzzzzzzzzzzz']) {
      assertProblem(await api.getJob(id), 404, id);
    }
  });

  test('Prefer: wait holds the answer until the job is terminal', async () => {
    const q = uniqueQueue('get-wait');
    const job = await api.submitOk(q, { payload: 1 });
    const waiting = api.getJob(job.id, { wait: 10 });
    const leased = await api.leaseOne(q);
    await sleep(100); // the answer must wait for the ack, not come earlier
    await api.ackOk(leased.id, leased.lease, 'r');
    const res = await waiting;
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'succeeded');
    assert.equal(res.body.result, 'r');
    assert.ok(res.ms < 5000, `answered when the job finished, took ${res.ms} ms`);
  });

  test('Prefer: wait answers 200 with the current job after the timeout', async () => {
    const q = uniqueQueue('get-wait-timeout');
    const job = await api.submitOk(q, { payload: 1 });
    const res = await api.getJob(job.id, { wait: 0.4 });
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'queued');
    assert.ok(res.ms >= 350 && res.ms < 3000, `waited about 0.4 s: ${res.ms} ms`);
  });

  test('Prefer: wait on a terminal job answers at once', async () => {
    const q = uniqueQueue('get-wait-done');
    const job = await api.submitOk(q, { payload: 1 });
    const leased = await api.leaseOne(q);
    await api.ackOk(leased.id, leased.lease, null);
    const res = await api.getJob(job.id, { wait: 10 });
    assert.equal(res.body.state, 'succeeded');
    assert.ok(res.ms < 2000, `no wait for a terminal job: ${res.ms} ms`);
  });

  test('Prefer: wait on an unknown id is 404 at once', async () => {
    const res = await api.getJob(randomUuidV7(), { wait: 10 });
    assertProblem(res, 404);
    assert.ok(res.ms < 2000);
  });
});

describe('cancel', () => {
  test('a queued job becomes cancelled and is never delivered', async () => {
    const q = uniqueQueue('cancel-queued');
    const job = await api.submitOk(q, { payload: 1 });
    const res = await api.cancel(job.id);
    assert.equal(res.status, 200, res.text);
    assertJobDoc(res.body);
    assert.equal(res.body.state, 'cancelled');
    assert.equal((await api.job(job.id)).state, 'cancelled');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0 }), []);
    const types = (await api.events(job.id)).map((e) => e.type);
    assert.ok(types.includes('cancelled'), `timeline ${types}`);
    assert.equal((await api.queue(q)).counts.cancelled, 1);
  });

  test('a scheduled job becomes cancelled', async () => {
    const q = uniqueQueue('cancel-scheduled');
    const job = await api.submitOk(q, { payload: 1, delay_ms: 60_000 });
    const res = await api.cancel(job.id);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'cancelled');
    const qd = await api.queue(q);
    assert.equal(qd.counts.scheduled, 0);
    assert.equal(qd.counts.cancelled, 1);
  });

  test('a running job stays running with cancel_requested, and its heartbeat says so', async () => {
    const q = uniqueQueue('cancel-running');
    const { job, leased } = await api.submitAndLease(q);
    const hb0 = await api.heartbeat(job.id, leased.lease);
    assert.equal(hb0.status, 200, hb0.text);
    assert.equal(hb0.body.cancel_requested, false);

    const res = await api.cancel(job.id);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'running');
    assert.equal(res.body.cancel_requested, true);
    const doc = await api.job(job.id);
    assert.equal(doc.state, 'running');
    assert.equal(doc.cancel_requested, true);

    const hb = await api.heartbeat(job.id, leased.lease);
    assert.equal(hb.status, 200, hb.text);
    assert.equal(hb.body.cancel_requested, true);
    const types = (await api.events(job.id)).map((e) => e.type);
    assert.ok(types.includes('cancel_requested'), `timeline ${types}`);
  });

  test('a running job whose cancellation was requested is cancelled when its worker fails it', async () => {
    const q = uniqueQueue('cancel-then-fail');
    const { job, leased } = await api.submitAndLease(q, { payload: 1, backoff: FAST_BACKOFF });
    assert.equal((await api.cancel(job.id)).status, 200);
    const res = await api.fail(job.id, leased.lease, { error: { message: 'stopped', type: 'Cancelled', detail: '' } });
    assert.equal(res.status, 200, res.text);
    assert.equal((await api.job(job.id)).state, 'cancelled');
    assert.deepEqual(await api.leaseJobs([q], { wait: 0.2 }), [], 'not retried');
  });

  test('a terminal job is 409 and stays as it was', async () => {
    const q = uniqueQueue('cancel-terminal');
    const { job, leased } = await api.submitAndLease(q);
    await api.ackOk(job.id, leased.lease, 'done');
    assertProblem(await api.cancel(job.id), 409);
    const doc = await api.job(job.id);
    assert.equal(doc.state, 'succeeded');
    assert.equal(doc.result, 'done');

    const other = await api.submitOk(q, { payload: 2 });
    assert.equal((await api.cancel(other.id)).status, 200);
    assertProblem(await api.cancel(other.id), 409, 'cancel twice');
  });

  test('an unknown job is 404', async () => {
    assertProblem(await api.cancel(randomUuidV7()), 404);
  });

  test('a waiting submitter is answered 200 when its job is cancelled', async () => {
    const q = uniqueQueue('cancel-wakes');
    const waiting = api.submit(q, { payload: 1 }, { wait: 10 });
    const id = await waitFor(async () => (await api.req('GET', `/v1/jobs?queue=${q}`)).body?.jobs?.[0]?.id,
                             { message: 'the submitted job to appear in the listing' });
    assert.equal((await api.cancel(id)).status, 200);
    const res = await waiting;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'cancelled');
    assert.ok(res.ms < 8000);
  });
});
