// SPEC §3 Flows (issue 5): several services, one answer. Against a real
// server: fan-out then fan-in with inputs passed on; a failing step cancels
// what has not started and compensates what succeeded, last completed first;
// 200 within the wait and 202 + Location otherwise; SSE that ends after the
// flow's terminal event; every validation error (400, nothing created);
// idempotent submission; cancel; the listing; 404 and 405.
//
// The crash test (kill -9 during many concurrent flows) lives elsewhere.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, assertFlowDoc, assertJobDoc, assertLeaseEntry, assertProblem, assertTimestamp, openSse,
  randomUuidV7, uniqueQueue,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

const TERMINAL_EVENTS = ['succeeded', 'failed', 'cancelled'];
const DECLINED = { message: 'card declined', type: 'Declined', detail: 'issuer said no' };

/** `want` occurs in `types` in this order (other types may come between). */
function assertSubsequence(types, want) {
  let i = 0;
  for (const t of types) if (t === want[i]) i++;
  assert.equal(i, want.length, `events ${types.join(',')} should contain ${want.join(',')} in order`);
}

/** Index of the first event matching type (and step, when given); asserts it exists. */
function indexOf(events, type, step) {
  const i = events.findIndex((e) => e.type === type && (step === undefined || e.step === step));
  assert.ok(i >= 0, `no ${type}${step ? ` of ${step}` : ''} in ${events.map((e) => e.type).join(',')}`);
  return i;
}

/** Leases the one job of `queue`, checks it belongs to flow `flowId` as `step`; returns the entry. */
async function leaseStep(queue, flowId, step) {
  const entry = await api.leaseOne(queue);
  assertLeaseEntry(entry);
  assert.equal(entry.flow?.id, flowId, `leased job of ${queue} belongs to the flow`);
  assert.equal(entry.flow.step, step);
  return entry;
}

/** Leases a compensation job of `queue` for `step` of flow `flowId`; returns the entry. */
async function leaseCompensation(queue, flowId, step) {
  const entry = await api.leaseOne(queue);
  assertLeaseEntry(entry);
  assert.equal(entry.flow?.id, flowId);
  assert.equal(entry.flow.compensating, step, `compensation job: ${JSON.stringify(entry.flow)}`);
  assert.equal(Object.hasOwn(entry.flow, 'step'), false, 'a compensation names the step it undoes');
  return entry;
}

async function assertNothingToLease(queue) {
  assert.deepEqual(await api.leaseJobs([queue], { max: 10 }), [], `${queue} should have no ready job`);
}

/** The flow once terminal (long poll), checked as a document. */
async function finishedFlow(id) {
  const doc = await api.flow(id, { wait: 10 });
  assertFlowDoc(doc);
  assert.ok(TERMINAL_EVENTS.includes(doc.state), `flow ${id} should be finished, is ${doc.state}`);
  return doc;
}

