// Many clients at once: hundreds of `Prefer: wait` long polls answered when
// their jobs finish, and many workers long-polling one queue while jobs pour in
// (SPEC §2.2: each job delivered once while its lease holds, all acked).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, pool, sleep, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

test('300 concurrent waits on one job are all answered when it completes', async () => {
  const q = uniqueQueue('fan-in');
  const job = await api.submitOk(q, { payload: 'one' });
  const waits = Array.from({ length: 300 }, () => api.getJob(job.id, { wait: 30, timeoutMs: 40_000 }));
  // A last waiter that times out shortly: by then the others have been parked.
  const probe = await api.getJob(job.id, { wait: 0.5 });
  assert.equal(probe.body.state, 'queued', 'nobody is answered before the job is done');
  const leased = await api.leaseOne(q);
  const t0 = performance.now();
  await api.ackOk(job.id, leased.lease, { big: 'answer' });
  const results = await Promise.all(waits);
  const elapsed = performance.now() - t0;
  for (const res of results) {
    assert.equal(res.status, 200);
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(res.body.result, { big: 'answer' });
  }
  assert.ok(elapsed < 10_000, `all 300 answered within ${elapsed} ms of the ack`);
});

test('300 concurrent waiting submitters on 100 jobs each get their own result', async () => {
  const q = uniqueQueue('many-waits');
  const submits = Array.from({ length: 100 }, (_, i) =>
    api.submit(q, { payload: { i } }, { wait: 30, timeoutMs: 40_000 }));
  // Two more waiters per job on GET, once each job exists.
  const worker = (async () => {
    let done = 0;
    const extra = [];
    while (done < 100) {
      const jobs = await api.leaseJobs([q], { max: 20, wait: 5 });
      assert.ok(jobs.length > 0, 'jobs keep coming');
      for (const j of jobs) {
        for (let k = 0; k < 2; k++) extra.push(api.getJob(j.id, { wait: 30, timeoutMs: 40_000 }));
      }
      await sleep(50);
      await Promise.all(jobs.map((j) => api.ackOk(j.id, j.lease, { square: j.payload.i ** 2 })));
      done += jobs.length;
    }
    return Promise.all(extra);
  })();
  const answers = await Promise.all(submits);
  for (const [i, res] of answers.entries()) {
    assert.equal(res.status, 200, `submit ${i}: ${res.status} ${res.text}`);
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(res.body.result, { square: i * i });
  }
  const gets = await worker;
  assert.equal(gets.length, 200);
  for (const res of gets) {
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(res.body.result, { square: res.body.payload.i ** 2 });
  }
});

test('20 long-polling workers share 500 jobs: each leased exactly once, all acked', async () => {
  const q = uniqueQueue('workers');
  const N = 500;
  const leasedCount = new Map();
  let acked = 0;
  const ackFailures = [];
  const deadline = Date.now() + 60_000;

  const workers = Array.from({ length: 20 }, (_, w) => (async () => {
    while (acked < N && Date.now() < deadline) {
      const jobs = await api.leaseJobs([q], { worker: `w${w}`, max: 5, wait: 1, lease_ms: 60_000 });
      for (const j of jobs) leasedCount.set(j.id, (leasedCount.get(j.id) ?? 0) + 1);
      await Promise.all(jobs.map(async (j) => {
        const res = await api.ack(j.id, j.lease, { by: w });
        if (res.status === 200) acked++;
        else ackFailures.push(`${j.id}: ${res.status} ${res.text}`);
      }));
    }
  })());

  await sleep(200); // let the workers park before the jobs arrive
  const submitted = await pool(Array.from({ length: N }, (_, i) => i), 50, async (i) =>
    (await api.submitOk(q, { payload: i })).id);
  await Promise.all(workers);

  assert.deepEqual(ackFailures, []);
  assert.equal(acked, N);
  assert.equal(leasedCount.size, N, 'every job was leased');
  const dupes = [...leasedCount].filter(([, n]) => n !== 1);
  assert.deepEqual(dupes, [], 'no job was leased twice');
  assert.deepEqual([...leasedCount.keys()].sort(), [...submitted].sort());
  const qd = await api.queue(q);
  assert.equal(qd.counts.succeeded, N);
  assert.equal(qd.counts.queued, 0);
  assert.equal(qd.counts.running, 0);
  assert.equal(qd.succeeded_total, N);
});
