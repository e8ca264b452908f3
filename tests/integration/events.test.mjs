// SPEC §1 Timeline and §3 GET /v1/jobs/{id}/events: the JSON form, Server-Sent
// Events with replay from Last-Event-ID, live following, and the end of the
// stream after the terminal event.
//
// Decisions where SPEC is silent:
// - A `progress` event carries the progress either as `progress: {percent,
//   message, data}` or as those fields at the top level; both are accepted.
// - Events of an unknown job: 404.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Api, FAST_BACKOFF, assertProblem, assertTimestamp, openSse, randomUuidV7, uniqueQueue,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

const eventsUrl = (id) => `${srv.url}/v1/jobs/${id}/events`;
const progressOf = (ev) => ev.progress ?? ev;
const EVENT_TYPES = ['enqueued', 'scheduled', 'leased', 'progress', 'heartbeat', 'failed_attempt',
  'succeeded', 'failed', 'cancel_requested', 'cancelled', 'expired', 'retried_by_admin'];

/** `want` occurs in `types` in this order (other types may come between). */
function assertSubsequence(types, want) {
  let i = 0;
  for (const t of types) if (t === want[i]) i++;
  assert.equal(i, want.length, `timeline ${types.join(',')} should contain ${want.join(',')} in order`);
}

/** Runs a job through lease, progress heartbeat, a failed attempt, a second lease and ack. */
async function fullLifecycle(q) {
  const job = await api.submitOk(q, { payload: 1, backoff: FAST_BACKOFF });
  const first = await api.leaseOne(q, { worker: 'w-ev' });
  const hb = await api.heartbeat(job.id, first.lease, {
    progress: { percent: 40, message: 'halfway', data: { step: 2 } },
  });
  assert.equal(hb.status, 200, hb.text);
  const f = await api.fail(job.id, first.lease, { error: { message: 'flaky', type: 'IOError', detail: 'd' } });
  assert.equal(f.status, 200, f.text);
  const second = await api.leaseOne(q, { worker: 'w-ev2' });
  await api.ackOk(job.id, second.lease, { done: true });
  return job;
}

describe('job timeline (JSON)', () => {
  test('records every step in order with seq, at and type', async () => {
    const q = uniqueQueue('tl');
    const job = await fullLifecycle(q);
    const res = await api.req('GET', `/v1/jobs/${job.id}/events`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(res.text, /"percent":40[,}]/, 'a whole percent stays an integer in the JSON');
    const events = res.body.events;
    assert.ok(Array.isArray(events));
    for (const ev of events) {
      assert.ok(Number.isInteger(ev.seq), `seq: ${JSON.stringify(ev)}`);
      assertTimestamp(ev.at, 'event at');
      assert.equal(typeof ev.type, 'string');
    }
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i].seq > events[i - 1].seq, 'seq strictly increases');
      assert.ok(Date.parse(events[i].at) >= Date.parse(events[i - 1].at), 'at never goes back');
    }
    const types = events.map((e) => e.type);
    for (const t of types) assert.ok(EVENT_TYPES.includes(t), `unknown event type ${t}`);
    assert.equal(types[0], 'enqueued');
    assert.equal(types.at(-1), 'succeeded');
    assertSubsequence(types, ['enqueued', 'leased', 'progress', 'failed_attempt', 'leased', 'succeeded']);

    const leased = events.filter((e) => e.type === 'leased');
    assert.equal(leased[0].worker, 'w-ev');
    assert.equal(leased[0].attempt, 1);
    assert.equal(leased[1].worker, 'w-ev2');
    assert.equal(leased[1].attempt, 2);
    const progress = progressOf(events.find((e) => e.type === 'progress'));
    assert.equal(progress.percent, 40);
    assert.equal(progress.message, 'halfway');
    assert.deepEqual(progress.data, { step: 2 });
    const failed = events.find((e) => e.type === 'failed_attempt');
    assert.equal(failed.error.message, 'flaky');
    assert.equal(failed.error.type, 'IOError');
  });

  test('a delayed job starts with a scheduled event', async () => {
    const q = uniqueQueue('tl-delay');
    const job = await api.submitOk(q, { payload: 1, delay_ms: 60_000 });
    const types = (await api.events(job.id)).map((e) => e.type);
    assert.ok(types.includes('scheduled'), `timeline ${types}`);
  });

  test('an expired job ends with an expired event', async () => {
    const q = uniqueQueue('tl-expired');
    const job = await api.submitOk(q, { payload: 1, ttl_ms: 100 });
    assert.equal((await api.job(job.id, { wait: 5 })).state, 'expired');
    const events = await api.events(job.id);
    assert.equal(events.at(-1).type, 'expired');
  });

  test('events of an unknown job are 404', async () => {
    const res = await api.req('GET', `/v1/jobs/${randomUuidV7()}/events`, { headers: { accept: 'application/json' } });
    assertProblem(res, 404);
  });
});

