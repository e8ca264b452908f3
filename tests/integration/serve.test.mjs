// SPEC §4 `errand serve`: the listening line for --listen 127.0.0.1:0, the
// durability modes, --help, and graceful shutdown on SIGTERM/SIGINT (stop
// leasing, finish in-flight requests, flush, exit 0).
//
// Decisions where SPEC is silent:
// - With --listen 127.0.0.1:0 the server prints `errand listening on
//   127.0.0.1:<port>` on stdout once it accepts connections.
// - On shutdown an open `Prefer: wait` submit or GET is answered at once with
//   the job as it is (202 / 200); an open lease long poll is answered with an
//   empty list (200), as docs/api.md records.
// - An unknown --durability value is a usage error: non-zero exit, a message
//   on stderr.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Api, uniqueQueue, waitFor } from './lib/http.mjs';
import { runErrand, startServer } from './lib/server.mjs';

/** Starts a server that is closed after the current test. */
async function serverFor(t, opts) {
  const srv = await startServer(opts);
  t.after(() => srv.close());
  return { srv, api: new Api(srv) };
}

describe('errand serve', () => {
  test('listens on the port it prints and answers /healthz', async (t) => {
    const { srv, api } = await serverFor(t);
    assert.ok(srv.port > 0);
    assert.equal((await api.req('GET', '/healthz')).status, 200);
    assert.equal((await api.req('GET', '/readyz')).status, 200);
  });

  test('SIGTERM answers an open waiting submit with 202, exits 0, and the job survives', async (t) => {
    const { srv, api } = await serverFor(t);
    const q = uniqueQueue('drain');
    const waiting = api.submit(q, { payload: { keep: 'me' } }, { wait: 30, timeoutMs: 40_000 });
    const id = await waitFor(async () => (await api.req('GET', `/v1/jobs?queue=${q}`)).body?.jobs?.[0]?.id,
                             { message: 'the waiting submit to be stored' });
    const waitingGet = api.getJob(id, { wait: 30, timeoutMs: 40_000 });
    const waitingLease = api.lease([uniqueQueue('drain-empty')], { wait: 30, timeoutMs: 40_000 });
    await api.getJob(id, { wait: 0.3 }); // the three long polls are parked by now

    const t0 = performance.now();
    const exit = srv.stop(); // SIGTERM; throws unless the exit code is 0
    const res = await waiting;
    assert.equal(res.status, 202, res.text);
    assert.equal(res.body.id, id);
    assert.equal(res.body.state, 'queued');
    assert.equal(new URL(res.headers.get('location'), srv.url).pathname, `/v1/jobs/${id}`);
    const get = await waitingGet;
    assert.equal(get.status, 200);
    assert.equal(get.body.state, 'queued');
    const lease = await waitingLease;
    assert.equal(lease.status, 200, `lease during shutdown: ${lease.text}`);
    assert.deepEqual(lease.body.jobs, []);
    assert.deepEqual(await exit, { code: 0, signal: null });
    assert.ok(performance.now() - t0 < 10_000, 'shutdown does not wait for the long polls to time out');

    await srv.restart();
    const doc = await api.job(id);
    assert.equal(doc.state, 'queued');
    assert.deepEqual(doc.payload, { keep: 'me' });
    assert.equal((await api.leaseOne(q)).id, id);
  });

  test('SIGINT also shuts down cleanly with exit 0', async (t) => {
    const { srv, api } = await serverFor(t);
    await api.submitOk(uniqueQueue('sigint'), { payload: 1 });
    assert.deepEqual(await srv.stop({ signal: 'SIGINT' }), { code: 0, signal: null });
  });

  test('a clean restart keeps every job and running leases', async (t) => {
    const { srv, api } = await serverFor(t);
    const q = uniqueQueue('restart');
    const { job, leased } = await api.submitAndLease(q, { payload: 'running' });
    const done = await api.submitAndLease(q, { payload: 'done' });
    await api.ackOk(done.job.id, done.leased.lease, 'result');
    const waiting = await api.submitOk(q, { payload: 'waiting' });
    const before = await api.queue(q);
    await srv.stop();
    await srv.restart();
    const afterRestart = await api.queue(q);
    assert.deepEqual(afterRestart.counts, before.counts);
    assert.equal((await api.job(job.id)).state, 'running');
    assert.equal((await api.job(done.job.id)).result, 'result');
    assert.equal((await api.job(waiting.id)).state, 'queued');
    await api.ackOk(job.id, leased.lease, 'after restart');
  });

  for (const durability of ['os', 'memory']) {
    test(`--durability ${durability} serves the API`, async (t) => {
      const { srv, api } = await serverFor(t, { durability });
      const q = uniqueQueue(durability);
      await api.submitOk(q, { payload: 1 });
      const leased = await api.leaseOne(q);
      await api.ackOk(leased.id, leased.lease, 'ok');
      assert.equal((await api.job(leased.id)).state, 'succeeded');
      if (durability === 'os') {
        await srv.stop();
        await srv.restart();
        assert.equal((await api.job(leased.id)).result, 'ok', '--durability os survives a clean restart');
      }
    });
  }

  test('an explicit --data-dir is used and kept', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'errand-it-dir-'));
    let srv;
    t.after(async () => {
      try {
        await srv?.close(); // before the directory goes
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    srv = await startServer({ dataDir: path.join(dir, 'nested') });
    const api = new Api(srv);
    const job = await api.submitOk(uniqueQueue('dir'), { payload: 1 });
    await srv.stop();
    await srv.restart();
    assert.equal((await api.job(job.id)).state, 'queued');
  });
});

describe('errand CLI', () => {
  test('serve --help and --help exit 0 with usage', async () => {
    const serve = await runErrand(['serve', '--help']);
    assert.equal(serve.code, 0, serve.stderr);
    const text = serve.stdout + serve.stderr;
    for (const flag of ['--listen', '--data-dir', '--durability']) assert.match(text, new RegExp(flag));
    const top = await runErrand(['--help']);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout + top.stderr, /serve/);
  });

  test('an unknown --durability is a usage error', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'errand-it-bad-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', dir, '--durability', 'sometimes']);
    assert.notEqual(res.code, 0);
    assert.ok(res.stderr.length > 0, 'a message on stderr');
  });
});
