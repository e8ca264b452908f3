// Flows on three `errand serve` processes sharing one PostgreSQL: a flow
// submitted on one server advances on the acks made on the others, its
// waiters and event streams anywhere follow it, and a cancel asked of every
// server at once takes effect once. Needs the throwaway PostgreSQL of
// ctest's `postgres` fixture ($ERRAND_TEST_POSTGRES); skipped without it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Api, openSse, uniqueQueue } from './lib/http.mjs';
import { createDatabase, postgresUrl } from './lib/postgres.mjs';
import { startServer } from './lib/server.mjs';

const skip = postgresUrl() ? false : 'needs ERRAND_TEST_POSTGRES (ctest starts a PostgreSQL)';

describe('flows on three errand servers on one PostgreSQL', { skip }, () => {
  let db;
  let servers = [];
  let apis = [];
  before(async () => {
    db = createDatabase('errand_flows');
    servers = await Promise.all([0, 1, 2].map(() => startServer({ args: ['--store', db.url] })));
    apis = servers.map((s) => new Api(s));
  });
  after(async () => {
    for (const s of servers) await s.close().catch(() => {});
    db?.drop();
  });

  test('a flow waited on on one server finishes on acks made on the others; a stream on a third follows', async () => {
    const [a, b, c] = apis;
    const q = { pay: uniqueQueue('pay'), fraud: uniqueQueue('fraud'), ship: uniqueQueue('ship') };
    const submitting = a.submitFlow({
      name: 'checkout',
      steps: {
        charge: { queue: q.pay, payload: { amount: 10 } },
        fraud: { queue: q.fraud, payload: { user: 7 } },
        ship: { queue: q.ship, payload: { to: 'x' }, after: ['charge', 'fraud'] },
      },
    }, { wait: 20, timeoutMs: 30_000 });

    const charge = await b.leaseOne(q.pay, { wait: 10, timeoutMs: 20_000 });
    const flowId = charge.flow.id;
    const sse = await openSse(`${servers[2].url}/v1/flows/${flowId}/events`);
    assert.equal(sse.status, 200);
    assert.equal((await sse.next(10_000)).event, 'started');

    await b.ackOk(charge.id, charge.lease, { charged: true });
    const fraud = await c.leaseOne(q.fraud, { wait: 10, timeoutMs: 20_000 });
    assert.equal(fraud.flow.id, flowId);
    await c.ackOk(fraud.id, fraud.lease, { score: 1 });

    const ship = await b.leaseOne(q.ship, { wait: 10, timeoutMs: 20_000 });
    assert.equal(ship.flow.step, 'ship');
    assert.deepEqual(ship.flow.inputs, { charge: { charged: true }, fraud: { score: 1 } },
                     'inputs acked on two servers, leased on a third');
    await b.ackOk(ship.id, ship.lease, { shipped: 1 });

    const answer = await submitting;
    assert.equal(answer.status, 200, `the waiting flow submit on A: ${answer.status} ${answer.text}`);
    assert.equal(answer.body.state, 'succeeded');
    assert.deepEqual(answer.body.result, { ship: { shipped: 1 } });
    const rest = await sse.rest(10_000);
    assert.equal(rest.at(-1)?.event, 'succeeded', 'the stream on C ends with the flow');
    sse.close();
    for (const api of apis) assert.equal((await api.flow(flowId)).state, 'succeeded');
  });

  test('a cancel asked of every server at once takes effect once', async () => {
    const q = { hold: uniqueQueue('hold'), undo: uniqueQueue('undo'), slow: uniqueQueue('slow'),
      last: uniqueQueue('last') };
    const flow = await apis[0].submitFlowOk({
      name: 'cancel-once',
      steps: {
        hold: { queue: q.hold, payload: 1, compensate: { queue: q.undo, payload: 'undo' } },
        slow: { queue: q.slow, payload: 2 },
        last: { queue: q.last, payload: 3, after: ['hold', 'slow'] },
      },
    });
    const hold = await apis[1].leaseOne(q.hold);
    await apis[1].ackOk(hold.id, hold.lease, { held: true });

    const answers = await Promise.all(apis.map((api) => api.cancelFlow(flow.id)));
    for (const res of answers) {
      assert.ok(res.status === 200 || res.status === 409, `cancel: ${res.status} ${res.text}`);
    }
    assert.ok(answers.some((res) => res.status === 200), 'at least one cancel took');

    const undo = await apis[2].leaseOne(q.undo);
    assert.equal(undo.flow.compensating, 'hold');
    assert.deepEqual(undo.flow.inputs, { hold: { held: true } });
    await apis[2].ackOk(undo.id, undo.lease);
    const done = await apis[0].flow(flow.id, { wait: 10 });
    assert.equal(done.state, 'cancelled');
    assert.deepEqual(await apis[1].leaseJobs([q.undo, q.slow, q.last], { max: 10 }), [],
                     'one compensation, and nothing else left to run');
    const types = (await apis[1].flowEvents(flow.id)).map((e) => e.type);
    assert.equal(types.filter((t) => t === 'cancel_requested').length, 1, types.join(','));
    assert.equal(types.filter((t) => t === 'compensation_started').length, 1, types.join(','));
    assert.equal(types.filter((t) => t === 'cancelled').length, 1, types.join(','));
  });

  test('steps acked at the same moment on different servers start the next step once', async () => {
    const roots = [0, 1, 2, 3, 4, 5].map((i) => `r${i}`);
    const q = { root: uniqueQueue('root'), join: uniqueQueue('join') };
    const steps = Object.fromEntries(roots.map((r) => [r, { queue: q.root, payload: r }]));
    steps.join = { queue: q.join, payload: 'join', after: roots };
    const flow = await apis[0].submitFlowOk({ name: 'fan-in', steps });
    const leased = await apis[0].leaseJobs([q.root], { max: roots.length });
    assert.equal(leased.length, roots.length);
    await Promise.all(leased.map((j, i) => apis[i % 3].ackOk(j.id, j.lease, { by: i })));
    const join = await apis[1].leaseOne(q.join);
    assert.equal(Object.keys(join.flow.inputs).length, roots.length);
    assert.deepEqual(await apis[2].leaseJobs([q.join], { max: 10 }), [], 'join started once');
    await apis[1].ackOk(join.id, join.lease, 'joined');
    assert.equal((await apis[2].flow(flow.id, { wait: 10 })).state, 'succeeded');
    const types = (await apis[0].flowEvents(flow.id)).map((e) => e.type);
    assert.equal(types.filter((t) => t === 'step_started').length, roots.length + 1);
  });
});
