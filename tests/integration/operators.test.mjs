// SPEC §3 Operators: queue documents and counts, pause/resume, the job
// listing with cursors, admin retry, DELETE, and /healthz, /readyz.
//
// Decisions where SPEC is silent:
// - An unknown queue on GET /v1/queues/{queue} is 404.
// - `enqueued_total` counts every job submitted to the queue, delayed ones too.
// - `oldest_queued_ms` is null or 0 when nothing is queued.
// - The listing's last page has `next: null` (an absent `next` is accepted).
// - Admin retry answers 200 with the job document.
// - As docs/api.md records: DELETE answers 204; admin retry clears the
//   deadline, so a retried expired job runs.
// - A bad `limit` (0, not a number) or an unknown `state` is 400.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, FAST_BACKOFF, STATES, assertJobDoc, assertProblem, randomUuidV7, uniqueQueue,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

function assertQueueDoc(qd, name) {
  for (const f of ['name', 'paused', 'counts', 'oldest_queued_ms', 'enqueued_total', 'succeeded_total',
                   'failed_total']) {
    assert.ok(Object.hasOwn(qd, f), `queue document lacks "${f}": ${JSON.stringify(qd)}`);
  }
  assert.equal(qd.name, name);
  assert.equal(typeof qd.paused, 'boolean');
  assert.deepEqual(Object.keys(qd.counts).sort(), [...STATES].sort(), 'counts for all seven states');
  for (const s of STATES) assert.ok(Number.isInteger(qd.counts[s]), `counts.${s}`);
  assert.ok(qd.oldest_queued_ms === null || Number.isInteger(qd.oldest_queued_ms));
  for (const f of ['enqueued_total', 'succeeded_total', 'failed_total']) assert.ok(Number.isInteger(qd[f]), f);
}

/** Puts one job of `q` in every state; returns {state: job id}. */
async function oneJobPerState(q) {
  const ids = {};
  const running = await api.submitAndLease(q);
  ids.running = running.job.id;
  const ok = await api.submitAndLease(q);
  await api.ackOk(ok.job.id, ok.leased.lease, 'ok');
  ids.succeeded = ok.job.id;
  const bad = await api.submitAndLease(q);
  assert.equal((await api.fail(bad.job.id, bad.leased.lease, { retry: false })).status, 200);
  ids.failed = bad.job.id;
  ids.cancelled = (await api.submitOk(q, { payload: 'c' })).id;
  assert.equal((await api.cancel(ids.cancelled)).status, 200);
  ids.expired = (await api.submitOk(q, { payload: 'e', ttl_ms: 50 })).id;
  assert.equal((await api.job(ids.expired, { wait: 5 })).state, 'expired');
  ids.scheduled = (await api.submitOk(q, { payload: 's', delay_ms: 600_000 })).id;
  ids.queued = (await api.submitOk(q, { payload: 'q' })).id;
  return ids;
}