describe('fan-out then fan-in', () => {
  test('roots start at once, the fan-in step gets its inputs, the result holds the sink steps', async () => {
    const q = { inv: uniqueQueue('inv'), pay: uniqueQueue('pay'), fraud: uniqueQueue('fraud'),
      orders: uniqueQueue('orders'), audit: uniqueQueue('audit') };
    const res = await api.submitFlow({
      name: 'checkout',
      steps: {
        reserve: { queue: q.inv, payload: { sku: 'A1', qty: 2 } },
        charge: { queue: q.pay, payload: { amount: 1999 } },
        fraud: { queue: q.fraud, payload: { user: 7 } },
        confirm: { queue: q.orders, payload: { order: 42 }, after: ['reserve', 'charge', 'fraud'] },
        audit: { queue: q.audit, payload: {}, after: ['charge'] },
      },
    });
    assert.equal(res.status, 202, res.text);
    const flow = res.body;
    assertFlowDoc(flow);
    assert.equal(res.headers.get('location'), `/v1/flows/${flow.id}`);
    assert.equal(flow.name, 'checkout');
    assert.equal(flow.state, 'running');
    assert.deepEqual(Object.keys(flow.steps), ['reserve', 'charge', 'fraud', 'confirm', 'audit'],
                     'steps keep the order they were submitted in');
    for (const root of ['reserve', 'charge', 'fraud']) {
      assert.equal(flow.steps[root].state, 'queued', `root ${root} starts at once`);
      assert.notEqual(flow.steps[root].job, null);
    }
    assert.equal(flow.steps.confirm.state, 'pending');
    assert.deepEqual(flow.steps.confirm.after, ['reserve', 'charge', 'fraud']);
    assert.deepEqual(flow.steps.confirm.waiting_on.steps, ['reserve', 'charge', 'fraud']);
    assert.match(flow.steps.confirm.waiting_on.message, /reserve, charge, fraud/);
    assert.equal(flow.result, null);

    // The step's job is an ordinary job that knows its flow.
    const reserveJob = await api.job(flow.steps.reserve.job);
    assertJobDoc(reserveJob);
    assert.deepEqual(reserveJob.flow, { id: flow.id, step: 'reserve' });
    assert.deepEqual(reserveJob.payload, { sku: 'A1', qty: 2 });

    const reserve = await leaseStep(q.inv, flow.id, 'reserve');
    assert.deepEqual(reserve.flow.inputs, {}, 'a root step has no inputs');
    assert.deepEqual(reserve.payload, { sku: 'A1', qty: 2 });
    await api.ackOk(reserve.id, reserve.lease, { hold: 'h-1' });

    let now = await api.flow(flow.id);
    assertFlowDoc(now);
    assert.equal(now.steps.reserve.state, 'succeeded');
    assert.deepEqual(now.steps.reserve.result, { hold: 'h-1' });
    assert.deepEqual(now.steps.confirm.waiting_on.steps, ['charge', 'fraud'],
                     'waiting_on names only the steps not yet succeeded');

    const charge = await leaseStep(q.pay, flow.id, 'charge');
    assert.deepEqual(charge.flow.inputs, {});
    await api.ackOk(charge.id, charge.lease, { charge: 'ch-9' });
    now = await api.flow(flow.id);
    assert.equal(now.steps.audit.state, 'queued', 'audit starts once charge succeeded');
    assert.equal(now.steps.confirm.state, 'pending', 'confirm still waits for fraud');

    const audit = await leaseStep(q.audit, flow.id, 'audit');
    assert.deepEqual(audit.flow.inputs, { charge: { charge: 'ch-9' } });
    await api.ackOk(audit.id, audit.lease, 'logged');

    const fraud = await leaseStep(q.fraud, flow.id, 'fraud');
    await api.ackOk(fraud.id, fraud.lease, { score: 0.1 });

    const confirm = await leaseStep(q.orders, flow.id, 'confirm');
    assert.deepEqual(confirm.payload, { order: 42 });
    assert.deepEqual(confirm.flow.inputs, {
      reserve: { hold: 'h-1' }, charge: { charge: 'ch-9' }, fraud: { score: 0.1 },
    }, 'the fan-in step gets the results of every step it waited for');
    await api.ackOk(confirm.id, confirm.lease, { confirmed: true });

    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'succeeded');
    assert.deepEqual(done.result, { confirm: { confirmed: true }, audit: 'logged' },
                     'the result holds the results of the steps no other step waits for');
    assert.equal(done.error, null);
    for (const s of Object.values(done.steps)) assert.equal(s.state, 'succeeded');

    const events = await api.flowEvents(flow.id);
    for (let i = 0; i < events.length; i++) {
      assert.ok(Number.isInteger(events[i].seq), `seq: ${JSON.stringify(events[i])}`);
      assertTimestamp(events[i].at, 'event at');
      if (i) assert.ok(events[i].seq > events[i - 1].seq, 'seq strictly increases');
    }
    assert.equal(events[0].type, 'started');
    assert.equal(events[0].name, 'checkout');
    assert.deepEqual(events[0].steps, ['reserve', 'charge', 'fraud', 'confirm', 'audit']);
    assert.equal(events.at(-1).type, 'succeeded');
    assert.deepEqual(events.at(-1).result, done.result);
    const started = events.filter((e) => e.type === 'step_started').map((e) => e.step);
    assert.deepEqual([...started].sort(), ['audit', 'charge', 'confirm', 'fraud', 'reserve']);
    assert.equal(events[indexOf(events, 'step_started', 'reserve')].job, flow.steps.reserve.job);
    assert.ok(indexOf(events, 'step_succeeded', 'fraud') < indexOf(events, 'step_started', 'confirm'),
              'confirm starts after the last step it waits for');
  });

  test('each step job carries its job fields; the flow ttl caps its deadline; traceparent reaches every step', async () => {
    const qa = uniqueQueue('fields-a');
    const qb = uniqueQueue('fields-b');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const before = Date.now();
    const flow = await api.submitFlowOk({
      ttl_ms: 60_000,
      steps: {
        a: { queue: qa, payload: 1, priority: 5, max_attempts: 2, tags: ['t1'], lease_ms: 1234,
          ttl_ms: 3_600_000 },
        b: { queue: qb, payload: 2, ttl_ms: 10_000 },
      },
    }, { headers: { traceparent } });
    assertTimestamp(flow.deadline, 'flow deadline');
    const flowDeadline = Date.parse(flow.deadline);
    assert.ok(flowDeadline >= before + 60_000 && flowDeadline <= Date.now() + 60_000, flow.deadline);

    const a = await api.job(flow.steps.a.job);
    assert.equal(a.priority, 5);
    assert.equal(a.max_attempts, 2);
    assert.deepEqual(a.tags, ['t1']);
    assert.equal(a.traceparent, traceparent);
    assert.ok(Date.parse(a.deadline) <= flowDeadline, 'a step deadline is capped by the flow ttl');
    const b = await api.job(flow.steps.b.job);
    assert.ok(Date.parse(b.deadline) < flowDeadline, 'a shorter step ttl is kept');
    assert.equal(b.traceparent, traceparent);
    // A lease that asks for no lease_ms gets the step's.
    const res = await api.req('POST', '/v1/leases', { json: { queues: [qa] }, headers: { prefer: 'wait=5' } });
    assert.equal(res.status, 200, res.text);
    const expires = Date.parse(res.body.jobs[0].lease_expires_at) - Date.now();
    assert.ok(expires <= 1234 + 100, `lease_ms 1234 is the step's default lease (${expires} ms left)`);
    await api.cancelFlow(flow.id);
  });
});

