// Hostile HTTP (docs/reliability.md "Hostile HTTP"): request smuggling
// attempts and malformed framing on raw sockets, slow clients, and JSON
// bombs. Each is refused with a problem+json (or cut at a deadline), quickly,
// storing nothing, while well-behaved clients keep being served.
//
// Decisions recorded in docs/reliability.md:
// - Strict framing: repeated Content-Length is 400 even when equal (RFC 9110
//   allows it; nothing legitimate sends it), and so is a Content-Length list.
// - A chunked body with a bare LF is 400 at once, not a wait for the body
//   timeout; chunk extensions are capped at 4 KiB per request.
// - HTTP/2 (and any HTTP/d.d but 1.0 and 1.1) is 505; Transfer-Encoding in
//   HTTP/1.0 is 400 (RFC 9112 6.1).
// - JSON: duplicate keys are 400 at any depth (payloads too: keeping one value
//   would silently drop the other); a number beyond a double is 400 "number
//   out of range" (it would be stored as an infinity JSON cannot express).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Api, assertProblem, pool, rawExchange, uniqueQueue, waitFor } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const MiB = 1024 * 1024;
const HEADER_TIMEOUT_MS = 3000;
const BODY_TIMEOUT_MS = 2000;
const WRITE_TIMEOUT_MS = 2000;
// Generous bounds: these tests are about not hanging, also under sanitizers
// (under ThreadSanitizer the parse of a 2 MiB body of 238 000 keys takes ~5 s;
// a quadratic one would take minutes).
const PROMPT_MS = 2000;
const QUICK_MS = 15_000;

let srv;
let api;

before(async () => {
  srv = await startServer({
    args: ['--header-timeout-ms', String(HEADER_TIMEOUT_MS), '--body-timeout-ms', String(BODY_TIMEOUT_MS),
           '--write-timeout-ms', String(WRITE_TIMEOUT_MS)],
  });
  api = new Api(srv);
});
after(() => srv?.close());

/** The problem+json of a raw answer, checked against `status`. */
function rawProblem(res, status, what) {
  assert.equal(res.status, status, `${what}: ${res.text.slice(0, 300)}`);
  const [head, body] = res.text.split('\r\n\r\n');
  assert.match(head, /content-type: application\/problem\+json/i, `${what}: ${head}`);
  assert.match(head, /connection: close/i, `${what}: ${head}`);
  const problem = JSON.parse(body);
  assert.equal(problem.status, status, what);
  assert.equal(typeof problem.detail, 'string', what);
  return problem;
}

/** Open HTTP connections, as the server counts them. */
async function openConnections() {
  const res = await api.req('GET', '/metrics');
  assert.equal(res.status, 200);
  return Number(/^errand_connections (\d+)$/m.exec(res.text)[1]);
}

async function assertQueueNeverCreated(queue) {
  const res = await api.req('GET', `/v1/queues/${queue}`);
  assert.equal(res.status, 404, `queue ${queue} exists: ${res.text}`);
}

