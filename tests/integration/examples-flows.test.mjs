// examples/checkout-flow and examples/bank-transfer end to end: each
// example's shell services run under `errand work` against a real server,
// and each flow file of the example ends as its README says. A flow that
// fails must have undone what succeeded: the compensation jobs ran and
// succeeded, one at a time, in reverse order of completion per the flow's
// events.
//
// Every test has its own server, because the examples' queue names are
// fixed. To make sure that there is something to undo, a failing test starts
// the service that fails only once the steps to be undone succeeded: waits
// are on the flow's state, with deadlines, never on the clock.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { Api, waitFor } from './lib/http.mjs';
import { startWorker } from './lib/cli.mjs';
import { startServer } from './lib/server.mjs';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples');
const WAIT_MS = 30_000;
const TERMINAL = ['succeeded', 'failed', 'cancelled'];

/**
 * A server for one example, and its services (queue → script) started on
 * demand under `errand work`. Stops them all on the test's end.
 */
async function startExample(t, dir, services) {
  const srv = await startServer();
  const workers = [];
  const example = {
    api: new Api(srv),
    start(...queues) {
      for (const q of queues) {
        workers.push(startWorker(srv, [q], [path.join(EXAMPLES, dir, services[q])]));
      }
    },
    startAll() {
      example.start(...Object.keys(services));
    },
    /** One of the example's flow files, as its README submits it. */
    flowFile(name) {
      return JSON.parse(readFileSync(path.join(EXAMPLES, dir, name), 'utf8'));
    },
    logs() {
      return workers.map((w) => w.stderr()).join('');
    },
    /** Submits a flow file without waiting; returns the running flow. */
    async submit(name) {
      const res = await example.api.submitFlow(example.flowFile(name));
      assert.ok([200, 202].includes(res.status), `${res.status} ${res.text}`);
      return res.body;
    },
    /** Waits until every step named succeeded; fails at once if the flow ends first. */
    async stepsSucceeded(id, names) {
      return waitFor(async () => {
        const flow = await example.api.flow(id);
        assert.ok(!TERMINAL.includes(flow.state),
                  `the flow ended before ${names.join(', ')} succeeded: ${JSON.stringify(flow)}\n` +
                  example.logs());
        return names.every((n) => flow.steps[n].state === 'succeeded') ? flow : null;
      }, { timeoutMs: WAIT_MS, intervalMs: 50, message: `steps ${names.join(', ')} to succeed` });
    },
    /** The finished flow and its events. */
    async finished(id) {
      const flow = await example.api.flow(id, { wait: 20 });
      assert.ok(TERMINAL.includes(flow.state), `${JSON.stringify(flow)}\n${example.logs()}`);
      return { flow, events: await example.api.flowEvents(id) };
    },
  };
  t.after(async () => {
    for (const w of workers) if (w.alive()) await w.stop().catch(() => {});
    await srv.close();
  });
  return example;
}

/** Submits a flow file with `Prefer: wait=20` and expects the finished flow (200). */
async function submitAndWait(example, name) {
  const res = await example.api.submitFlow(example.flowFile(name), { wait: 20 });
  assert.equal(res.status, 200, `${res.status} ${res.text}\n${example.logs()}`);
  return res;
}

/**
 * The flow failed at `failedStep` with `type`, and exactly `undone` were
 * compensated: their compensation jobs succeeded, one at a time, the step
 * that completed last first.
 */
async function assertFailedAndUndone(example, { flow, events }, failedStep, type, undone) {
  assert.equal(flow.state, 'failed', JSON.stringify(flow));
  assert.equal(flow.error.step, failedStep);
  assert.equal(flow.error.type, type);
  assert.equal(flow.result, null);
  // A decline is final: no retries (the scripts' errand:no-retry line).
  const failedJob = await example.api.job(flow.steps[failedStep].job);
  assert.equal(failedJob.state, 'failed');
  assert.equal(failedJob.attempt, 1);

  const completed = events.filter((e) => e.type === 'step_succeeded').map((e) => e.step);
  const reversed = completed.filter((s) => flow.steps[s].compensation !== null).reverse();
  assert.deepEqual(reversed, undone, `steps undone, the last completed first: ${JSON.stringify(events)}`);
  const compensationEvents = events.filter((e) => e.type.startsWith('compensation_'))
    .map((e) => `${e.type} ${e.step}`);
  assert.deepEqual(compensationEvents,
                   undone.flatMap((s) => [`compensation_started ${s}`, `compensation_succeeded ${s}`]));
  assert.equal(events.find((e) => e.type === 'compensating').step, failedStep);
  assert.equal(events.at(-1).type, 'failed');
  for (const s of undone) assert.equal(flow.steps[s].compensation.state, 'succeeded', s);
}

/** The compensation job of `step`: a job of the flow that undid the step. */
async function compensationJob(example, flow, step) {
  const job = await example.api.job(flow.steps[step].compensation.job);
  assert.equal(job.state, 'succeeded');
  assert.deepEqual(job.flow, { id: flow.id, step, compensating: true });
  return job;
}