describe('failure and compensation', () => {
  test('a failing step skips what has not started and compensates what succeeded, last completed first', async () => {
    const q = { inv: uniqueQueue('inv'), invUndo: uniqueQueue('inv-undo'), pay: uniqueQueue('pay'),
      refund: uniqueQueue('refund'), fraud: uniqueQueue('fraud'), orders: uniqueQueue('orders') };
    const flow = await api.submitFlowOk({
      name: 'checkout-declined',
      steps: {
        reserve: { queue: q.inv, payload: { sku: 'A1' },
          compensate: { queue: q.invUndo, payload: { release: true } } },
        charge: { queue: q.pay, payload: { amount: 1999 },
          compensate: { queue: q.refund, payload: { refund: true }, max_attempts: 3 } },
        fraud: { queue: q.fraud, payload: {}, max_attempts: 1 },
        confirm: { queue: q.orders, payload: {}, after: ['reserve', 'charge', 'fraud'] },
      },
    });
    assert.deepEqual(flow.steps.reserve.compensation, { job: null, state: null },
                     'a compensable step shows its compensation, not started');
    assert.equal(flow.steps.fraud.compensation, null, 'a step without compensate has none');

    // reserve completes first, charge second: charge is compensated first.
    const reserve = await leaseStep(q.inv, flow.id, 'reserve');
    await api.ackOk(reserve.id, reserve.lease, { hold: 'h-1' });
    const charge = await leaseStep(q.pay, flow.id, 'charge');
    await api.ackOk(charge.id, charge.lease, { charge: 'ch-9' });
    const fraud = await leaseStep(q.fraud, flow.id, 'fraud');
    const failed = await api.fail(fraud.id, fraud.lease, { error: DECLINED, retry: false });
    assert.equal(failed.status, 200, failed.text);
    assert.equal(failed.body.state, 'failed');

    let now = await api.flow(flow.id);
    assertFlowDoc(now);
    assert.equal(now.state, 'compensating');
    assert.equal(now.steps.fraud.state, 'failed');
    assert.equal(now.steps.fraud.error.message, 'card declined');
    assert.equal(now.steps.confirm.state, 'skipped', 'a step not started is skipped');
    assert.equal(now.steps.confirm.job, null);
    assert.equal(now.steps.confirm.waiting_on, null);
    await assertNothingToLease(q.orders);

    const refund = await leaseCompensation(q.refund, flow.id, 'charge');
    assert.deepEqual(refund.payload, { refund: true });
    assert.equal(refund.max_attempts, 3, 'a compensation takes the job fields it declares');
    assert.deepEqual(refund.flow.inputs, { charge: { charge: 'ch-9' } },
                     'a compensation gets the result of the step it undoes');
    const refundJob = await api.job(refund.id);
    assert.deepEqual(refundJob.flow, { id: flow.id, step: 'charge', compensating: true });
    await assertNothingToLease(q.invUndo);  // one at a time: reserve's waits for charge's
    now = await api.flow(flow.id);
    assert.equal(now.state, 'compensating');
    assert.deepEqual(now.steps.charge.compensation, { job: refund.id, state: 'running' });
    await api.ackOk(refund.id, refund.lease, { refunded: 1999 });

    const release = await leaseCompensation(q.invUndo, flow.id, 'reserve');
    assert.deepEqual(release.flow.inputs, { reserve: { hold: 'h-1' } });
    await api.ackOk(release.id, release.lease, null);

    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error.step, 'fraud', 'the error names the step that failed');
    assert.match(done.error.message, /card declined/);
    assert.equal(done.result, null);
    assert.deepEqual(done.steps.charge.compensation, { job: refund.id, state: 'succeeded' });
    assert.deepEqual(done.steps.reserve.compensation, { job: release.id, state: 'succeeded' });
    assert.equal(done.steps.reserve.state, 'succeeded', 'a compensated step still shows how it ended');

    const events = await api.flowEvents(flow.id);
    const story = events.map((e) => (e.step ? `${e.type}:${e.step}` : e.type));
    assert.equal(story[0], 'started');
    assert.equal(story.at(-1), 'failed', 'the terminal event comes last');
    assertSubsequence(story, ['step_succeeded:reserve', 'step_succeeded:charge', 'step_failed:fraud',
      'compensation_started:charge', 'compensation_succeeded:charge',
      'compensation_started:reserve', 'compensation_succeeded:reserve', 'failed']);
    assert.ok(indexOf(events, 'step_skipped', 'confirm') < indexOf(events, 'compensation_started', 'charge'));
    assert.ok(indexOf(events, 'compensating', 'fraud') < indexOf(events, 'compensation_started', 'charge'),
              'compensating names the failed step, before any compensation starts');
    const stepFailed = events[indexOf(events, 'step_failed', 'fraud')];
    assert.equal(stepFailed.job, fraud.id);
    assert.equal(stepFailed.state, 'failed');
    assert.equal(stepFailed.error.message, 'card declined');
    assert.equal(events[indexOf(events, 'compensation_started', 'charge')].job, refund.id);
    assert.equal(events.at(-1).error.step, 'fraud');
    assert.equal(events.filter((e) => e.type === 'step_started' && e.step === 'confirm').length, 0);
  });

  test('a step still running when another fails gets cancel_requested, and is compensated if it succeeds anyway', async () => {
    const qSlow = uniqueQueue('slow');
    const qUndo = uniqueQueue('slow-undo');
    const qBad = uniqueQueue('bad');
    const flow = await api.submitFlowOk({
      steps: {
        slow: { queue: qSlow, payload: {}, compensate: { queue: qUndo, payload: {} } },
        bad: { queue: qBad, payload: {}, max_attempts: 1 },
      },
    });
    const slow = await leaseStep(qSlow, flow.id, 'slow');
    let hb = await api.heartbeat(slow.id, slow.lease);
    assert.equal(hb.body.cancel_requested, false);
    const bad = await leaseStep(qBad, flow.id, 'bad');
    assert.equal((await api.fail(bad.id, bad.lease, { retry: false })).status, 200);

    hb = await api.heartbeat(slow.id, slow.lease);
    assert.equal(hb.status, 200, hb.text);
    assert.equal(hb.body.cancel_requested, true, 'the running step learns it on its next heartbeat');
    const now = await api.flow(flow.id);
    assert.equal(now.state, 'compensating');
    await assertNothingToLease(qUndo);  // no compensation while a step job is unfinished

    await api.ackOk(slow.id, slow.lease, { late: true });
    const undo = await leaseCompensation(qUndo, flow.id, 'slow');
    assert.deepEqual(undo.flow.inputs, { slow: { late: true } });
    await api.ackOk(undo.id, undo.lease);
    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error.step, 'bad');
    const events = await api.flowEvents(flow.id);
    assert.equal(events[indexOf(events, 'step_cancel_requested', 'slow')].job, slow.id);
  });

  test('a failed compensation is recorded and the flow still ends failed', async () => {
    const qa = uniqueQueue('a');
    const qUndo = uniqueQueue('a-undo');
    const qb = uniqueQueue('b');
    const flow = await api.submitFlowOk({
      steps: {
        a: { queue: qa, payload: {}, compensate: { queue: qUndo, payload: {}, max_attempts: 1 } },
        b: { queue: qb, payload: {}, after: ['a'], max_attempts: 1 },
      },
    });
    const a = await leaseStep(qa, flow.id, 'a');
    await api.ackOk(a.id, a.lease, 1);
    const b = await leaseStep(qb, flow.id, 'b');
    assert.deepEqual(b.flow.inputs, { a: 1 });
    await api.fail(b.id, b.lease, { retry: false });
    const undo = await leaseCompensation(qUndo, flow.id, 'a');
    await api.fail(undo.id, undo.lease, { retry: false });
    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error.step, 'b');
    assert.equal(done.steps.a.compensation.state, 'failed');
    const types = (await api.flowEvents(flow.id)).map((e) => e.type);
    assertSubsequence(types, ['compensation_started', 'compensation_failed', 'failed']);
  });

  test('a step job cancelled by someone else fails the flow', async () => {
    const qa = uniqueQueue('a');
    const qb = uniqueQueue('b');
    const flow = await api.submitFlowOk({
      steps: { a: { queue: qa, payload: {} }, b: { queue: qb, payload: {}, after: ['a'] } },
    });
    const cancelled = await api.cancel(flow.steps.a.job);
    assert.equal(cancelled.status, 200, cancelled.text);
    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.error.step, 'a');
    assert.equal(done.steps.a.state, 'cancelled');
    assert.equal(done.steps.b.state, 'skipped');
    await assertNothingToLease(qb);
  });

  test('retrying a dead-lettered step job after the flow ended does not revive the flow', async () => {
    const qa = uniqueQueue('a');
    const qb = uniqueQueue('b');
    const flow = await api.submitFlowOk({
      steps: { a: { queue: qa, payload: {}, max_attempts: 1 }, b: { queue: qb, payload: {}, after: ['a'] } },
    });
    const a = await leaseStep(qa, flow.id, 'a');
    await api.fail(a.id, a.lease, { retry: false });
    const ended = await finishedFlow(flow.id);
    assert.equal(ended.state, 'failed');
    const retried = await api.req('POST', `/v1/jobs/${a.id}/retry`);
    assert.equal(retried.status, 200, retried.text);
    const again = await api.leaseOne(qa);
    assert.equal(again.id, a.id);
    await api.ackOk(again.id, again.lease, 'late');
    const after = await api.flow(flow.id);
    assert.equal(after.state, 'failed', 'the flow stays as it ended');
    assert.equal(after.steps.b.state, 'skipped');
    assert.deepEqual(after.finished_at, ended.finished_at);
    await assertNothingToLease(qb);
  });
});

