// SPEC §2.4 "Bad input gets a clear error and changes nothing" and the limits
// of §5: every error is application/problem+json with type, title, status and
// detail, and after every bad request the server's queues are as they were.
//
// Decisions where SPEC is silent:
// - A header section over 16 KiB answers 431 (400 accepted).
// - A 405 carries an Allow header (RFC 9110 §15.5.6).
// - Validation comes before lease-token checks: a wrongly typed ack, fail or
//   heartbeat with a valid token is 400.
// - `queues: []` in a lease request is 400.
// - JSON depth counts the whole request body (the outermost value is depth 1).
// - As docs/api.md records: text/plain and application/x-www-form-urlencoded
//   bodies are read as JSON (so `curl -d` works); other non-JSON types are 415;
//   an unknown field is 400.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, assertProblem, rawExchange, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const MiB = 1024 * 1024;

let srv;
let api;
let sentinel; // a queue with one queued and one running job
let running;  // {job, leased} of the running job

/** Everything observable about the queues, minus what changes with time. */
async function snapshot() {
  const res = await api.req('GET', '/v1/queues');
  assert.equal(res.status, 200);
  return res.body.queues
    .map(({ oldest_queued_ms, ...rest }) => rest)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Runs the bad requests of `fn` and checks that the queues did not change. */
async function changesNothing(fn) {
  const before = await snapshot();
  await fn();
  assert.deepEqual(await snapshot(), before, 'a bad request changed the queues');
  const doc = await api.job(running.job.id);
  assert.equal(doc.state, 'running');
  assert.equal(doc.progress, null);
  assert.equal(doc.attempt, 1);
}

before(async () => {
  srv = await startServer();
  api = new Api(srv);
  sentinel = uniqueQueue('sentinel');
  running = await api.submitAndLease(sentinel);
  await api.submitOk(sentinel, { payload: 'queued' });
});
after(() => srv?.close());

const submitPath = () => `/v1/queues/${sentinel}/jobs`;

describe('malformed and mistyped bodies are 400', () => {
  test('malformed JSON', async () => {
    await changesNothing(async () => {
      for (const body of ['{"payload":', '{payload:1}', '', 'nul', '{"payload":1} x', '{"payload":1,}']) {
        const res = await api.req('POST', submitPath(), { body, headers: { 'content-type': 'application/json' } });
        assertProblem(res, 400, JSON.stringify(body));
      }
    });
  });

  test('submit with missing payload or wrongly typed fields', async () => {
    const bad = [
      [], 'x', 1, null, {}, { priority: 1 },
      { payload: 1, priority: 'high' }, { payload: 1, priority: 1.5 }, { payload: 1, priority: true },
      { payload: 1, max_attempts: '3' }, { payload: 1, delay_ms: '10' }, { payload: 1, run_at: 'not a time' },
      { payload: 1, run_at: 12345 }, { payload: 1, ttl_ms: 'x' }, { payload: 1, deadline: 'tomorrow' },
      { payload: 1, tags: 'a' }, { payload: 1, tags: [1] }, { payload: 1, tags: { a: 1 } },
      { payload: 1, idempotency_key: 5 }, { payload: 1, backoff: 'fast' },
      { payload: 1, backoff: { initial_ms: 'x' } }, { payload: 1, lease_ms: 'x' },
    ];
    await changesNothing(async () => {
      for (const json of bad) {
        assertProblem(await api.req('POST', submitPath(), { json }), 400, JSON.stringify(json));
      }
    });
  });

  test('an unknown field is 400 (a typo must not be silently ignored)', async () => {
    await changesNothing(async () => {
      const res = await api.req('POST', submitPath(), { json: { payload: 1, max_attempt: 3 } });
      assert.match(assertProblem(res, 400).detail, /max_attempt/);
    });
  });

  test('lease requests with wrong types', async () => {
    const bad = [
      {}, { queues: 'a' }, { queues: [1] }, { queues: [] }, { queues: ['-x'] },
      { queues: [sentinel], max: '2' }, { queues: [sentinel], lease_ms: 'x' }, { queues: [sentinel], worker: 5 },
    ];
    await changesNothing(async () => {
      for (const json of bad) {
        assertProblem(await api.req('POST', '/v1/leases', { json }), 400, JSON.stringify(json));
      }
    });
  });

  test('ack, fail, heartbeat and acks with wrong types', async () => {
    const { id } = running.job;
    const tok = running.leased.lease;
    const bad = [
      [`/v1/jobs/${id}/ack`, {}], [`/v1/jobs/${id}/ack`, { lease: 5, result: 1 }],
      [`/v1/jobs/${id}/fail`, { lease: tok, error: 'str' }], [`/v1/jobs/${id}/fail`, { lease: tok, retry: 'yes' }],
      [`/v1/jobs/${id}/fail`, { lease: tok, retry_in_ms: 'x' }],
      [`/v1/jobs/${id}/heartbeat`, { lease: tok, lease_ms: 'x' }],
      [`/v1/jobs/${id}/heartbeat`, { lease: tok, progress: 'x' }],
      ['/v1/acks', {}], ['/v1/acks', { acks: 'x' }], ['/v1/acks', { acks: [{ id, lease: 7 }] }],
    ];
    await changesNothing(async () => {
      for (const [path, json] of bad) {
        assertProblem(await api.req('POST', path, { json }), 400, `${path} ${JSON.stringify(json)}`);
      }
    });
  });
});

describe('queue names', () => {
  test('names outside [A-Za-z0-9][A-Za-z0-9._-]{0,127} are 400', async () => {
    const names = ['-x', '.hidden', '_x', 'a'.repeat(129), 'a%2Fb', 'a%20b', 'caf%C3%A9', 'a%3Ab'];
    await changesNothing(async () => {
      for (const name of names) {
        const res = await api.req('POST', `/v1/queues/${name}/jobs`, { json: { payload: 1 } });
        assertProblem(res, 400, `submit to ${name}`);
        assertProblem(await api.req('POST', `/v1/queues/${name}/batch`, { json: { jobs: [{ payload: 1 }] } }),
                      400, `batch to ${name}`);
      }
      assertProblem(await api.req('POST', '/v1/leases', { json: { queues: [sentinel, 'a b'] } }), 400);
    });
  });
});

describe('routing', () => {
  test('an unknown path is 404', async () => {
    for (const path of ['/v1/nope', '/nope', `/v1/queues/${sentinel}/nope`, `/v1/jobs/${running.job.id}/nope`,
                        '/v2/jobs']) {
      assertProblem(await api.req('GET', path), 404, path);
    }
  });

  test('a wrong method is 405 with Allow', async () => {
    await changesNothing(async () => {
      for (const [method, path] of [
        ['DELETE', submitPath()], ['GET', '/v1/leases'], ['PUT', `/v1/jobs/${running.job.id}`],
        ['GET', '/v1/acks'], ['GET', `/v1/queues/${sentinel}/pause`], ['POST', '/healthz'],
        ['GET', `/v1/jobs/${running.job.id}/ack`], ['PATCH', `/v1/queues/${sentinel}`],
      ]) {
        const res = await api.req(method, path);
        assertProblem(res, 405, `${method} ${path}`);
        assert.ok(res.headers.get('allow'), `${method} ${path}: Allow header`);
      }
    });
  });
});

describe('content type', () => {
  test('a non-JSON Content-Type on a POST with a body is 415', async () => {
    await changesNothing(async () => {
      for (const ct of ['application/xml', 'multipart/form-data; boundary=x', 'text/html', 'image/png']) {
        const body = JSON.stringify({ payload: 1 });
        assertProblem(await api.req('POST', submitPath(), { body, headers: { 'content-type': ct } }), 415, ct);
        const lease = JSON.stringify({ queues: [sentinel] });
        assertProblem(await api.req('POST', '/v1/leases', { body: lease, headers: { 'content-type': ct } }), 415, ct);
      }
    });
  });

  test('JSON content types are accepted, with or without parameters', async () => {
    const q = uniqueQueue('ctype');
    // docs/api.md: text/plain and form-urlencoded are read as JSON so that `curl -d` works.
    for (const ct of ['application/json; charset=utf-8', 'application/vnd.api+json', 'text/plain',
                      'application/x-www-form-urlencoded']) {
      const res = await api.req('POST', `/v1/queues/${q}/jobs`, {
        body: JSON.stringify({ payload: 'é' }), headers: { 'content-type': ct },
      });
      assert.equal(res.status, 202, `${ct}: ${res.text}`);
      assert.equal(res.body.payload, 'é');
    }
  });
});

describe('size limits', () => {
  test('a payload over 1 MiB is 413; just under is accepted', async () => {
    await changesNothing(async () => {
      const res = await api.req('POST', submitPath(), { json: { payload: 'x'.repeat(MiB + 1) } });
      assertProblem(res, 413);
    });
    const q = uniqueQueue('big-ok');
    const ok = await api.submit(q, { payload: 'x'.repeat(MiB - 64) });
    assert.equal(ok.status, 202);
    assert.equal((await api.job(ok.body.id)).payload.length, MiB - 64);
  });

  test('a body over 2 MiB is 413', async () => {
    await changesNothing(async () => {
      const body = `{"payload":1${' '.repeat(2 * MiB + 16)}}`;
      const res = await api.req('POST', submitPath(), { body, headers: { 'content-type': 'application/json' } });
      assertProblem(res, 413);
    });
  });

  test('JSON deeper than 64 is 400; depth 64 is accepted', async () => {
    // The body object is depth 1, so a payload of n nested arrays makes depth n + 1.
    const body = (depth) => `{"payload":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const q = uniqueQueue('depth');
    const ok = await api.req('POST', `/v1/queues/${q}/jobs`, {
      body: body(64), headers: { 'content-type': 'application/json' },
    });
    assert.equal(ok.status, 202, ok.text);
    await changesNothing(async () => {
      for (const depth of [65, 1000]) {
        const res = await api.req('POST', submitPath(),
                                  { body: body(depth), headers: { 'content-type': 'application/json' } });
        assertProblem(res, 400, `depth ${depth}`);
      }
    });
  });

  test('a header section over 16 KiB is 431', async () => {
    await changesNothing(async () => {
      const req = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`;
      const res = await rawExchange(srv.port, req);
      assert.ok([431, 400].includes(res.status), `status ${res.status}: ${res.text.slice(0, 200)}`);
    });
    const fine = await rawExchange(srv.port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${'a'.repeat(8 * 1024)}\r\n\r\n`);
    assert.equal(fine.status, 200, 'an 8 KiB header is fine');
  });
});

describe('framing', () => {
  const head = (extra) => `POST ${submitPath()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`;
  const json = '{"payload":1}';

  test('Content-Length with Transfer-Encoding is 400 and the connection is closed', async () => {
    await changesNothing(async () => {
      const chunked = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
      const req = head(`Content-Length: ${json.length}\r\nTransfer-Encoding: chunked\r\n`) + chunked;
      const res = await rawExchange(srv.port, req, { timeoutMs: 5000 });
      assert.equal(res.status, 400, res.text.slice(0, 300));
      assert.ok(res.closed, 'the server closed the connection');
      assert.match(res.text, /application\/problem\+json/i);
    });
  });

  test('conflicting Content-Length headers are 400 and the connection is closed', async () => {
    await changesNothing(async () => {
      const req = head(`Content-Length: ${json.length}\r\nContent-Length: ${json.length + 1}\r\n`) + `${json} `;
      const res = await rawExchange(srv.port, req, { timeoutMs: 5000 });
      assert.equal(res.status, 400, res.text.slice(0, 300));
      assert.ok(res.closed, 'the server closed the connection');
    });
  });

  test('a chunked body alone is accepted', async () => {
    const q = uniqueQueue('chunked');
    const chunked = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
    const req = `POST /v1/queues/${q}/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
                `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`;
    const res = await rawExchange(srv.port, req);
    assert.equal(res.status, 202, res.text.slice(0, 300));
    assert.equal((await api.queue(q)).counts.queued, 1);
  });

  test('the server still answers after all of the above', async () => {
    assert.equal((await api.req('GET', '/healthz')).status, 200);
    assert.equal((await api.req('GET', '/readyz')).status, 200);
  });
});