describe('malformed framing is refused and the connection closed', () => {
  const queue = uniqueQueue('framing');
  const body = '{"payload":1}';
  const chunked = `d\r\n${body}\r\n0\r\n\r\n`;
  const post = (fields, version = 'HTTP/1.1') =>
    `POST /v1/queues/${queue}/jobs ${version}\r\nHost: x\r\nContent-Type: application/json\r\n${fields}\r\n`;
  const te = (coding) => post(`Transfer-Encoding: ${coding}\r\n`);
  const cases = [
    ['Content-Length and Transfer-Encoding', post('Content-Length: 13\r\nTransfer-Encoding: chunked\r\n') + chunked, 400],
    ['Transfer-Encoding then Content-Length', post('Transfer-Encoding: chunked\r\nContent-Length: 13\r\n') + chunked, 400],
    ['two different Content-Lengths', post('Content-Length: 13\r\nContent-Length: 14\r\n') + `${body} `, 400],
    ['the same Content-Length twice', post('Content-Length: 13\r\nContent-Length: 13\r\n') + body, 400],
    ['a Content-Length list "13,13"', post('Content-Length: 13,13\r\n') + body, 400],
    ['a negative Content-Length', post('Content-Length: -13\r\n') + body, 400],
    ['a Content-Length with a letter', post('Content-Length: 1a\r\n') + body, 400],
    ['a Content-Length with a sign', post('Content-Length: +13\r\n') + body, 400],
    ['a hexadecimal Content-Length', post('Content-Length: 0xd\r\n') + body, 400],
    ['a Content-Length beyond 64 bits', post('Content-Length: 99999999999999999999\r\n') + body, 400],
    ['Transfer-Encoding: gzip', te('gzip') + body, 400],
    ['Transfer-Encoding: identity', te('identity') + body, 400],
    ['Transfer-Encoding: chunked, chunked', te('chunked, chunked') + chunked, 400],
    ['Transfer-Encoding: chunked twice', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n') + chunked, 400],
    ['Transfer-Encoding: chunked;q=1', te('chunked;q=1') + chunked, 400],
    ['Transfer-Encoding: gzip, chunked (an unknown coding)', te('gzip, chunked') + chunked, 501],
    ['a chunk size beyond 64 bits', te('chunked') + `ffffffffffffffffff\r\n${body}\r\n0\r\n\r\n`, 400],
    ['a chunk size of 2^64-1', te('chunked') + `ffffffffffffffff\r\n${body}\r\n0\r\n\r\n`, 413],
    ['a negative chunk size', te('chunked') + `-d\r\n${body}\r\n0\r\n\r\n`, 400],
    ['chunk extensions over 4 KiB', te('chunked') + `d${';a=b'.repeat(2000)}\r\n${body}\r\n0\r\n\r\n`, 400],
    ['a malformed chunk extension', te('chunked') + `d;;;\r\n${body}\r\n0\r\n\r\n`, 400],
    ['no CRLF after chunk data', te('chunked') + `d\r\n${body}0\r\n\r\n`, 400],
    ['bare LF in chunk lines', te('chunked') + `d\n${body}\n0\n\n`, 400],
    ['bare LF line endings', `POST /v1/queues/${queue}/jobs HTTP/1.1\nHost: x\nContent-Length: 13\n\n${body}`, 400],
    ['a bare LF in one line', `POST /v1/queues/${queue}/jobs HTTP/1.1\r\nHost: x\nContent-Length: 13\r\n\r\n${body}`, 400],
    ['obs-fold (a continued header)', post('X-A: 1\r\n  folded\r\nContent-Length: 13\r\n') + body, 400],
    ['a space before the colon', post('Content-Length : 13\r\n') + body, 400],
    ['a space in a header name', post('X A: 1\r\nContent-Length: 13\r\n') + body, 400],
    ['NUL in a header value', post('X-A: a\0b\r\nContent-Length: 13\r\n') + body, 400],
    ['NUL in a header name', post('X\0A: b\r\nContent-Length: 13\r\n') + body, 400],
    ['CR alone in a header value', post('X-A: a\rb\r\nContent-Length: 13\r\n') + body, 400],
    ['a control character in a header value', post('X-A: a\x01b\r\nContent-Length: 13\r\n') + body, 400],
    ['DEL in a header value', post('X-A: a\x7fb\r\nContent-Length: 13\r\n') + body, 400],
    ['a garbage request line', '\x16\x03\x01\x02\x00 hello\r\n\r\n', 400],
    ['a request line without a version', `POST /v1/queues/${queue}/jobs\r\nHost: x\r\n\r\n`, 400],
    ['a space in the target', `POST /v1/queues/${queue}/jobs x HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['Transfer-Encoding in HTTP/1.0', post('Transfer-Encoding: chunked\r\n', 'HTTP/1.0') + chunked, 400],
    ['no Host in HTTP/1.1', `POST /v1/queues/${queue}/jobs HTTP/1.1\r\nContent-Length: 13\r\n\r\n${body}`, 400],
    ['two Hosts', post('Host: y\r\nContent-Length: 13\r\n') + body, 400],
    ['the HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
    ['an HTTP/2.0 request line', `POST /v1/queues/${queue}/jobs HTTP/2.0\r\nHost: x\r\nContent-Length: 13\r\n\r\n${body}`, 505],
    ['an HTTP/3.0 request line', `GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n`, 505],
  ];

  for (const [what, raw, status] of cases) {
    test(`${what}: ${status}`, async () => {
      const res = await rawExchange(srv.port, raw, { timeoutMs: QUICK_MS });
      rawProblem(res, status, what);
      assert.ok(res.closed, `${what}: the server closed the connection`);
    });
  }

  test('HTTP/1.0 itself is served (and the connection closed after the answer)', async () => {
    const res = await rawExchange(srv.port, 'GET /healthz HTTP/1.0\r\n\r\n', { timeoutMs: QUICK_MS });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.closed);
  });

  test('a declared 10 GB body is 413 before any byte of it is sent', async () => {
    const res = await rawExchange(srv.port, post('Content-Length: 10737418240\r\n'), { timeoutMs: QUICK_MS });
    rawProblem(res, 413, '10 GB');
    assert.ok(res.closed);
  });

  test('none of it stored anything, and the server still answers', async () => {
    await assertQueueNeverCreated(queue);
    assert.equal((await api.req('GET', '/healthz')).status, 200);
  });
});

/**
 * Connects and sends `text` one byte every `everyMs`; resolves when the
 * server closes the connection, to {ms (since connect), answer}.
 */
function dribble(text, everyMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = net.connect(srv.port, '127.0.0.1');
    let sent = 0;
    let answer = '';
    const send = () => {
      if (sent < text.length && !sock.destroyed) sock.write(text[sent++]);
    };
    sock.on('connect', send);
    const timer = setInterval(send, everyMs);
    const giveUp = setTimeout(() => sock.destroy(), 60_000);
    sock.on('data', (d) => (answer += d.toString('latin1')));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ ms: Date.now() - started, answer });
    });
  });
}

describe('slow clients', () => {
  test('300+ clients dribbling their headers are cut at the header timeout; others are served promptly', async (t) => {
    const slowQueue = uniqueQueue('slow');
    const dribblers = 320;
    const head = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
    let open = dribblers;
    const cut = Array.from({ length: dribblers }, () => dribble(head, 500).finally(() => (open -= 1)));
    await waitFor(async () => (await openConnections()) > dribblers, { timeoutMs: 10_000, message: 'the dribblers to connect' });
    const times = [];
    // Normal traffic while the dribblers hold their connections.
    while (open > 0) {
      const submit = await api.submit(slowQueue, { payload: times.length }, { timeoutMs: 20_000 });
      assert.equal(submit.status, 202, submit.text);
      const read = await api.req('GET', `/v1/jobs/${submit.body.id}`, { timeoutMs: 20_000 });
      assert.equal(read.status, 200, read.text);
      times.push(submit.ms, read.ms);
    }
    const results = await Promise.all(cut);
    assert.ok(times.length >= 10, `only ${times.length} requests were made meanwhile`);
    const slowest = Math.max(...times);
    assert.ok(slowest < PROMPT_MS, `a normal request took ${Math.round(slowest)} ms (of ${times.length})`);
    for (const { ms, answer } of results) {
      assert.equal(answer, '', 'a dribbler got an answer');
      assert.ok(ms >= HEADER_TIMEOUT_MS - 300, `a dribbler was cut after ${ms} ms, before the timeout`);
      assert.ok(ms < HEADER_TIMEOUT_MS + 15_000, `a dribbler was cut only after ${ms} ms`);
    }
    assert.equal((await api.queue(slowQueue)).counts.queued, times.length / 2);
    const cutAfter = results.map((r) => r.ms);
    t.diagnostic(`${times.length} normal requests meanwhile, the slowest ${Math.round(slowest)} ms; ` +
                 `${dribblers} dribblers cut after ${Math.min(...cutAfter)}..${Math.max(...cutAfter)} ms`);
  });

  test('a client sending its body slowly is cut at the body timeout, storing nothing', async () => {
    const queue = uniqueQueue('slow-body');
    const head = `POST /v1/queues/${queue}/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
                 'Content-Length: 100\r\n\r\n';
    const res = await new Promise((resolve) => {
      const started = Date.now();
      const sock = net.connect(srv.port, '127.0.0.1', () => sock.write(head));
      let answer = '';
      const timer = setInterval(() => !sock.destroyed && sock.write(' '), 500);
      sock.on('data', (d) => (answer += d));
      sock.on('error', () => {});
      sock.on('close', () => {
        clearInterval(timer);
        resolve({ ms: Date.now() - started, answer });
      });
    });
    assert.doesNotMatch(res.answer, /^HTTP\/1\.1 2/, 'the slow body was accepted');
    assert.ok(res.ms >= BODY_TIMEOUT_MS - 300 && res.ms < BODY_TIMEOUT_MS + 15_000, `cut after ${res.ms} ms`);
    await assertQueueNeverCreated(queue);
  });

  test('a client that never reads its responses is cut at the write timeout', async () => {
    const queue = uniqueQueue('no-reader');
    const job = await api.submitOk(queue, { payload: 'x'.repeat(900_000) });
    const before = await openConnections();
    // 40 pipelined reads of a 900 KB job: far more than the socket buffers hold.
    const sock = net.connect(srv.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.pause();
    sock.write(`GET /v1/jobs/${job.id} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(40));
    await waitFor(async () => (await openConnections()) > before, { message: 'the reader to be counted' });
    await waitFor(async () => (await openConnections()) <= before,
                  { timeoutMs: WRITE_TIMEOUT_MS + 20_000, intervalMs: 200, message: 'the server to drop it' });
    sock.destroy();
    assert.equal((await api.req('GET', '/healthz')).status, 200);
  });
});

describe('JSON bombs are 400 quickly and store nothing', () => {
  const queue = uniqueQueue('bomb');
  const submit = (body) => api.req('POST', `/v1/queues/${queue}/jobs`, {
    body, headers: { 'content-type': 'application/json' }, timeoutMs: 30_000,
  });
  /** Sends `body`; asserts the problem `status` within QUICK_MS and that its detail matches `detail`. */
  async function refused(what, body, status, detail) {
    const res = await submit(body);
    const problem = assertProblem(res, status, what);
    if (detail) assert.match(problem.detail, detail, what);
    assert.ok(res.ms < QUICK_MS, `${what}: answered after ${Math.round(res.ms)} ms`);
    return problem;
  }
  const nested = (depth) => `{"payload":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

  test('depth 65 is 400; depth 64 (the outermost object is depth 1) is accepted', async () => {
    await refused('depth 65', nested(65), 400, /deeper than 64/);
    const ok = await api.req('POST', `/v1/queues/${uniqueQueue('depth-ok')}/jobs`, {
      body: nested(64), headers: { 'content-type': 'application/json' },
    });
    assert.equal(ok.status, 202, ok.text);
  });

  test('100 000 open brackets', async () => {
    await refused('[ x 100 000', `{"payload":${'['.repeat(100_000)}`, 400, /deeper than 64/);
    await refused('{"a": x 100 000', `{"payload":${'{"a":'.repeat(100_000)}`, 400, /deeper than 64/);
  });

  test('as many distinct keys as fit in the 2 MiB body: over the 1 MiB payload limit, 413', async () => {
    const keys = [];
    for (let i = 0, size = 0; size < 2 * MiB - 64; i += 1) {
      keys.push(`"${i.toString(36)}":0`);
      size += keys[keys.length - 1].length + 1;
    }
    await refused(`${keys.length} keys`, `{"payload":{${keys.join(',')}}}`, 413);
  });

  test('an object of one key repeated 300 000 times: 400 duplicate key', async () => {
    await refused('300 000 duplicates', `{"payload":{${'"a":0,'.repeat(300_000)}"b":0}}`, 400,
                  /duplicate key "a"/);
  });

  test('a payload of 60 000 distinct keys under the payload limit is accepted, quickly', async () => {
    const keys = Array.from({ length: 60_000 }, (_, i) => `"k${i}":${i}`);
    const res = await api.req('POST', `/v1/queues/${uniqueQueue('many-keys')}/jobs`, {
      body: `{"payload":{${keys.join(',')}}}`, headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 202, res.text.slice(0, 300));
    assert.ok(res.ms < QUICK_MS, `answered after ${Math.round(res.ms)} ms`);
  });

  test('numbers beyond the range of a double: 400 number out of range', async () => {
    for (const n of ['1e999999', '-1e400', '[1e309]']) {
      await refused(n, `{"payload":${n}}`, 400, /number out of range/);
    }
  });

  test('invalid UTF-8 and lone surrogate escapes', async () => {
    for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([Buffer.from('{"payload":"'), Buffer.from(bytes), Buffer.from('"}')]);
      await refused(`bytes ${bytes}`, body, 400, /not valid UTF-8/);
    }
    for (const s of ['\\ud800', '\\udc00', '\\ud800x', '\\ud800\\u0041']) {
      await refused(s, `{"payload":"${s}"}`, 400);
    }
  });

  test('duplicate keys: in the request object, and in the payload at any depth', async () => {
    await refused('payload twice', '{"payload":1,"payload":2}', 400, /duplicate key "payload"/);
    await refused('priority twice', '{"payload":1,"priority":1,"priority":9}', 400, /duplicate key "priority"/);
    await refused('nested', '{"payload":{"a":[{"k":1,"k":2}]}}', 400, /duplicate key "k"/);
    await refused('escaped twin', '{"payload":{"ab":1,"\\u0061b":2}}', 400, /duplicate key "ab"/);
  });

  test('several bombs at once do not slow each other down past the bound', async () => {
    const bombs = [nested(100_000), '{"payload":1e999999}', `{"payload":{${'"a":0,'.repeat(100_000)}"b":0}}`];
    await pool(Array.from({ length: 12 }, (_, i) => bombs[i % bombs.length]), 12, async (body) => {
      const res = await submit(body);
      assert.equal(res.status, 400, res.text);
      assert.ok(res.ms < QUICK_MS, `answered after ${Math.round(res.ms)} ms`);
    });
  });

  test('none of them stored anything', async () => {
    await assertQueueNeverCreated(queue);
  });
});