describe('waiting for the answer', () => {
  test('200 with the flow when it finishes within the wait', async () => {
    const qa = uniqueQueue('a');
    const qb = uniqueQueue('b');
    const pending = api.submitFlow({
      steps: { a: { queue: qa, payload: 1 }, b: { queue: qb, payload: 2, after: ['a'] } },
    }, { wait: 10 });
    const a = await api.leaseOne(qa);
    await api.ackOk(a.id, a.lease, 'A');
    const b = await api.leaseOne(qb);
    await api.ackOk(b.id, b.lease, 'B');
    const res = await pending;
    assert.equal(res.status, 200, res.text);
    assertFlowDoc(res.body);
    assert.equal(res.body.state, 'succeeded');
    assert.deepEqual(res.body.result, { b: 'B' });
    assert.equal(res.headers.get('location'), null, 'a finished flow needs no Location');
    assert.equal(res.headers.get('preference-applied'), 'wait=10');
    assert.equal(a.flow.id, res.body.id);
  });

  test('202 with Location, Retry-After and Preference-Applied when it does not', async () => {
    const qa = uniqueQueue('a');
    const res = await api.submitFlow({ steps: { a: { queue: qa, payload: 1 } } }, { wait: 0.3 });
    assert.equal(res.status, 202, res.text);
    assertFlowDoc(res.body);
    assert.equal(res.body.state, 'running');
    assert.ok(res.ms >= 250, `the answer waited (${res.ms} ms)`);
    assert.equal(res.headers.get('location'), `/v1/flows/${res.body.id}`);
    assert.ok(res.headers.get('retry-after'), 'Retry-After');
    assert.equal(res.headers.get('preference-applied'), 'wait=0.3');
    const there = await api.req('GET', res.headers.get('location'));
    assert.equal(there.status, 200);
    assert.equal(there.body.id, res.body.id);
  });

  test('without Prefer: wait the answer is 202 at once, with no Preference-Applied', async () => {
    const res = await api.submitFlow({ steps: { a: { queue: uniqueQueue('a'), payload: 1 } } });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.headers.get('preference-applied'), null);
    assert.equal(res.headers.get('idempotent-replayed'), null);
  });

  test('GET with Prefer: wait holds until the flow is terminal', async () => {
    const qa = uniqueQueue('a');
    const flow = await api.submitFlowOk({ steps: { a: { queue: qa, payload: 1 } } });
    const pending = api.getFlow(flow.id, { wait: 10 });
    const a = await api.leaseOne(qa);
    await api.ackOk(a.id, a.lease, { ok: true });
    const res = await pending;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'succeeded');
    assert.equal(res.headers.get('preference-applied'), 'wait=10');
  });

  test('GET with Prefer: wait answers the running flow when the wait ends', async () => {
    const flow = await api.submitFlowOk({ steps: { a: { queue: uniqueQueue('a'), payload: 1 } } });
    const res = await api.getFlow(flow.id, { wait: 0.3 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'running');
    assert.ok(res.ms >= 250, `held for the wait (${res.ms} ms)`);
  });
});

