// SPEC §3 Observability, GET /metrics: the Prometheus text format and the
// errand_* metrics of docs/metrics.md, moved by real submits, leases, acks,
// fails, lease expiries and waits.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, FAST_BACKOFF, openSse, uniqueQueue, waitFor } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE_RE = new RegExp(`^(${NAME})(\\{(.*)\\})? (\\S+)$`);
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/gy;

/** Parses the text format: {types: Map(family -> type), samples: [{name, labels, value}]}. */
function parseExposition(text) {
  const types = new Map();
  const helps = new Set();
  const samples = [];
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      helps.add(line.split(' ')[2]);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type), line);
      assert.ok(!types.has(name), `TYPE given twice for ${name}`);
      types.set(name, type);
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    const m = SAMPLE_RE.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[3]) {
      LABEL_RE.lastIndex = 0;
      let consumed = 0;
      let lm;
      while ((lm = LABEL_RE.exec(m[3])) !== null) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed = LABEL_RE.lastIndex;
        if (consumed === m[3].length) break;
      }
      assert.equal(consumed, m[3].length, `malformed labels in ${line}`);
    }
    const value = Number(m[4].replace('+Inf', 'Infinity').replace('-Inf', '-Infinity'));
    assert.ok(m[4] === 'NaN' || !Number.isNaN(value), `bad value in ${line}`);
    // The family: the name itself, or a histogram's name without its suffix.
    let family = m[1];
    if (!types.has(family)) family = family.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(family), `sample before (or without) its TYPE line: ${line}`);
    assert.ok(helps.has(family), `no HELP for ${family}`);
    samples.push({ name: m[1], family, labels, value });
  }
  return { types, samples };
}

async function scrape() {
  const res = await api.req('GET', '/metrics');
  assert.equal(res.status, 200, res.text);
  return parseExposition(res.text);
}

