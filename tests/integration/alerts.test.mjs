// Alerts (SPEC §3 Observability) against a real server: each of the four rule
// kinds fires once and resolves once, GET /v1/alerts lists it, and the rule's
// webhook (a small HTTP server here) receives exactly one fire and one
// resolve, each signed with HMAC-SHA256 of the body when a secret is set.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Api, FAST_BACKOFF, uniqueQueue, waitFor } from './lib/http.mjs';
import { runErrand, startServer } from './lib/server.mjs';

const SECRET = 'test-secret';
const hooks = []; // {path, body (parsed), raw, signature}
let receiver;
let hookUrl;
let srv;
let api;
let dir;

const q = {
  lag: uniqueQueue('lag'),
  dead: uniqueQueue('dead'),
  ratio: uniqueQueue('ratio'),
  idle: uniqueQueue('idle'),
};

before(async () => {
  receiver = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8').on('data', (c) => (raw += c)).on('end', () => {
      hooks.push({ path: req.url, raw, body: JSON.parse(raw), signature: req.headers['errand-signature'] });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${receiver.address().port}`;
  dir = mkdtempSync(path.join(tmpdir(), 'errand-alerts-'));
  const config = path.join(dir, 'errand.toml');
  writeFileSync(config, `
[[alerts]]
name = "lag"
queue = "${q.lag}"
kind = "lag"
threshold_ms = 300
webhook = "${hookUrl}/lag"
secret = "${SECRET}"

[[alerts]]
name = "dead"
queue = "${q.dead.slice(0, -3)}*"
kind = "dead_letters"
webhook = "${hookUrl}/dead"

[[alerts]]
name = "ratio"
queue = "${q.ratio}"
kind = "failure_ratio"
ratio = 0.5
window_ms = 60000
webhook = "${hookUrl}/ratio"
secret = "${SECRET}"

[[alerts]]
name = "idle"
queue = "${q.idle}"
kind = "no_workers"
threshold_ms = 500
webhook = "${hookUrl}/idle"
secret = "${SECRET}"
`);
  srv = await startServer({ args: ['--config', config] });
  api = new Api(srv);
});

after(async () => {
  await srv?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver ? receiver.close(r) : r());
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function alertsList() {
  const res = await api.req('GET', '/v1/alerts');
  assert.equal(res.status, 200, res.text);
  return res.body.alerts;
}

/** Waits for the alert `name` to be in `state` in GET /v1/alerts. */
function alertIn(name, state) {
  return waitFor(async () => (await alertsList()).find((a) => a.name === name && a.state === state),
                 { timeoutMs: 10_000, intervalMs: 100, message: `alert ${name} ${state}` });
}

/** Waits for the webhook of `name` to have received `count` posts. */
function hooksOf(name, count) {
  return waitFor(() => {
    const got = hooks.filter((h) => h.path === `/${name}`);
    return got.length >= count ? got : null;
  }, { timeoutMs: 10_000, intervalMs: 50, message: `${count} webhook posts for ${name}` });
}

function assertSigned(hook) {
  const expected = `sha256=${createHmac('sha256', SECRET).update(hook.raw).digest('hex')}`;
  assert.equal(hook.signature, expected);
}

test('lag fires when the oldest job waits too long and resolves when it is taken', async () => {
  const job = await api.submitOk(q.lag, { payload: 1 });
  const firing = await alertIn('lag', 'firing');
  assert.equal(firing.queue, q.lag);
  assert.equal(firing.kind, 'lag');
  assert.ok(firing.value > 300, JSON.stringify(firing));
  assert.equal(firing.threshold, 300);
  assert.equal(firing.resolved_at, null);
  const [fire] = await hooksOf('lag', 1);
  assert.deepEqual(fire.body, { ...fire.body, name: 'lag', state: 'firing', queue: q.lag });
  assertSigned(fire);

  const leased = await api.leaseOne(q.lag);
  assert.equal(leased.id, job.id);
  await api.ackOk(job.id, leased.lease);
  const resolved = await alertIn('lag', 'resolved');
  assert.equal(resolved.since, firing.since);
  assert.ok(Date.parse(resolved.resolved_at) >= Date.parse(resolved.since));
  const posts = await hooksOf('lag', 2);
  assert.equal(posts[1].body.state, 'resolved');
  assertSigned(posts[1]);
});

test('dead_letters fires on a failed job and resolves once none is left; unsigned without a secret', async () => {
  const job = await api.submitOk(q.dead, { payload: 1 });
  const leased = await api.leaseOne(q.dead);
  const f = await api.fail(job.id, leased.lease, { retry: false });
  assert.equal(f.status, 200, f.text);
  const firing = await alertIn('dead', 'firing');
  assert.equal(firing.queue, q.dead);
  assert.equal(firing.value, 1);
  const [fire] = await hooksOf('dead', 1);
  assert.equal(fire.body.state, 'firing');
  assert.equal(fire.signature, undefined);

  const del = await api.req('DELETE', `/v1/jobs/${job.id}`);
  assert.equal(del.status, 204, del.text);
  await alertIn('dead', 'resolved');
  const posts = await hooksOf('dead', 2);
  assert.equal(posts[1].body.state, 'resolved');
});

test('failure_ratio needs ten attempts, fires over the ratio and resolves below it', async () => {
  const attempt = async (ok) => {
    const job = await api.submitOk(q.ratio, { payload: 1, max_attempts: 1 });
    const leased = await api.leaseOne(q.ratio);
    if (ok) await api.ackOk(job.id, leased.lease);
    else assert.equal((await api.fail(job.id, leased.lease, { retry: false })).status, 200);
  };
  for (let i = 0; i < 6; i++) await attempt(false);
  for (let i = 0; i < 4; i++) await attempt(true);
  const firing = await alertIn('ratio', 'firing');
  assert.equal(firing.value, 0.6);
  assert.equal(firing.threshold, 0.5);
  for (let i = 0; i < 4; i++) await attempt(true);
  const resolved = await alertIn('ratio', 'resolved');
  assert.ok(resolved.value < 0.5, JSON.stringify(resolved));
  const posts = await hooksOf('ratio', 2);
  assert.deepEqual(posts.map((p) => p.body.state), ['firing', 'resolved']);
  posts.forEach(assertSigned);
});

test('no_workers fires for a queue nobody asks and resolves when a worker does', async () => {
  await api.submitOk(q.idle, { payload: 1, backoff: FAST_BACKOFF });
  const firing = await alertIn('idle', 'firing');
  assert.ok(firing.value > 500, JSON.stringify(firing));
  await api.leaseOne(q.idle);
  await alertIn('idle', 'resolved');
  const posts = await hooksOf('idle', 2);
  assert.deepEqual(posts.map((p) => p.body.state), ['firing', 'resolved']);
});

test('each alert was posted exactly once firing and once resolved', async () => {
  // A duplicate cannot be waited for, only given time to show up: two more
  // evaluation rounds (one a second).
  await new Promise((r) => setTimeout(r, 2500));
  for (const name of ['lag', 'dead', 'ratio', 'idle']) {
    const states = hooks.filter((h) => h.path === `/${name}`).map((h) => h.body.state);
    assert.deepEqual(states, ['firing', 'resolved'], name);
  }
  const resolved = (await alertsList()).filter((a) => a.state === 'resolved').map((a) => a.name);
  assert.deepEqual(resolved.sort(), ['dead', 'idle', 'lag', 'ratio']);
});

test('a malformed rule stops the server at start with a message naming it', async () => {
  const cases = [
    ['kind = "latency"', /alert 'bad': kind must be lag, failure_ratio, dead_letters or no_workers/],
    ['kind = "lag"', /alert 'bad': threshold_ms must be positive/],
    ['kind = "failure_ratio"\nratio = 2.0', /alert 'bad': ratio must be in \(0, 1\]/],
    ['kind = "dead_letters"\nwebhook = "ftp://x"', /alert 'bad': webhook must be an http/],
  ];
  for (const [body, message] of cases) {
    const config = path.join(dir, 'bad.toml');
    writeFileSync(config, `[[alerts]]\nname = "bad"\n${body}\n`);
    const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'bad-data'),
                                 '--config', config]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, message);
  }
});
