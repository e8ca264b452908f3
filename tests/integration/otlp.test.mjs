// OpenTelemetry export (docs/tracing.md) against a real server: with
// --otlp-endpoint, each job's timeline arrives at a small OTLP/HTTP receiver
// here as spans in the submitter's trace — the job span, a queue wait before
// each attempt, and each attempt — retried when the receiver answers 503;
// a job whose traceparent says "not sampled" is not exported, one without a
// traceparent is a trace of its own named by its id.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Api, uniqueQueue, waitFor } from './lib/http.mjs';
import { runErrand, startServer } from './lib/server.mjs';

const hex = (bytes) => randomBytes(bytes).toString('hex');

/**
 * An OTLP/HTTP receiver on 127.0.0.1:0. Every POST is recorded as {path,
 * contentType, raw, body, status}; the first `rejectFirst` answer 503.
 */
async function startReceiver({ rejectFirst = 0 } = {}) {
  const posts = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (c) => (raw += c)).on('end', () => {
      const status = posts.length < rejectFirst ? 503 : 200;
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        // recorded as null: the assertions say what was wrong
      }
      posts.push({ path: req.url, contentType: req.headers['content-type'], raw, body, status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{}' : '');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    posts,
    url: `http://127.0.0.1:${server.address().port}`,
    /** Every span of the accepted posts. */
    spans() {
      return posts.filter((p) => p.status === 200).flatMap(spansOf);
    },
    close() {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

function spansOf(post) {
  return (post.body?.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

function attr(span, key) {
  const a = span.attributes.find((x) => x.key === key);
  return a ? (a.value.stringValue ?? a.value.intValue) : undefined;
}

/** The spans of job `id` once its job span has come (it is sent last). */
function jobSpans(receiver, id) {
  return waitFor(() => {
    const spans = receiver.spans().filter((s) => attr(s, 'messaging.message.id') === id);
    return spans.some((s) => s.name.startsWith('job ')) ? spans : null;
  }, { timeoutMs: 10_000, intervalMs: 50, message: `the job span of ${id}` });
}

function assertTimes(span) {
  assert.match(span.startTimeUnixNano, /^\d+$/);
  assert.match(span.endTimeUnixNano, /^\d+$/);
  assert.ok(BigInt(span.startTimeUnixNano) <= BigInt(span.endTimeUnixNano),
            `${span.name} ends before it starts: ${JSON.stringify(span)}`);
}

let receiver;
let srv;
let api;

before(async () => {
  receiver = await startReceiver();
  srv = await startServer({ args: ['--otlp-endpoint', receiver.url] });
  api = new Api(srv);
});

after(async () => {
  await srv?.close();
  await receiver?.close();
});

test('a retried job arrives as spans in the submitter\'s trace', async () => {
  const traceId = hex(16);
  const submitterSpan = hex(8);
  const traceparent = `00-${traceId}-${submitterSpan}-01`;
  const q = uniqueQueue('otlp');
  const job = await api.submitOk(q, { payload: { n: 1 } }, { headers: { traceparent } });

  const first = await api.leaseOne(q, { worker: 'w-1' });
  assert.equal(first.traceparent, traceparent, 'the worker gets the stored traceparent unchanged');
  const failed = await api.fail(job.id, first.lease, {
    error: { message: 'boom', type: 'TestError', detail: '' }, retry: true, retry_in_ms: 50,
  });
  assert.equal(failed.status, 200, failed.text);
  const second = await api.leaseOne(q, { worker: 'w-2' });
  assert.equal(second.attempt, 2);
  await api.ackOk(job.id, second.lease, { ok: true });

  const spans = await jobSpans(receiver, job.id);
  for (const s of spans) {
    assert.equal(s.traceId, traceId, `${s.name} is in the submitter's trace`);
    assertTimes(s);
  }
  const jobSpan = spans.find((s) => s.name === `job ${q}`);
  assert.ok(jobSpan, JSON.stringify(spans.map((s) => s.name)));
  assert.equal(jobSpan.parentSpanId, submitterSpan, 'the job span is a child of the submitter\'s');
  assert.equal(jobSpan.kind, 4);
  assert.equal(jobSpan.status.code, 1);
  assert.equal(attr(jobSpan, 'errand.job.state'), 'succeeded');
  assert.equal(String(attr(jobSpan, 'errand.job.attempts')), '2');
  assert.equal(attr(jobSpan, 'messaging.destination.name'), q);

  const children = spans.filter((s) => s !== jobSpan);
  assert.equal(children.length, 4, JSON.stringify(spans.map((s) => s.name)));
  for (const c of children) {
    assert.equal(c.parentSpanId, jobSpan.spanId, `${c.name} is a child of the job span`);
    assert.ok(BigInt(c.startTimeUnixNano) >= BigInt(jobSpan.startTimeUnixNano), c.name);
    assert.ok(BigInt(c.endTimeUnixNano) <= BigInt(jobSpan.endTimeUnixNano), c.name);
  }
  assert.equal(new Set(spans.map((s) => s.spanId)).size, spans.length, 'span ids are distinct');

  const waits = children.filter((s) => s.name === 'queue wait');
  assert.equal(waits.length, 2);
  assert.deepEqual(waits.map((w) => String(attr(w, 'errand.attempt'))).sort(), ['1', '2']);

  const attempt1 = children.find((s) => s.name === 'attempt 1');
  const attempt2 = children.find((s) => s.name === 'attempt 2');
  assert.ok(attempt1 && attempt2, JSON.stringify(children.map((s) => s.name)));
  assert.equal(attempt1.kind, 5);
  assert.equal(attempt1.status.code, 2, 'the failed attempt is an error');
  assert.equal(attempt1.status.message, 'TestError');
  assert.equal(attr(attempt1, 'error.type'), 'TestError');
  assert.equal(attr(attempt1, 'errand.worker'), 'w-1');
  assert.equal(attempt2.status.code, 1);
  assert.equal(attr(attempt2, 'errand.worker'), 'w-2');
  assert.ok(BigInt(attempt1.endTimeUnixNano) <= BigInt(attempt2.startTimeUnixNano));

  for (const p of receiver.posts) {
    assert.equal(p.path, '/v1/traces');
    assert.match(p.contentType ?? '', /^application\/json/);
  }
  const resource = receiver.posts[0].body.resourceSpans[0].resource;
  assert.equal(attr(resource, 'service.name'), 'errand');

  // /metrics counts what the receiver accepted.
  await waitFor(async () => {
    const text = (await api.req('GET', '/metrics')).text;
    const exported = Number(/\nerrand_otlp_spans_exported_total (\d+)\n/.exec(text)?.[1]);
    return exported >= spans.length && /\nerrand_otlp_spans_dropped_total 0\n/.test(text);
  }, { message: 'errand_otlp_spans_exported_total to count the spans' });
});

test('a job whose traceparent says "not sampled" is not exported', async () => {
  const q = uniqueQueue('otlp-unsampled');
  const unsampled = await api.submitOk(q, { payload: {} },
                                       { headers: { traceparent: `00-${hex(16)}-${hex(8)}-00` } });
  const leased = await api.leaseOne(q);
  assert.equal(leased.id, unsampled.id);
  await api.ackOk(unsampled.id, leased.lease);

  // Spans go out in the order of the changes: once the later job's span is
  // here, the first job's would be too.
  const sampled = await api.submitOk(q, { payload: {} },
                                     { headers: { traceparent: `00-${hex(16)}-${hex(8)}-01` } });
  await api.ackOk(sampled.id, (await api.leaseOne(q)).lease);
  await jobSpans(receiver, sampled.id);
  const leaked = receiver.spans().filter((s) => attr(s, 'messaging.message.id') === unsampled.id);
  assert.deepEqual(leaked, []);
});

test('a job without traceparent is a trace of its own, named by its id', async () => {
  const q = uniqueQueue('otlp-root');
  const job = await api.submitOk(q, { payload: {} });
  const cancelled = await api.cancel(job.id);
  assert.equal(cancelled.status, 200, cancelled.text);

  const spans = await jobSpans(receiver, job.id);
  for (const s of spans) assert.equal(s.traceId, job.id.replaceAll('-', ''));
  const jobSpan = spans.find((s) => s.name === `job ${q}`);
  assert.equal(jobSpan.parentSpanId ?? '', '', 'a root span');
  assert.equal(jobSpan.status.code, 0, 'a cancellation is not an error');
  assert.equal(attr(jobSpan, 'errand.job.state'), 'cancelled');
  const wait = spans.find((s) => s.name === 'queue wait');
  assert.ok(wait, 'the wait a cancellation ended');
  assert.equal(wait.parentSpanId, jobSpan.spanId);
});

test('a batch the receiver refuses with 503 is sent again', async () => {
  const flaky = await startReceiver({ rejectFirst: 1 });
  const dir = mkdtempSync(path.join(tmpdir(), 'errand-otlp-'));
  const config = path.join(dir, 'errand.toml');
  // From the config file, and as the full traces URL (kept as it is).
  writeFileSync(config, `otlp_endpoint = "${flaky.url}/v1/traces"\n`);
  const other = await startServer({ args: ['--config', config] });
  try {
    const otherApi = new Api(other);
    const q = uniqueQueue('otlp-retry');
    const job = await otherApi.submitOk(q, { payload: {} });
    await otherApi.ackOk(job.id, (await otherApi.leaseOne(q)).lease);

    await jobSpans(flaky, job.id);
    const rejected = flaky.posts.filter((p) => p.status === 503);
    assert.equal(rejected.length, 1);
    assert.ok(flaky.posts.some((p) => p.status === 200 && p.raw === rejected[0].raw),
              'the refused body came again');
    for (const p of flaky.posts) assert.equal(p.path, '/v1/traces');
  } finally {
    await other.close();
    await flaky.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an --otlp-endpoint that is not an http(s) URL stops the server with exit code 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'errand-otlp-'));
  try {
    for (const endpoint of ['ftp://x', 'localhost:4318']) {
      const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir',
                                   path.join(dir, 'data'), '--otlp-endpoint', endpoint]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /^errand: otlp_endpoint must be an http:\/\/ or https:\/\/ URL/m);
    }
    const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir',
                                 path.join(dir, 'data')], { env: { ERRAND_OTLP_ENDPOINT: 'ftp://x' } });
    assert.equal(res.code, 2, res.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
