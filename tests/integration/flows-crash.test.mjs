// Flows survive kill -9 (issue 5): many concurrent flows run while workers in
// this test lease and ack their steps, and the server is killed with SIGKILL
// several times at arbitrary moments and started again on the same data.
// Every flow must finish; every step has exactly one job; no job is acked
// twice; and a job whose ack was answered 2xx is never leased again.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, pool, sleep, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const FLOWS = 60;
const KILLS = 3;
// Short leases: a step leased when the server dies comes back soon after.
const LEASE_MS = 1500;

let srv;
let api;
before(async () => {
  srv = await startServer({ durability: 'fsync' });
  api = new Api(srv);
});
after(() => srv?.close());

test('kill -9 during many concurrent flows: every flow finishes, each step acked once', async () => {
  const q = { a: uniqueQueue('fc-a'), b: uniqueQueue('fc-b'), c: uniqueQueue('fc-c') };
  const flowBody = (i) => ({
    name: `crash-${i}`,
    steps: {
      a: { queue: q.a, payload: { i, step: 'a' } },
      b: { queue: q.b, payload: { i, step: 'b' } },
      c: { queue: q.c, payload: { i, step: 'c' }, after: ['a', 'b'] },
    },
  });

  // No kill happens while the flows are submitted: every submit must succeed.
  const flowIds = await pool(Array.from({ length: FLOWS }, (_, i) => i), 16, async (i) => {
    const res = await api.req('POST', '/v1/flows', { json: flowBody(i) });
    assert.equal(res.status, 202, res.text);
    return res.body.id;
  });
  assert.equal(new Set(flowIds).size, FLOWS);

  const acked = new Map(); // job id -> number of 2xx acks
  const ackedAt = new Map(); // job id -> when the first 2xx ack came back
  const violations = [];
  let stop = false;

  async function worker(n) {
    while (!stop) {
      let jobs;
      try {
        const res = await api.req('POST', '/v1/leases', {
          json: { queues: [q.c, q.a, q.b], worker: `w${n}`, max: 4, lease_ms: LEASE_MS },
          headers: { prefer: 'wait=0.2' }, timeoutMs: 3000,
        });
        if (res.status !== 200) {
          await sleep(20);
          continue;
        }
        jobs = res.body.jobs;
      } catch {
        await sleep(20); // killed: the next call goes to the restarted server
        continue;
      }
      for (const j of jobs) {
        if (ackedAt.has(j.id)) violations.push(`job ${j.id} was leased again after its ack`);
        if (j.flow?.step === 'c') {
          const inputs = j.flow.inputs;
          if (inputs?.a?.step !== 'a' || inputs?.b?.step !== 'b') {
            violations.push(`step c of ${j.flow.id} got inputs ${JSON.stringify(inputs)}`);
          }
        }
        await sleep(10 + Math.random() * 40); // the work: long enough for kills to land mid-flow
        try {
          const res = await api.req('POST', `/v1/jobs/${j.id}/ack`,
                                    { json: { lease: j.lease, result: j.payload }, timeoutMs: 3000 });
          if (res.status === 200) {
            acked.set(j.id, (acked.get(j.id) ?? 0) + 1);
            if (!ackedAt.has(j.id)) ackedAt.set(j.id, Date.now());
          }
        } catch {
          // unknown: durable or not; a lease that was not acked comes back
        }
      }
    }
  }

  const workers = Array.from({ length: 6 }, (_, n) => worker(n));
  let docs = [];
  try {
    const ackedAtKills = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(150 + Math.floor(Math.random() * 400));
      ackedAtKills.push(acked.size);
      await srv.kill9();
      await srv.restart();
    }
    assert.ok(ackedAtKills[0] < 3 * FLOWS,
              `the first kill came mid-way (${ackedAtKills} acked at the kills)`);

    const deadline = Date.now() + 60_000;
    for (;;) {
      docs = await pool(flowIds, 16, async (id) => (await api.req('GET', `/v1/flows/${id}`)).body);
      if (docs.every((d) => d && ['succeeded', 'failed', 'cancelled'].includes(d.state))) break;
      if (Date.now() > deadline) {
        const stuck = docs.filter((d) => !d || d.state === 'running' || d.state === 'compensating');
        assert.fail(`${stuck.length} flows never finished, e.g. ${JSON.stringify(stuck[0])}`);
      }
      await sleep(100);
    }
  } finally {
    stop = true; // the workers' loops end even when the test fails (a dead server)
    await Promise.allSettled(workers);
  }

  assert.deepEqual(violations, []);
  for (const d of docs) {
    assert.equal(d.state, 'succeeded', `flow ${d.id}: ${JSON.stringify(d.error)}`);
    const i = Number(d.name.slice('crash-'.length));
    assert.deepEqual(d.result, { c: { i, step: 'c' } });
    for (const name of ['a', 'b', 'c']) {
      const step = d.steps[name];
      assert.equal(step.state, 'succeeded', `${d.id} ${name}`);
      assert.ok((acked.get(step.job) ?? 0) <= 1, `job ${step.job} was acked twice`);
    }
  }
  // One job per step: no step was started twice across the crashes.
  for (const queue of Object.values(q)) {
    const res = await api.req('GET', `/v1/queues/${queue}`);
    assert.equal(res.body.enqueued_total, FLOWS, `${queue}: one job per flow`);
    assert.equal(res.body.counts.succeeded, FLOWS);
  }
});