describe('events', () => {
  test('SSE replays, follows live and ends after the terminal event', async () => {
    const qa = uniqueQueue('a');
    const qb = uniqueQueue('b');
    const flow = await api.submitFlowOk({
      name: 'sse', steps: { a: { queue: qa, payload: 1 }, b: { queue: qb, payload: 2, after: ['a'] } },
    });
    const sse = await openSse(`${srv.url}/v1/flows/${flow.id}/events`);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
    const first = await sse.next();
    assert.equal(first.event, 'started');
    assert.equal(first.data.type, 'started');
    assert.equal(first.id, String(first.data.seq), 'the SSE id is the event seq');
    const second = await sse.next();
    assert.equal(second.event, 'step_started');
    assert.equal(second.data.step, 'a');

    const a = await api.leaseOne(qa);
    await api.ackOk(a.id, a.lease, 'A');
    const b = await api.leaseOne(qb);
    await api.ackOk(b.id, b.lease, 'B');
    const rest = await sse.rest();  // resolves only once the server ends the stream
    const types = rest.map((f) => f.event);
    assertSubsequence(types, ['step_succeeded', 'step_started', 'step_succeeded', 'succeeded']);
    assert.equal(types.at(-1), 'succeeded', 'the stream ends after the terminal event');
    for (const f of rest) assert.equal(f.event, f.data.type);
    sse.close();
  });

  test('Last-Event-ID replays only what came after; at the end, the stream ends at once', async () => {
    const qa = uniqueQueue('a');
    const flow = await api.submitFlowOk({ steps: { a: { queue: qa, payload: 1 } } });
    const a = await api.leaseOne(qa);
    await api.ackOk(a.id, a.lease, 'A');
    await finishedFlow(flow.id);
    const all = await api.flowEvents(flow.id);
    const url = `${srv.url}/v1/flows/${flow.id}/events`;

    const replay = await openSse(url, { 'last-event-id': String(all[0].seq) });
    const frames = await replay.rest();
    assert.deepEqual(frames.map((f) => Number(f.id)), all.slice(1).map((e) => e.seq));
    replay.close();

    const atEnd = await openSse(url, { 'last-event-id': String(all.at(-1).seq) });
    assert.deepEqual(await atEnd.rest(), [], 'nothing after the terminal event: the stream ends');
    atEnd.close();
  });

  test('SSE of a cancelled flow ends after cancelled', async () => {
    const flow = await api.submitFlowOk({ steps: { a: { queue: uniqueQueue('a'), payload: 1 } } });
    const sse = await openSse(`${srv.url}/v1/flows/${flow.id}/events`);
    assert.equal((await api.cancelFlow(flow.id)).status, 200);
    const frames = await sse.rest();
    assert.equal(frames.at(-1).event, 'cancelled');
    sse.close();
  });

  test('Accept: application/json answers {"events": [...]}', async () => {
    const flow = await api.submitFlowOk({ steps: { a: { queue: uniqueQueue('a'), payload: 1 } } });
    const res = await api.req('GET', `/v1/flows/${flow.id}/events`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(res.body.events.map((e) => e.type), ['started', 'step_started']);
    assert.deepEqual(res.body.events[0].steps, ['a']);
  });
});

describe('idempotent submission', () => {
  const body = (q, key) => ({ idempotency_key: key, steps: { a: { queue: q, payload: { n: 1 } } } });

  test('the same key answers the same flow, marked Idempotent-Replayed, and creates nothing more', async () => {
    const q = uniqueQueue('idem');
    const key = `k-${randomUuidV7()}`;
    const first = await api.submitFlow(body(q, key));
    assert.equal(first.status, 202, first.text);
    assert.equal(first.body.idempotency_key, key);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const again = await api.submitFlow(body(q, key));
    assert.equal(again.status, 202, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    const jobs = await api.req('GET', `/v1/jobs?queue=${q}`);
    assert.equal(jobs.body.jobs.length, 1, 'a replay starts no step twice');
  });

  test('the Idempotency-Key header works like the field; a replay of a finished flow is 200', async () => {
    const q = uniqueQueue('idem-h');
    const key = `k-${randomUuidV7()}`;
    const flow = { steps: { a: { queue: q, payload: 1 } } };
    const first = await api.submitFlow(flow, { headers: { 'idempotency-key': key } });
    assert.equal(first.status, 202, first.text);
    assert.equal(first.body.idempotency_key, key);
    const a = await api.leaseOne(q);
    await api.ackOk(a.id, a.lease, 'done');
    await finishedFlow(first.body.id);
    const again = await api.submitFlow(flow, { headers: { 'idempotency-key': key } });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.state, 'succeeded');
  });

  test('the same key with different content is 409 and changes nothing', async () => {
    const q = uniqueQueue('idem-c');
    const key = `k-${randomUuidV7()}`;
    const first = await api.submitFlowOk(body(q, key));
    const other = body(q, key);
    other.steps.a.payload = { n: 2 };
    assertProblem(await api.submitFlow(other), 409, 'a different payload');
    const more = body(q, key);
    more.steps.b = { queue: q, payload: 1 };
    assertProblem(await api.submitFlow(more), 409, 'another step');
    const jobs = await api.req('GET', `/v1/jobs?queue=${q}`);
    assert.equal(jobs.body.jobs.length, 1);
    assert.equal((await api.flow(first.id)).steps.a.job, jobs.body.jobs[0].id);
  });
});

describe('cancel', () => {
  test('a running flow: unstarted steps are skipped, running jobs get cancel_requested, it ends cancelled', async () => {
    const q = { a: uniqueQueue('a'), b: uniqueQueue('b'), c: uniqueQueue('c') };
    const flow = await api.submitFlowOk({
      steps: {
        a: { queue: q.a, payload: {} },
        b: { queue: q.b, payload: {} },
        c: { queue: q.c, payload: {}, after: ['a', 'b'] },
      },
    });
    const a = await leaseStep(q.a, flow.id, 'a');  // running; b stays queued
    const res = await api.cancelFlow(flow.id);
    assert.equal(res.status, 200, res.text);
    assertFlowDoc(res.body);
    assert.ok(['compensating', 'cancelled'].includes(res.body.state), res.body.state);
    assert.equal(res.body.steps.c.state, 'skipped');

    const hb = await api.heartbeat(a.id, a.lease);
    assert.equal(hb.status, 200, hb.text);
    assert.equal(hb.body.cancel_requested, true, 'the running step job learns it on its heartbeat');
    assert.equal((await api.job(flow.steps.b.job)).state, 'cancelled', 'a queued step job is cancelled');
    await assertNothingToLease(q.b);
    await assertNothingToLease(q.c);

    const f = await api.fail(a.id, a.lease, { error: { message: 'stopped', type: 'Cancelled' } });
    assert.equal(f.body.state, 'cancelled');
    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.steps.a.state, 'cancelled');
    assert.equal(done.steps.b.state, 'cancelled');
    assert.equal(done.steps.c.state, 'skipped');

    const events = await api.flowEvents(flow.id);
    const types = events.map((e) => e.type);
    assert.equal(types.at(-1), 'cancelled');
    assertSubsequence(types, ['started', 'cancel_requested', 'cancelled']);
    assert.equal(events[indexOf(events, 'step_cancel_requested', 'a')].job, a.id);
    indexOf(events, 'step_skipped', 'c');
    for (const e of events.filter((ev) => ev.type === 'compensating')) {
      assert.equal(Object.hasOwn(e, 'step'), false, 'compensating after a cancel names no failed step');
    }
  });

  test('cancel compensates the steps that succeeded', async () => {
    const q = { a: uniqueQueue('a'), undo: uniqueQueue('a-undo'), b: uniqueQueue('b') };
    const flow = await api.submitFlowOk({
      steps: {
        a: { queue: q.a, payload: {}, compensate: { queue: q.undo, payload: { undo: 'a' } } },
        b: { queue: q.b, payload: {}, after: ['a'] },
      },
    });
    const a = await leaseStep(q.a, flow.id, 'a');
    await api.ackOk(a.id, a.lease, { made: 'x' });
    const res = await api.cancelFlow(flow.id);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.state, 'compensating');
    const undo = await leaseCompensation(q.undo, flow.id, 'a');
    assert.deepEqual(undo.flow.inputs, { a: { made: 'x' } });
    await api.ackOk(undo.id, undo.lease);
    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'cancelled');
    assert.equal(done.error, null);
    assert.deepEqual(done.steps.a.compensation, { job: undo.id, state: 'succeeded' });
  });

  test('cancel of a finished flow is 409; of an unknown flow 404', async () => {
    const flow = await api.submitFlowOk({ steps: { a: { queue: uniqueQueue('a'), payload: 1 } } });
    assert.equal((await api.cancelFlow(flow.id)).status, 200);
    const done = await finishedFlow(flow.id);
    assert.equal(done.state, 'cancelled');
    assertProblem(await api.cancelFlow(flow.id), 409, 'cancel of a cancelled flow');
    assert.equal((await api.flow(flow.id)).state, 'cancelled');
    assertProblem(await api.cancelFlow(randomUuidV7()), 404);
  });
});