describe('examples/checkout-flow', () => {
  const SERVICES = { inventory: 'inventory.sh', payments: 'payments.sh', fraud: 'fraud.sh',
                     orders: 'orders.sh' };

  test('an order goes through: 200 within the wait, confirmed with the three results', async (t) => {
    const ex = await startExample(t, 'checkout-flow', SERVICES);
    ex.startAll();
    const { body: flow } = await submitAndWait(ex, 'checkout.json');
    assert.equal(flow.state, 'succeeded', `${JSON.stringify(flow)}\n${ex.logs()}`);
    const { reserve, charge, fraud } = flow.steps;
    assert.match(reserve.result.reservation, /^R-[0-9a-f]{8}$/);
    assert.match(charge.result.charge_id, /^ch_[0-9a-f]{8}$/);
    assert.deepEqual(fraud.result, { score: 12, verdict: 'accept' });
    assert.deepEqual(Object.keys(flow.result), ['confirm']);
    assert.deepEqual(flow.result.confirm, {
      order: 'A-1001', confirmation: flow.result.confirm.confirmation,
      reservation: reserve.result.reservation, charge_id: charge.result.charge_id, fraud_score: 12,
    });
    assert.match(flow.result.confirm.confirmation, /^C-[0-9a-f]{8}$/);
    assert.ok(Object.values(flow.steps).every((s) => s.compensation === null || s.compensation.job === null),
              'nothing undone');

    // The same submit again: the same flow, nothing charged twice.
    const again = await submitAndWait(ex, 'checkout.json');
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, flow.id);
  });

  test('an order the fraud check rejects is refunded and released, the last completed first', async (t) => {
    const ex = await startExample(t, 'checkout-flow', SERVICES);
    ex.start('inventory', 'payments', 'orders');
    const { id } = await ex.submit('checkout-fraud.json');
    await ex.stepsSucceeded(id, ['reserve', 'charge']);
    ex.start('fraud');
    const done = await ex.finished(id);
    const { flow } = done;
    const completed = done.events.filter((e) => e.type === 'step_succeeded').map((e) => e.step);
    await assertFailedAndUndone(ex, done, 'fraud', 'fraud_suspected', completed.slice().reverse());
    assert.deepEqual(completed.slice().sort(), ['charge', 'reserve']);
    assert.equal(flow.error.message,
                 'fraud: order A-1002 rejected: mallory@fraud.example is on the block list');
    assert.equal(flow.steps.confirm.state, 'skipped');

    const refund = await compensationJob(ex, flow, 'charge');
    assert.equal(refund.result.charge_id, flow.steps.charge.result.charge_id);
    assert.equal(refund.result.amount_cents, 2400);
    const release = await compensationJob(ex, flow, 'reserve');
    assert.deepEqual(release.result, { released: flow.steps.reserve.result.reservation });
    assert.match(ex.logs(), /payments: refunded 2400 cents of ch_/);
    assert.match(ex.logs(), /inventory: released R-/);
  });

  test('a declined card releases the stock and refunds nothing', async (t) => {
    const ex = await startExample(t, 'checkout-flow', SERVICES);
    ex.start('inventory', 'fraud', 'orders');
    const { id } = await ex.submit('checkout-declined.json');
    await ex.stepsSucceeded(id, ['reserve']);
    ex.start('payments');
    const done = await ex.finished(id);
    await assertFailedAndUndone(ex, done, 'charge', 'declined', ['reserve']);
    const { flow } = done;
    assert.equal(flow.error.message, 'payments: the card ending 0002 was declined');
    assert.deepEqual(flow.steps.charge.compensation, { job: null, state: null });
    const release = await compensationJob(ex, flow, 'reserve');
    assert.deepEqual(release.result, { released: flow.steps.reserve.result.reservation });
  });
});

describe('examples/bank-transfer', () => {
  const SERVICES = { accounts: 'verify.sh', screening: 'screen.sh', limits: 'limits.sh',
                     ledger: 'settle.sh' };

  test('a transfer settles against the hold its limit check placed', async (t) => {
    const ex = await startExample(t, 'bank-transfer', SERVICES);
    ex.startAll();
    const { body: flow } = await submitAndWait(ex, 'transfer.json');
    assert.equal(flow.state, 'succeeded', `${JSON.stringify(flow)}\n${ex.logs()}`);
    const { hold } = flow.steps.limits.result;
    assert.match(hold, /^H-[0-9a-f]{8}$/);
    assert.deepEqual(flow.steps.verify.result.verified, true);
    assert.equal(flow.steps.screen.result.screening, 'clear');
    assert.deepEqual(flow.result, { settle: {
      transfer: 'T-2001', status: 'settled', ledger_entry: flow.result.settle.ledger_entry, hold,
      amount_cents: 125000,
    } });
    assert.match(flow.result.settle.ledger_entry, /^L-[0-9a-f]{8}$/);
    assert.equal(flow.steps.limits.compensation.job, null, 'the hold is not released');
  });

  test('a transfer to a watch-listed account releases its hold', async (t) => {
    const ex = await startExample(t, 'bank-transfer', SERVICES);
    ex.start('accounts', 'limits', 'ledger');
    const { id } = await ex.submit('transfer-flagged.json');
    await ex.stepsSucceeded(id, ['verify', 'limits']);
    ex.start('screening');
    const done = await ex.finished(id);
    await assertFailedAndUndone(ex, done, 'screen', 'screening_hit', ['limits']);
    const { flow } = done;
    assert.equal(flow.error.message,
                 'screening: transfer T-2002 stopped: GB33BUKB20201555555555 is on the watch list');
    assert.equal(flow.steps.settle.state, 'skipped');
    const release = await compensationJob(ex, flow, 'limits');
    assert.deepEqual(release.result, { released: flow.steps.limits.result.hold, amount_cents: 125000 });
    assert.match(ex.logs(), new RegExp(`limits: released hold ${flow.steps.limits.result.hold} `));
  });
});
