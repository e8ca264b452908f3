// SPEC §2.1 durable acknowledgement and §2.5 restart keeps everything:
// `kill -9` the server under the default durability (fsync) and start it
// again on the same data dir. Every job whose submit, lease, ack, fail or
// cancel was answered 2xx is there in that state; running jobs keep their
// lease (the old token works) until it runs out, then are retried (attempt 2).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, FAST_BACKOFF, pool, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer({ durability: 'fsync' });
  api = new Api(srv);
});
after(() => srv?.close());

test('kill -9 loses no acknowledged change', async () => {
  const q = uniqueQueue('crash');
  const shortQ = uniqueQueue('crash-short');
  const N = 300;

  // Concurrent producers; every 10th job is delayed.
  const jobs = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const body = i % 10 === 0 ? { payload: { i }, delay_ms: 600_000 } : { payload: { i }, backoff: FAST_BACKOFF };
    const res = await api.submit(q, body);
    assert.equal(res.status, 202, res.text);
    return res.body;
  }));
  for (const j of jobs) assert.equal(j.state, j.payload.i % 10 === 0 ? 'scheduled' : 'queued');
  const expected = new Map(jobs.map((j) => [j.id, j.state]));

  // 20 leased: 8 acked, 4 failed for good, 8 left running with their tokens.
  const leased = await api.leaseJobs([q], { worker: 'crash-w', max: 20, lease_ms: 600_000 });
  assert.equal(leased.length, 20);
  await Promise.all(leased.slice(0, 8).map(async (l) => {
    await api.ackOk(l.id, l.lease, { i: l.payload.i });
    expected.set(l.id, 'succeeded');
  }));
  await Promise.all(leased.slice(8, 12).map(async (l) => {
    const res = await api.fail(l.id, l.lease, { retry: false });
    assert.equal(res.status, 200);
    expected.set(l.id, 'failed');
  }));
  const stillRunning = leased.slice(12);
  for (const l of stillRunning) expected.set(l.id, 'running');
  // 10 queued ones cancelled.
  const toCancel = jobs.filter((j) => expected.get(j.id) === 'queued').slice(0, 10);
  await Promise.all(toCancel.map(async (j) => {
    assert.equal((await api.cancel(j.id)).status, 200);
    expected.set(j.id, 'cancelled');
  }));
  // One job with a short lease that will run out while the server is down.
  const short = await api.submitOk(shortQ, { payload: 'short', backoff: FAST_BACKOFF });
  const shortLease = await api.leaseOne(shortQ, { lease_ms: 1000, worker: 'short-w' });
  const before = await api.queue(q);

  await srv.kill9();
  await srv.restart();

  const docs = await pool([...expected.keys()], 32, (id) => api.job(id));
  const wrong = docs.filter((d) => d.state !== expected.get(d.id))
    .map((d) => `${d.id}: ${d.state}, expected ${expected.get(d.id)}`);
  assert.deepEqual(wrong, [], 'every job is in its acknowledged state');
  for (const d of docs.filter((x) => x.state === 'succeeded')) assert.deepEqual(d.result, d.payload);
  for (const d of docs.filter((x) => x.state === 'failed')) assert.equal(d.error.message, 'boom');
  const restarted = await api.queue(q);
  assert.deepEqual(restarted.counts, before.counts);
  assert.equal(restarted.enqueued_total, before.enqueued_total);
  assert.equal(restarted.succeeded_total, before.succeeded_total);
  assert.equal(restarted.failed_total, before.failed_total);

  // Running jobs stay leased to their worker, and the old tokens still work.
  for (const l of stillRunning) {
    const d = docs.find((x) => x.id === l.id);
    assert.equal(d.worker, 'crash-w');
    assert.equal(Date.parse(d.lease_expires_at), Date.parse(l.lease_expires_at));
  }
  const hb = await api.heartbeat(stillRunning[0].id, stillRunning[0].lease,
                                 { progress: { percent: 50, message: 'back', data: null } });
  assert.equal(hb.status, 200, hb.text);
  await api.ackOk(stillRunning[1].id, stillRunning[1].lease, 'after restart');
  assert.equal((await api.job(stillRunning[1].id)).state, 'succeeded');
  assert.equal((await api.fail(stillRunning[2].id, stillRunning[2].lease, { retry: false })).status, 200);
  const next = await api.leaseJobs([q], { max: 1 });
  assert.equal(next.length, 1, 'queued jobs are leasable after the restart');
  assert.equal(next[0].attempt, 1);
  assert.equal(expected.get(next[0].id), 'queued');

  // The short lease runs out after the restart and the job comes back as attempt 2.
  const again = await api.leaseOne(shortQ, { wait: 10 });
  assert.equal(again.id, short.id);
  assert.equal(again.attempt, 2);
  assertStale(await api.ack(short.id, shortLease.lease, 'late'));
  const events = await api.events(short.id);
  assert.ok(events.some((e) => e.type === 'failed_attempt' && e.error?.type === 'lease_expired'),
            `timeline ${events.map((e) => e.type)}`);
});

test('kill -9 during concurrent submits keeps every acknowledged job', async () => {
  const q = uniqueQueue('crash-inflight');
  const acknowledged = [];
  let killed = null;
  const results = await pool(Array.from({ length: 300 }, (_, i) => i), 48, async (i) => {
    try {
      const res = await api.submit(q, { payload: { i } }, { timeoutMs: 10_000 });
      if (res.status === 202) acknowledged.push({ id: res.body.id, i });
      if (acknowledged.length >= 150 && !killed) killed = srv.kill9();
      return res.status;
    } catch {
      return 'connection error';
    }
  });
  await killed;
  assert.ok(acknowledged.length >= 150, `at least 150 acknowledged (${acknowledged.length})`);
  assert.ok(results.includes('connection error') || acknowledged.length === 300);

  await srv.restart();
  const docs = await pool(acknowledged, 32, ({ id }) => api.getJob(id));
  const missing = docs.filter((res) => res.status !== 200).length;
  assert.equal(missing, 0, `${missing} acknowledged jobs were lost`);
  for (const [k, res] of docs.entries()) {
    assert.equal(res.body.state, 'queued');
    assert.deepEqual(res.body.payload, { i: acknowledged[k].i });
  }
  const qd = await api.queue(q);
  assert.ok(qd.counts.queued >= acknowledged.length);
});

function assertStale(res) {
  assert.equal(res.status, 409, `the pre-crash token of an expired lease is stale: ${res.status} ${res.text}`);
}
