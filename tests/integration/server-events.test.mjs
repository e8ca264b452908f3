// SPEC §3 Observability, GET /v1/events: the server-wide stream of job state
// changes and queue counts (docs/api.md, "Server-wide events"): order, the
// queue filter, the queues event, dropping a subscriber that does not read,
// errors, and the end of the stream when the server drains.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  Api, assertProblem, assertTimestamp, openSse, uniqueQueue, waitFor,
} from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

/** Opens /v1/events (with `query`) and waits for its first queues event: subscribed from then on. */
async function openEvents(query = '') {
  const sse = await openSse(`${srv.url}/v1/events${query}`);
  assert.equal(sse.status, 200);
  assert.match(sse.headers.get('content-type'), /^text\/event-stream/);
  const first = await sse.next(5000);
  assert.equal(first.event, 'queues', 'the stream opens with the queue counts');
  return sse;
}

/** Reads frames until `n` job events of job `id` came; returns their data. Skips queues events. */
async function jobEvents(sse, id, n, timeoutMs = 5000) {
  const out = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const f = await sse.next(Math.max(1, deadline - Date.now()));
    assert.ok(f, 'the stream ended early');
    if (f.event === 'job' && f.data.id === id) out.push(f.data);
  }
  return out;
}

describe('job events', () => {
  test('follow a job through its life in order: queued, running, succeeded', async () => {
    const q = uniqueQueue('life');
    const sse = await openEvents();
    try {
      const { job, leased } = await api.submitAndLease(q);
      await api.ackOk(job.id, leased.lease);
      const evs = await jobEvents(sse, job.id, 3);
      assert.deepEqual(evs.map((e) => [e.from, e.to]),
                       [[null, 'queued'], ['queued', 'running'], ['running', 'succeeded']]);
      for (const e of evs) {
        assert.deepEqual(Object.keys(e).sort(), ['at', 'from', 'id', 'queue', 'to']);
        assert.equal(e.queue, q);
        assertTimestamp(e.at, 'at');
      }
      assert.ok(Date.parse(evs[2].at) >= Date.parse(evs[0].at));
    } finally {
      sse.close();
    }
  });

  test('a retry, a dead letter, an admin retry and a discard are state changes too', async () => {
    const q = uniqueQueue('retry');
    const sse = await openEvents(`?queue=${q}`);
    try {
      const { job, leased } = await api.submitAndLease(q, { payload: 1, max_attempts: 1 });
      assert.equal((await api.fail(job.id, leased.lease)).body.state, 'failed');
      assert.equal((await api.req('POST', `/v1/jobs/${job.id}/retry`)).status, 200);
      assert.equal((await api.cancel(job.id)).status, 200);
      assert.equal((await api.req('DELETE', `/v1/jobs/${job.id}`)).status, 204);
      const evs = await jobEvents(sse, job.id, 6);
      assert.deepEqual(evs.map((e) => [e.from, e.to]), [
        [null, 'queued'], ['queued', 'running'], ['running', 'failed'], ['failed', 'queued'],
        ['queued', 'cancelled'], ['cancelled', null]]);
    } finally {
      sse.close();
    }
  });

  test('?queue= keeps only that queue\'s job events', async () => {
    const a = uniqueQueue('only');
    const b = uniqueQueue('skip');
    const sse = await openEvents(`?queue=${a}`);
    try {
      await api.submitOk(b);  // committed first: it would arrive first if it passed the filter
      const mine = await api.submitOk(a);
      for (;;) {
        const f = await sse.next(5000);
        assert.ok(f, 'stream ended');
        if (f.event !== 'job') continue;
        assert.equal(f.data.queue, a, `an event of another queue came through: ${f.rawData}`);
        assert.equal(f.data.id, mine.id);
        break;
      }
    } finally {
      sse.close();
    }
  });
});