describe('GET /v1/flows', () => {
  test('newest first, paged with the cursor, filtered by state', async () => {
    const q = uniqueQueue('list');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await api.submitFlowOk({ name: `list-${i}`, steps: { a: { queue: q, payload: i } } })).id);
    }
    const first = await api.listFlows({ limit: 2 });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.flows.length, 2);
    for (const f of first.body.flows) assertFlowDoc(f);
    assert.deepEqual(first.body.flows.map((f) => f.id), [ids[2], ids[1]], 'newest first');
    assert.equal(typeof first.body.next, 'string');
    const second = await api.listFlows({ limit: 2, cursor: first.body.next });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.body.flows[0].id, ids[0], 'the next page goes on where the first ended');

    // Finish the oldest; the state filter tells it from the others.
    const leased = await api.leaseJobs([q], { max: 10 });
    const job = leased.find((j) => j.flow.id === ids[0]);
    await api.ackOk(job.id, job.lease, 'ok');
    await finishedFlow(ids[0]);
    const succeeded = await api.listFlows({ state: 'succeeded', limit: 1000 });
    assert.equal(succeeded.status, 200, succeeded.text);
    assert.ok(succeeded.body.flows.every((f) => f.state === 'succeeded'));
    assert.ok(succeeded.body.flows.some((f) => f.id === ids[0]));
    const running = await api.listFlows({ state: 'running', limit: 1000 });
    assert.ok(running.body.flows.every((f) => f.state === 'running'));
    assert.ok(!running.body.flows.some((f) => f.id === ids[0]));
    assert.ok(running.body.flows.some((f) => f.id === ids[1]));
  });

  test('the last page has next: null', async () => {
    const res = await api.listFlows({ limit: 1000 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.next, null);
  });

  for (const [what, query] of [
    ['an unknown state', { state: 'done' }], ['a job state', { state: 'queued' }],
    ['limit 0', { limit: '0' }], ['limit 1001', { limit: '1001' }], ['a limit that is no number', { limit: 'ten' }],
    ['a malformed cursor', { cursor: 'nope' }], ['an unknown parameter', { queue: 'x' }],
  ]) {
    test(`${what} is 400`, async () => {
      assertProblem(await api.listFlows(query), 400, what);
    });
  }
});