describe('queues', () => {
  test('GET /v1/queues/{queue} counts every state and the totals', async () => {
    const q = uniqueQueue('counts');
    const t0 = Date.now();
    await oneJobPerState(q);
    const qd = await api.queue(q);
    assertQueueDoc(qd, q);
    assert.deepEqual(qd.counts, { scheduled: 1, queued: 1, running: 1, succeeded: 1, failed: 1, cancelled: 1,
                                  expired: 1 });
    assert.equal(qd.paused, false);
    assert.equal(qd.enqueued_total, 7);
    assert.equal(qd.succeeded_total, 1);
    assert.equal(qd.failed_total, 1);
    assert.ok(qd.oldest_queued_ms >= 0 && qd.oldest_queued_ms <= Date.now() - t0 + 1000,
              `oldest_queued_ms ${qd.oldest_queued_ms}`);
  });

  test('oldest_queued_ms grows with the age of the oldest queued job', async () => {
    const q = uniqueQueue('lag');
    const queued = await api.submitOk(q, { payload: 1 });
    const empty = uniqueQueue('lag-empty');
    const { job, leased } = await api.submitAndLease(empty);
    await api.ackOk(job.id, leased.lease, null);
    await api.getJob(queued.id, { wait: 0.4 }); // let the queued job age
    const qd = await api.queue(q);
    assert.ok(qd.oldest_queued_ms >= 300, `oldest_queued_ms ${qd.oldest_queued_ms}`);
    const ed = await api.queue(empty);
    assert.ok(ed.oldest_queued_ms === null || ed.oldest_queued_ms === 0);
  });

  test('GET /v1/queues lists every queue with its document', async () => {
    const a = uniqueQueue('list-a');
    const b = uniqueQueue('list-b');
    await api.submitOk(a, { payload: 1 });
    await api.submitOk(b, { payload: 1 });
    const res = await api.req('GET', '/v1/queues');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const byName = Object.fromEntries(res.body.queues.map((qd) => [qd.name, qd]));
    for (const name of [a, b]) {
      assertQueueDoc(byName[name], name);
      assert.equal(byName[name].counts.queued, 1);
      const { oldest_queued_ms, ...listed } = byName[name];
      assert.deepEqual(listed, await api.queueState(name));
    }
  });

  test('an unknown queue is 404', async () => {
    assertProblem(await api.req('GET', `/v1/queues/${uniqueQueue('nope')}`), 404);
  });

  test('pause and resume answer 200 with the queue document', async () => {
    const q = uniqueQueue('pause');
    await api.submitOk(q, { payload: 1 });
    const paused = await api.req('POST', `/v1/queues/${q}/pause`);
    assert.equal(paused.status, 200, paused.text);
    assertQueueDoc(paused.body, q);
    assert.equal(paused.body.paused, true);
    assert.equal((await api.queue(q)).paused, true);
    assert.equal((await api.req('POST', `/v1/queues/${q}/pause`)).body.paused, true, 'pause is idempotent');
    const resumed = await api.req('POST', `/v1/queues/${q}/resume`);
    assert.equal(resumed.status, 200, resumed.text);
    assertQueueDoc(resumed.body, q);
    assert.equal(resumed.body.paused, false);
    assert.equal((await api.queue(q)).paused, false);
    assert.equal((await api.leaseJobs([q])).length, 1);
  });
});

describe('GET /v1/jobs', () => {
  test('lists newest first and pages through every job exactly once', async () => {
    const q = uniqueQueue('page');
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push((await api.submitOk(q, { payload: i })).id);
    const seen = [];
    let cursor = null;
    for (let page = 0; page < 10; page++) {
      const qs = `queue=${q}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await api.req('GET', `/v1/jobs?${qs}`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.jobs.length <= 3);
      for (const j of res.body.jobs) assertJobDoc(j);
      seen.push(...res.body.jobs.map((j) => j.id));
      cursor = res.body.next ?? null;
      if (!cursor) break;
    }
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, each job once');
  });

  test('filters by state', async () => {
    const q = uniqueQueue('filter');
    const ids = await oneJobPerState(q);
    for (const state of STATES) {
      const res = await api.req('GET', `/v1/jobs?queue=${q}&state=${state}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.jobs.map((j) => j.id), [ids[state]], `state=${state}`);
      assert.equal(res.body.jobs[0].state, state);
    }
  });

  test('limit defaults to 50 and may be up to 1000', async () => {
    const q = uniqueQueue('limit');
    const res = await api.batch(q, Array.from({ length: 55 }, (_, i) => ({ payload: i })));
    assert.equal(res.status, 202);
    const page = await api.req('GET', `/v1/jobs?queue=${q}`);
    assert.equal(page.body.jobs.length, 50);
    assert.ok(page.body.next, 'a next cursor when more remain');
    const rest = await api.req('GET', `/v1/jobs?queue=${q}&cursor=${encodeURIComponent(page.body.next)}`);
    assert.equal(rest.body.jobs.length, 5);
    assert.ok(!rest.body.next, 'no cursor after the last page');
    const all = await api.req('GET', `/v1/jobs?queue=${q}&limit=1000`);
    assert.equal(all.body.jobs.length, 55);
  });

  test('without a query string lists jobs of every queue', async () => {
    const a = await api.submitOk(uniqueQueue('noquery-a'));
    const b = await api.submitOk(uniqueQueue('noquery-b'));
    const res = await api.req('GET', '/v1/jobs');
    assert.equal(res.status, 200, res.text);
    const ids = res.body.jobs.map((j) => j.id);
    assert.ok(ids.includes(a.id) && ids.includes(b.id), JSON.stringify(ids));
  });

  test('limit over 1000 or malformed, and an unknown state, are 400', async () => {
    for (const qs of ['limit=1001', 'limit=0', 'limit=abc', 'state=bogus']) {
      assertProblem(await api.req('GET', `/v1/jobs?${qs}`), 400, qs);
    }
  });
});