/** The value of the sample `name` whose labels include `labels`; undefined when none. */
function valueOf({ samples }, name, labels = {}) {
  const s = samples.find((x) => x.name === name &&
    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

async function metric(name, labels) {
  return valueOf(await scrape(), name, labels) ?? 0;
}

/** The buckets of histogram `name` for `labels`, as [{le, value}] in exposition order. */
function bucketsOf({ samples }, name, labels) {
  return samples
    .filter((x) => x.name === `${name}_bucket` &&
      Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .map((x) => ({ le: x.labels.le, value: x.value }));
}

describe('the exposition', () => {
  test('is text/plain version 0.0.4, and every sample has its TYPE and HELP', async () => {
    await api.submitOk(uniqueQueue('fmt'));
    const res = await api.req('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const exposition = parseExposition(res.text);
    const { types } = exposition;
    const want = {
      errand_jobs_enqueued_total: 'counter', errand_jobs_leased_total: 'counter',
      errand_jobs_succeeded_total: 'counter', errand_job_attempts_failed_total: 'counter',
      errand_jobs_failed_total: 'counter', errand_jobs_expired_total: 'counter',
      errand_jobs_cancelled_total: 'counter', errand_lease_expiries_total: 'counter',
      errand_sync_waits_total: 'counter', errand_jobs: 'gauge',
      errand_oldest_queued_age_seconds: 'gauge', errand_open_waits: 'gauge',
      errand_sse_streams: 'gauge', errand_connections: 'gauge',
      errand_queue_wait_seconds: 'histogram', errand_run_seconds: 'histogram',
      errand_end_to_end_seconds: 'histogram', errand_fsync_seconds: 'histogram',
      errand_commit_batch_size: 'histogram', process_resident_memory_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(want)) {
      assert.equal(types.get(name), type, `${name} should be a ${type}`);
    }
    for (const name of types.keys()) assert.match(name, /^(errand_|process_resident_memory_bytes$)/);
    // The real process's memory: more than a few pages, less than the machine.
    const rss = valueOf(exposition, 'process_resident_memory_bytes');
    assert.ok(rss > 4 * 1024 * 1024 && rss < 64 * 1024 ** 3, `resident memory ${rss}`);
  });

  test('HEAD answers like GET without a body; other methods are 405', async () => {
    const head = await api.req('HEAD', '/metrics');
    assert.equal(head.status, 200);
    const post = await api.req('POST', '/metrics');
    assert.equal(post.status, 405);
  });
});

describe('job counters', () => {
  test('N submits count N enqueued in their queue, batches and singles alike', async () => {
    const q = uniqueQueue('enq');
    for (let i = 0; i < 3; i++) await api.submitOk(q);
    const b = await api.batch(q, [{ payload: 1 }, { payload: 2 }]);
    assert.equal(b.status, 202, b.text);
    // An idempotent replay is not a new job.
    await api.submitOk(q, { payload: 'k', idempotency_key: 'k' });
    await api.submitOk(q, { payload: 'k', idempotency_key: 'k' });
    assert.equal(await metric('errand_jobs_enqueued_total', { queue: q }), 6);
    const snap = await scrape();
    assert.equal(valueOf(snap, 'errand_jobs', { queue: q, state: 'queued' }), 6);
    assert.equal(valueOf(snap, 'errand_jobs', { queue: q, state: 'running' }), 0);
    assert.ok(valueOf(snap, 'errand_oldest_queued_age_seconds', { queue: q }) >= 0);
  });

  test('a lease, an ack, a retried fail and a terminal fail move their counters', async () => {
    const q = uniqueQueue('life');
    const a = await api.submitAndLease(q);
    await api.ackOk(a.job.id, a.leased.lease);
    const b = await api.submitAndLease(q, { payload: 2, backoff: FAST_BACKOFF });
    const retried = await api.fail(b.job.id, b.leased.lease);
    assert.equal(retried.status, 200, retried.text);
    assert.equal(retried.body.state, 'scheduled');
    let snap = await scrape();
    assert.equal(valueOf(snap, 'errand_jobs_leased_total', { queue: q }), 2);
    assert.equal(valueOf(snap, 'errand_jobs_succeeded_total', { queue: q }), 1);
    assert.equal(valueOf(snap, 'errand_job_attempts_failed_total', { queue: q }), 1);
    assert.equal(valueOf(snap, 'errand_jobs_failed_total', { queue: q }), 0);

    const again = await api.leaseOne(q);
    const dead = await api.fail(b.job.id, again.lease, { retry: false });
    assert.equal(dead.body.state, 'failed');
    snap = await scrape();
    assert.equal(valueOf(snap, 'errand_job_attempts_failed_total', { queue: q }), 2);
    assert.equal(valueOf(snap, 'errand_jobs_failed_total', { queue: q }), 1);
    assert.equal(valueOf(snap, 'errand_jobs', { queue: q, state: 'failed' }), 1);
    assert.equal(valueOf(snap, 'errand_jobs', { queue: q, state: 'succeeded' }), 1);
  });

  test('cancel, expiry and a lease that runs out are counted', async () => {
    const q = uniqueQueue('misc');
    const c = await api.submitOk(q, { payload: 1, delay_ms: 60_000 });
    assert.equal((await api.cancel(c.id)).status, 200);
    await api.submitOk(q, { payload: 2, delay_ms: 60_000, ttl_ms: 50 });
    await api.submitOk(q, { payload: 3, backoff: FAST_BACKOFF });
    await api.leaseOne(q, { lease_ms: 50 });
    await waitFor(async () => (await metric('errand_lease_expiries_total', { queue: q })) === 1,
                  { message: 'the lease expiry to be counted' });
    await waitFor(async () => (await metric('errand_jobs_expired_total', { queue: q })) === 1,
                  { message: 'the expiry to be counted' });
    const snap = await scrape();
    assert.equal(valueOf(snap, 'errand_jobs_cancelled_total', { queue: q }), 1);
    assert.equal(valueOf(snap, 'errand_job_attempts_failed_total', { queue: q }), 1);
  });
});

describe('histograms', () => {
  test('buckets are cumulative, end with +Inf, and _count is the number of observations', async () => {
    const q = uniqueQueue('hist');
    const n = 4;
    for (let i = 0; i < n; i++) {
      const { job, leased } = await api.submitAndLease(q, { payload: i });
      await api.ackOk(job.id, leased.lease);
    }
    const snap = await scrape();
    for (const name of ['errand_queue_wait_seconds', 'errand_run_seconds',
                        'errand_end_to_end_seconds']) {
      const buckets = bucketsOf(snap, name, { queue: q });
      assert.ok(buckets.length >= 2, `${name} has buckets`);
      assert.equal(buckets.at(-1).le, '+Inf', `${name} ends with +Inf`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} buckets are cumulative`);
        if (i < buckets.length - 1) {
          assert.ok(Number(buckets[i].le) > Number(buckets[i - 1].le), `${name} le increases`);
        }
      }
      assert.equal(buckets.at(-1).value, n, `${name}: ${n} observations`);
      assert.equal(valueOf(snap, `${name}_count`, { queue: q }), n);
      const sum = valueOf(snap, `${name}_sum`, { queue: q });
      assert.ok(sum >= 0 && sum < 60, `${name}_sum ${sum}`);
    }
    for (const name of ['errand_fsync_seconds', 'errand_commit_batch_size']) {
      const buckets = bucketsOf(snap, name, {});
      assert.equal(buckets.at(-1).le, '+Inf');
      assert.ok(buckets.at(-1).value >= 4 * n, `${name} counts every commit`);
      assert.equal(valueOf(snap, `${name}_count`), buckets.at(-1).value);
    }
  });
});

describe('waits, streams and connections', () => {
  test('a sync submit answered in time and one that fell back to 202', async () => {
    const q = uniqueQueue('sync');
    const slow = await api.submit(q, { payload: 'slow' }, { wait: 0.2 });
    assert.equal(slow.status, 202);
    const first = await api.leaseOne(q);
    await api.ackOk(first.id, first.lease, 'late');
    // A worker, already waiting, finishes the next job while its submitter waits.
    const worker = (async () => {
      const j = (await api.leaseJobs([q], { wait: 10 }))[0];
      await api.ackOk(j.id, j.lease, 'ok');
    })();
    await waitFor(async () => (await metric('errand_open_waits')) >= 1,
                  { message: 'the worker to wait' });
    const fast = await api.submit(q, { payload: 'fast' }, { wait: 10 });
    await worker;
    assert.equal(fast.status, 200, fast.text);
    const snap = await scrape();
    assert.equal(valueOf(snap, 'errand_sync_waits_total', { queue: q, outcome: 'in_time' }), 1);
    assert.equal(valueOf(snap, 'errand_sync_waits_total', { queue: q, outcome: 'fell_back' }), 1);
  });

  test('open waits, SSE streams and connections are gauged while open', async () => {
    const q = uniqueQueue('gauge');
    const base = await scrape();
    const waits0 = valueOf(base, 'errand_open_waits');
    const streams0 = valueOf(base, 'errand_sse_streams');
    const poll = api.leaseJobs([q], { wait: 10 });
    await waitFor(async () => (await metric('errand_open_waits')) === waits0 + 1,
                  { message: 'the long poll to count as an open wait' });
    const job = await api.submitOk(q);
    const jobs = await poll;
    assert.equal(jobs.length, 1);
    await waitFor(async () => (await metric('errand_open_waits')) === waits0,
                  { message: 'the long poll to end' });

    const sse = await openSse(`${srv.url}/v1/jobs/${job.id}/events`);
    await sse.next();
    const during = await scrape();
    assert.equal(valueOf(during, 'errand_sse_streams'), streams0 + 1);
    assert.ok(valueOf(during, 'errand_connections') >= 2, 'the stream and the scrape are open');
    sse.close();
    await waitFor(async () => (await metric('errand_sse_streams')) === streams0,
                  { message: 'the closed stream to be forgotten' });
  });
});