describe('404 and 405', () => {
  test('an unknown or malformed flow id is 404 everywhere', async () => {
    for (const id of [randomUuidV7(), 'not-a-uuid']) {
      assertProblem(await api.getFlow(id), 404, `GET ${id}`);
      assertProblem(await api.req('GET', `/v1/flows/${id}/events`, { headers: { accept: 'application/json' } }),
                    404, `events of ${id}`);
      assertProblem(await api.req('GET', `/v1/flows/${id}/events`, { headers: { accept: 'text/event-stream' } }),
                    404, `SSE of ${id}`);
      assertProblem(await api.cancelFlow(id), 404, `cancel ${id}`);
    }
  });

  test('a job id is not a flow id', async () => {
    const job = await api.submitOk(uniqueQueue('job'), { payload: 1 });
    assertProblem(await api.getFlow(job.id), 404);
  });

  test('unknown sub-resources are 404', async () => {
    assertProblem(await api.req('GET', `/v1/flows/${randomUuidV7()}/steps`), 404);
    assertProblem(await api.req('GET', `/v1/flows/${randomUuidV7()}/events/more`), 404);
  });

  for (const [method, path, allow] of [
    ['PUT', '/v1/flows', 'GET, POST'],
    ['DELETE', '/v1/flows', 'GET, POST'],
    ['POST', '/v1/flows/ID', 'GET'],
    ['DELETE', '/v1/flows/ID', 'GET'],
    ['POST', '/v1/flows/ID/events', 'GET'],
    ['GET', '/v1/flows/ID/cancel', 'POST'],
  ]) {
    test(`${method} ${path} is 405 with Allow: ${allow}`, async () => {
      const res = await api.req(method, path.replace('ID', randomUuidV7()));
      assertProblem(res, 405);
      assert.equal(res.headers.get('allow'), allow);
    });
  }
});