describe('admin retry', () => {
  test('a failed job goes back to queued with a fresh attempt budget', async () => {
    const q = uniqueQueue('retry');
    const job = await api.submitOk(q, { payload: 1, max_attempts: 2, backoff: FAST_BACKOFF });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const l = await api.leaseOne(q, { wait: 5 });
      assert.equal(l.attempt, attempt);
      assert.equal((await api.fail(job.id, l.lease)).status, 200);
    }
    assert.equal((await api.job(job.id)).state, 'failed');
    const res = await api.req('POST', `/v1/jobs/${job.id}/retry`);
    assert.equal(res.status, 200, res.text);
    assertJobDoc(res.body);
    assert.equal(res.body.state, 'queued');
    const types = (await api.events(job.id)).map((e) => e.type);
    assert.ok(types.includes('retried_by_admin'), `timeline ${types}`);
    const qd = await api.queue(q);
    assert.equal(qd.counts.failed, 0);
    assert.equal(qd.counts.queued, 1);
    const again = await api.leaseOne(q);
    assert.equal(again.attempt, 1, 'attempts start over');
    assert.equal(again.max_attempts, 2);
    await api.ackOk(job.id, again.lease, 'finally');
  });

  test('cancelled and expired jobs can be retried', async () => {
    const q = uniqueQueue('retry-others');
    const cancelled = await api.submitOk(q, { payload: 'c' });
    await api.cancel(cancelled.id);
    const res = await api.req('POST', `/v1/jobs/${cancelled.id}/retry`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'queued');
    assert.equal((await api.leaseOne(q)).id, cancelled.id);

    const expired = await api.submitOk(q, { payload: 'e', ttl_ms: 50 });
    assert.equal((await api.job(expired.id, { wait: 5 })).state, 'expired');
    const res2 = await api.req('POST', `/v1/jobs/${expired.id}/retry`);
    assert.equal(res2.status, 200, res2.text);
    assert.equal(res2.body.state, 'queued');
    const leased = await api.leaseOne(q, { wait: 2 });
    assert.equal(leased.id, expired.id, 'a retried expired job runs');
  });

  test('retry of a queued, scheduled, running or succeeded job is 409', async () => {
    const q = uniqueQueue('retry-409');
    const ids = await oneJobPerState(q);
    const before = await api.queue(q);
    for (const state of ['queued', 'scheduled', 'running', 'succeeded']) {
      assertProblem(await api.req('POST', `/v1/jobs/${ids[state]}/retry`), 409, state);
      assert.equal((await api.job(ids[state])).state, state);
    }
    assert.deepEqual((await api.queue(q)).counts, before.counts);
  });

  test('retry of an unknown job is 404', async () => {
    assertProblem(await api.req('POST', `/v1/jobs/${randomUuidV7()}/retry`), 404);
  });
});

describe('DELETE /v1/jobs/{id}', () => {
  test('discards terminal jobs, which are then 404', async () => {
    const q = uniqueQueue('delete');
    const ids = await oneJobPerState(q);
    for (const state of ['succeeded', 'failed', 'cancelled', 'expired']) {
      const res = await api.req('DELETE', `/v1/jobs/${ids[state]}`);
      assert.equal(res.status, 204, `${state}: ${res.text}`);
      assertProblem(await api.getJob(ids[state]), 404, `GET after DELETE of ${state}`);
      assertProblem(await api.req('DELETE', `/v1/jobs/${ids[state]}`), 404, `DELETE twice (${state})`);
    }
    const qd = await api.queue(q);
    assert.deepEqual(qd.counts, { scheduled: 1, queued: 1, running: 1, succeeded: 0, failed: 0, cancelled: 0,
                                  expired: 0 });
  });

  test('a non-terminal job is 409 and stays', async () => {
    const q = uniqueQueue('delete-409');
    const ids = await oneJobPerState(q);
    for (const state of ['queued', 'scheduled', 'running']) {
      assertProblem(await api.req('DELETE', `/v1/jobs/${ids[state]}`), 409, state);
      assert.equal((await api.job(ids[state])).state, state);
    }
  });

  test('an unknown job is 404', async () => {
    assertProblem(await api.req('DELETE', `/v1/jobs/${randomUuidV7()}`), 404);
  });
});

describe('health', () => {
  test('/healthz and /readyz answer 200', async () => {
    assert.equal((await api.req('GET', '/healthz')).status, 200);
    assert.equal((await api.req('GET', '/readyz')).status, 200);
  });
});