describe('job timeline (SSE)', () => {
  test('replays every event as id/event/data frames and ends after the terminal one', async () => {
    const q = uniqueQueue('sse');
    const job = await fullLifecycle(q);
    const json = await api.events(job.id);
    const sse = await openSse(eventsUrl(job.id));
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
    const frames = await sse.rest(5000);
    assert.equal(frames.length, json.length);
    for (const [i, frame] of frames.entries()) {
      assert.equal(frame.id, String(json[i].seq), 'id: is the seq');
      assert.equal(frame.event, json[i].type, 'event: is the type');
      assert.deepEqual(frame.data, json[i], 'data: is the event as JSON');
    }
    assert.equal(frames.at(-1).event, 'succeeded');
  });

  test('replays only the events after Last-Event-ID', async () => {
    const q = uniqueQueue('sse-resume');
    const job = await fullLifecycle(q);
    const json = await api.events(job.id);
    const from = json[2].seq;
    const sse = await openSse(eventsUrl(job.id), { 'last-event-id': String(from) });
    const frames = await sse.rest(5000);
    assert.deepEqual(frames.map((f) => Number(f.id)), json.slice(3).map((e) => e.seq));
  });

  test('follows a live job and ends after its terminal event', async () => {
    const q = uniqueQueue('sse-live');
    const job = await api.submitOk(q, { payload: 1 });
    const sse = await openSse(eventsUrl(job.id));
    try {
      assert.equal(sse.status, 200);
      assert.equal((await sse.next(5000)).event, 'enqueued');

      const leased = await api.leaseOne(q, { worker: 'live-w' });
      const f1 = await sse.next(5000);
      assert.equal(f1.event, 'leased');
      assert.equal(f1.data.worker, 'live-w');

      const t0 = Date.now();
      await api.heartbeat(job.id, leased.lease, { progress: { percent: 10, message: 'started', data: null } });
      let f2 = await sse.next(5000);
      while (f2.event === 'heartbeat') f2 = await sse.next(5000);
      assert.equal(f2.event, 'progress');
      assert.equal(progressOf(f2.data).percent, 10);
      assert.ok(Date.now() - t0 < 2000, 'progress is pushed at once');

      await api.ackOk(job.id, leased.lease, 'fine');
      const rest = (await sse.rest(5000)).filter((f) => f.event !== 'heartbeat');
      assert.deepEqual(rest.map((f) => f.event), ['succeeded'], 'the stream ends after succeeded');
    } finally {
      sse.close();
    }
  });

  test('a stream on a terminal job ends at once', async () => {
    const q = uniqueQueue('sse-done');
    const job = await api.submitOk(q, { payload: 1 });
    await api.cancel(job.id);
    const sse = await openSse(eventsUrl(job.id));
    const t0 = Date.now();
    const frames = await sse.rest(5000);
    assert.equal(frames.at(-1).event, 'cancelled');
    assert.ok(Date.now() - t0 < 3000);
  });

  test('several subscribers of one job all get the live events', async () => {
    const q = uniqueQueue('sse-many');
    const job = await api.submitOk(q, { payload: 1 });
    const streams = await Promise.all(Array.from({ length: 10 }, () => openSse(eventsUrl(job.id))));
    try {
      for (const s of streams) assert.equal((await s.next(5000)).event, 'enqueued');
      const leased = await api.leaseOne(q);
      await api.ackOk(job.id, leased.lease, 1);
      for (const s of streams) {
        const events = (await s.rest(5000)).map((f) => f.event).filter((e) => e !== 'heartbeat');
        assert.deepEqual(events, ['leased', 'succeeded']);
      }
    } finally {
      for (const s of streams) s.close();
    }
  });
});