describe('queues events', () => {
  test('arrive about once a second with the counts of GET /v1/queues', async () => {
    const q = uniqueQueue('counts');
    await api.submitOk(q);
    await api.submitOk(q);
    const sse = await openEvents();
    try {
      const started = Date.now();
      let entry;
      while (!entry) {
        const f = await sse.next(3000);
        assert.ok(f, 'stream ended');
        if (f.event !== 'queues') continue;
        assert.ok(Array.isArray(f.data.queues));
        entry = f.data.queues.find((x) => x.name === q);
      }
      assert.ok(Date.now() - started < 2500, 'a queues event within ~2 s of the first');
      assert.equal(entry.counts.queued, 2);
      assert.equal(entry.paused, false);
      assert.equal(entry.enqueued_total, 2);
      assert.deepEqual(Object.keys(entry).sort(), Object.keys(await api.queue(q)).sort());
    } finally {
      sse.close();
    }
  });

  test('?queue= keeps only that queue in the queues event', async () => {
    const q = uniqueQueue('qf');
    await api.submitOk(q);
    await api.submitOk(uniqueQueue('other'));
    const sse = await openSse(`${srv.url}/v1/events?queue=${q}`);
    try {
      const f = await sse.next(3000);
      assert.equal(f.event, 'queues');
      assert.deepEqual(f.data.queues.map((x) => x.name), [q]);
    } finally {
      sse.close();
    }
  });
});

describe('errors', () => {
  test('an invalid queue name or an unknown parameter is 400', async () => {
    const headers = { accept: 'text/event-stream' };
    assertProblem(await api.req('GET', '/v1/events?queue=bad%20name!', { headers }), 400);
    assertProblem(await api.req('GET', '/v1/events?queue=', { headers }), 400);
    assertProblem(await api.req('GET', '/v1/events?state=queued', { headers }), 400);
  });

  test('a JSON Accept is 406; POST is 405', async () => {
    const res = await api.req('GET', '/v1/events', { headers: { accept: 'application/json' } });
    assertProblem(res, 406);
    const post = await api.req('POST', '/v1/events');
    assert.equal(post.status, 405);
  });
});

describe('a subscriber that does not read', () => {
  test('is dropped with a final dropped event, and the server goes on', async () => {
    // Long names make long events, so fewer jobs fill the socket and the buffer.
    const q = `${uniqueQueue('slow')}-${'x'.repeat(80)}`.slice(0, 128);
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.pause();  // never read until the end: the kernel's buffers fill, then the server's
    await new Promise((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    sock.write(`GET /v1/events?queue=${q} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    const streams = async () => (await api.req('GET', '/metrics')).text;
    await waitFor(async () => /\nerrand_sse_streams 1\n/.test(await streams()),
                  { message: 'the stream to open' });

    const dropped = async () =>
      /\nerrand_events_streams_dropped_total 1\n/.test(await streams());
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ payload: i }));
    let batches = 0;
    while (!(await dropped())) {
      assert.ok(batches < 200, 'not dropped after 200 000 jobs');
      const res = await api.batch(q, jobs);
      assert.equal(res.status, 202, res.text);
      batches += 1;
    }

    // Read what was sent: events, then the final one, then the end of the stream.
    const text = await new Promise((resolve) => {
      const chunks = [];
      const timer = setTimeout(() => finish(), 20_000);
      const finish = () => {
        clearTimeout(timer);
        sock.destroy();
        resolve(Buffer.concat(chunks).toString('latin1'));
      };
      sock.on('data', (c) => {
        chunks.push(c);
        if (Buffer.concat(chunks.slice(-2)).toString('latin1').includes('\r\n0\r\n\r\n')) finish();
      });
      sock.on('close', finish);
      sock.resume();
    });
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.match(text, /event: job\n/);
    const last = text.lastIndexOf('event: ');
    assert.ok(last > 0);
    assert.match(text.slice(last), /^event: dropped\ndata: \{"reason":"[^"]+"\}\n\n\r\n0\r\n\r\n$/,
                 `the stream should end with the dropped event: ${JSON.stringify(text.slice(-300))}`);
    // The server is fine, and others still get their events.
    const sse = await openEvents(`?queue=${q}`);
    try {
      const job = await api.submitOk(q);
      assert.equal((await jobEvents(sse, job.id, 1))[0].to, 'queued');
    } finally {
      sse.close();
    }
  });
});

describe('shutdown', () => {
  test('a draining server ends the stream and exits 0', async () => {
    const own = await startServer();
    try {
      const sse = await openSse(`${own.url}/v1/events`);
      assert.equal((await sse.next(5000)).event, 'queues');
      const stopped = own.stop();
      const frames = await sse.rest(10_000);
      assert.ok(frames.every((f) => f.event === 'queues'));
      await stopped;
    } finally {
      await own.close();
    }
  });
});
