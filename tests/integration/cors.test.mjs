// CORS (`errand serve --cors-origin`): a page on another origin may call the
// facade — preflights are answered, and answers carry the headers a browser
// needs to show them, including Location and Retry-After. Off by default.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, assertProblem, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const SHOP = 'http://shop.example';

function preflight(api, origin, method = 'POST') {
  return api.req('OPTIONS', '/v1/queues/orders/jobs', {
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': 'content-type, prefer',
    },
  });
}

describe('with --cors-origin', () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer({ args: ['--cors-origin', SHOP, '--cors-origin', 'http://admin.example'] });
    api = new Api(srv);
  });
  after(() => srv?.close());

  test('a preflight from an allowed origin gets 204 with the methods and headers it may use', async () => {
    const res = await preflight(api, SHOP);
    assert.equal(res.status, 204, res.text);
    assert.equal(res.headers.get('access-control-allow-origin'), SHOP);
    const methods = res.headers.get('access-control-allow-methods');
    for (const m of ['GET', 'POST', 'PUT', 'DELETE']) assert.ok(methods.includes(m), `${m} is allowed`);
    const allowed = res.headers.get('access-control-allow-headers').toLowerCase();
    for (const h of ['content-type', 'prefer', 'idempotency-key', 'last-event-id']) {
      assert.ok(allowed.includes(h), `${h} is allowed`);
    }
    assert.match(res.headers.get('vary'), /Origin/);
  });

  test('a preflight from another origin is refused with 403', async () => {
    const res = await preflight(api, 'http://evil.example');
    assertProblem(res, 403);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });

  test('a submit from an allowed origin exposes Location and Retry-After to the page', async () => {
    const q = uniqueQueue('cors');
    const res = await api.submit(q, { payload: { order: 1 } }, { headers: { Origin: SHOP } });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.headers.get('access-control-allow-origin'), SHOP);
    const exposed = res.headers.get('access-control-expose-headers');
    for (const h of ['Location', 'Retry-After', 'Preference-Applied', 'Idempotent-Replayed', 'WWW-Authenticate']) {
      assert.ok(exposed.includes(h), `${h} is exposed`);
    }
  });

  test('errors carry the CORS headers too, so the page can read the problem', async () => {
    const res = await api.req('POST', '/v1/queues/orders/jobs', { body: '{', headers: { Origin: SHOP } });
    assertProblem(res, 400);
    assert.equal(res.headers.get('access-control-allow-origin'), SHOP);
  });

  test('a request from another origin gets no CORS headers', async () => {
    const res = await api.submit(uniqueQueue('cors'), { payload: 1 }, { headers: { Origin: 'http://evil.example' } });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});

describe('without --cors-origin', () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer();
    api = new Api(srv);
  });
  after(() => srv?.close());

  test('answers carry no CORS headers and a preflight is 405', async () => {
    const res = await api.submit(uniqueQueue('nocors'), { payload: 1 }, { headers: { Origin: SHOP } });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const pre = await preflight(api, SHOP);
    assertProblem(pre, 405);
  });
});