describe('validation: 400, and nothing is created', () => {
  /** What a refused submit must leave unchanged: the flow listing. */
  async function listing() {
    const res = await api.listFlows({ limit: 1000 });
    return { status: res.status, ids: res.body?.flows?.map((f) => f.id) ?? null };
  }

  /** Submits `body` (or raw `text`), expects 400 with a detail matching `detail`, and no change. */
  async function assertRefused({ body, text, headers = {}, detail, queues = [], status = 400 }) {
    const before = await listing();
    const res = text !== undefined
      ? await api.req('POST', '/v1/flows', { body: text, headers: { 'content-type': 'application/json', ...headers } })
      : await api.submitFlow(body, { headers });
    const problem = assertProblem(res, status);
    if (detail) assert.match(problem.detail, detail);
    assert.deepEqual(await listing(), before, 'GET /v1/flows is unchanged');
    for (const q of queues) {
      const jobs = await api.req('GET', `/v1/jobs?queue=${q}`);
      assert.equal(jobs.status, 200, jobs.text);
      assert.deepEqual(jobs.body.jobs, [], `no job appeared on ${q}`);
    }
    return problem;
  }

  const step = (q, extra = {}) => ({ queue: q, payload: { x: 1 }, ...extra });
  const manySteps = (q, n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, step(q)]));

  // Each case: [name, (q) => body, detail regexp]. `q` is a queue no other test uses.
  const cases = [
    ['the body is not an object', () => [1, 2], /JSON object/],
    ['steps is missing', (q) => ({ name: 'x', idempotency_key: q }), /steps is required/],
    ['steps is empty', () => ({ steps: {} }), /at least one step/],
    ['steps is null', () => ({ steps: null }), /steps is required/],
    ['steps is an array', (q) => ({ steps: [step(q)] }), /steps must be an object/],
    ['more than 100 steps', (q) => ({ steps: manySteps(q, 101) }), /at most 100 steps/],
    ['a cycle', (q) => ({ steps: { a: step(q, { after: ['c'] }), b: step(q, { after: ['a'] }),
      c: step(q, { after: ['b'] }) } }), /cycle/],
    ['a step after itself', (q) => ({ steps: { a: step(q, { after: ['a'] }) } }), /itself/],
    ['an unknown after', (q) => ({ steps: { a: step(q), b: step(q, { after: ['nope'] }) } }),
      /step 'b' is after 'nope', which is not a step/],
    ['after named twice', (q) => ({ steps: { a: step(q), b: step(q, { after: ['a', 'a'] }) } }), /twice/],
    ['after is not an array', (q) => ({ steps: { a: step(q), b: step(q, { after: 'a' }) } }),
      /steps\.b\.after must be an array/],
    ['after holds a non-string', (q) => ({ steps: { a: step(q), b: step(q, { after: [1] }) } }),
      /steps\.b\.after/],
    ['a step that is not an object', (q) => ({ steps: { a: step(q), b: 'x' } }), /steps\.b must be an object/],
    ['a step without queue', (q) => ({ steps: { a: step(q), b: { payload: 1 } } }), /steps\.b\.queue is required/],
    ['a step without payload', (q) => ({ steps: { a: { queue: q } } }), /steps\.a\.payload is required/],
    ['a bad queue name', (q) => ({ steps: { a: step(q), b: step('bad queue!') } }),
      /steps\.b\.queue: 'bad queue!' is not a valid queue name/],
    ['a queue that is not a string', (q) => ({ steps: { a: step(q), b: step(5) } }), /steps\.b\.queue must be a string/],
    ['a bad step name', (q) => ({ steps: { 'no spaces': step(q) } }), /step name 'no spaces'/],
    ['a step name too long', (q) => ({ steps: { ['n'.repeat(65)]: step(q) } }), /step name/],
    ['an unknown member', (q) => ({ steps: { a: step(q) }, priority: 1 }), /unknown field priority/],
    ['an unknown member in a step', (q) => ({ steps: { a: step(q, { retries: 3 }) } }),
      /unknown field steps\.a\.retries/],
    ['an idempotency_key in a step', (q) => ({ steps: { a: step(q, { idempotency_key: 'k' }) } }),
      /steps\.a\.idempotency_key/],
    ['a bad job field in a step', (q) => ({ steps: { a: step(q, { priority: 'high' }) } }),
      /steps\.a\.priority must be an integer/],
    ['a bad backoff in a step', (q) => ({ steps: { a: step(q, { backoff: { jitter: 2 } }) } }),
      /steps\.a\.backoff\.jitter/],
    ['callback_url in a step', (q) => ({ steps: { a: step(q, { callback_url: 'http://x' }) } }),
      /steps\.a\.callback_url is not supported/],
    ['ttl_ms of 0', (q) => ({ steps: { a: step(q) }, ttl_ms: 0 }), /ttl_ms must be between/],
    ['ttl_ms that is not a number', (q) => ({ steps: { a: step(q) }, ttl_ms: '10s' }), /ttl_ms must be an integer/],
    ['a negative ttl_ms', (q) => ({ steps: { a: step(q) }, ttl_ms: -5 }), /ttl_ms must be between/],
    ['an empty idempotency_key', (q) => ({ steps: { a: step(q) }, idempotency_key: '' }),
      /idempotency_key must not be empty/],
    ['a name that is not a string', (q) => ({ name: 7, steps: { a: step(q) } }), /name must be a string/],
    ['a compensate that is not an object', (q) => ({ steps: { a: step(q, { compensate: 'undo' }) } }),
      /steps\.a\.compensate must be an object/],
    ['a compensate without queue', (q) => ({ steps: { a: step(q, { compensate: { payload: 1 } }) } }),
      /steps\.a\.compensate\.queue is required/],
    ['a compensate without payload', (q) => ({ steps: { a: step(q, { compensate: { queue: q } }) } }),
      /steps\.a\.compensate\.payload is required/],
    ['a compensate with a bad queue', (q) => ({ steps: { a: step(q, { compensate: step('-bad') }) } }),
      /steps\.a\.compensate\.queue: '-bad'/],
    ['a compensate with after', (q) => ({ steps: { a: step(q, { compensate: step(q, { after: [] }) }) } }),
      /unknown field steps\.a\.compensate\.after/],
    ['a compensate with an idempotency_key', (q) => ({ steps: { a: step(q, {
      compensate: step(q, { idempotency_key: 'k' }) }) } }), /steps\.a\.compensate\.idempotency_key/],
  ];
  for (const [name, make, detail] of cases) {
    test(name, async () => {
      const q = uniqueQueue('refused');
      await assertRefused({ body: make(q), detail, queues: [q] });
    });
  }

  test('the first steps are valid and a later one is not: nothing of the flow is stored', async () => {
    const q = uniqueQueue('partial');
    await assertRefused({
      body: { steps: { a: step(q), b: step(q), c: step(q, { max_attempts: 0 }) } },
      detail: /steps\.c\.max_attempts/, queues: [q],
    });
  });

  test('an Idempotency-Key header that differs from the field', async () => {
    const q = uniqueQueue('refused');
    await assertRefused({
      body: { steps: { a: step(q) }, idempotency_key: 'one' }, headers: { 'idempotency-key': 'two' },
      detail: /differ/, queues: [q],
    });
  });

  test('a body that is not JSON', async () => {
    await assertRefused({ text: '{"steps": ', detail: /not valid JSON/ });
  });

  test('a body that is not JSON by its content type is 415', async () => {
    await assertRefused({ text: '<flow/>', headers: { 'content-type': 'application/xml' }, status: 415 });
  });
});
