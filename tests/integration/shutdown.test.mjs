// Graceful shutdown (SPEC §4 `errand serve`: SIGTERM/SIGINT stop leasing,
// finish in-flight requests, flush, exit 0; docs/reliability.md "Graceful
// shutdown"). SIGTERM lands during load: concurrent submits (some with
// Prefer: wait), batches, open waits on jobs, long-poll leases, workers
// acking, SSE streams. What we guarantee and assert:
//
// - every request fully sent before the SIGTERM gets a whole answer: its normal one (open waits answer at once: 202 / 200 with
//   the current state, a long-poll lease an empty list), or 503 with
//   Retry-After (a lease asked while draining); never a reset or a cut-off
//   answer;
// - every SSE stream ends with the end of its chunked body;
// - the process exits 0, within the shutdown timeout;
// - after a restart on the same data dir every 2xx'd submit and ack is there,
//   and every job there was answered, even when its request was sent after
//   the SIGTERM: a request the draining server reads is answered, one it
//   does not read is not carried out (its connection is refused or closed).
//
// And --shutdown-timeout-ms (env, config file) bounds the exit even when a
// client keeps a connection busy (a body that never ends, a stream that is
// never read).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Api, pool, sleep, uniqueQueue, waitFor } from './lib/http.mjs';
import { scratchDir, within } from './lib/cli.mjs';
import { runErrand, startServer } from './lib/server.mjs';
import { keepAliveAgent, stalledConnection, trackedRequest, trackedStream } from './lib/tracked_http.mjs';

const WAIT_MS = 30_000;
// Exit after the shutdown timeout: closing connections, flushing the store,
// process teardown. Generous for sanitizer builds, and still well below what
// would hold the server without the timeout (a 30 s body or write timeout).
const EXIT_MARGIN_MS = 8000;

const servers = [];
const scratch = scratchDir('errand-shutdown-');
after(async () => {
  for (const s of servers) {
    if (s.alive()) await s.kill9().catch(() => {});
    await s.close().catch(() => {});
  }
  scratch.remove();
});

async function server(options) {
  const srv = await startServer(options);
  servers.push(srv);
  return srv;
}

/** SIGTERM; resolves to {code, signal, ms} once the process has exited. */
async function terminate(srv, timeoutMs) {
  const t0 = Date.now();
  srv.proc.kill('SIGTERM');
  const res = await within(srv.exited, timeoutMs, `the server to exit after SIGTERM\n${srv.stderr()}`);
  return { ...res, ms: Date.now() - t0 };
}

/** The answers a request may get once SIGTERM has arrived, besides its normal ones. */
function isDrainRefusal(r) {
  return r.status === 503 && r.headers?.['retry-after'] !== undefined &&
         /^application\/problem\+json/.test(r.headers?.['content-type'] ?? '');
}

describe('SIGTERM under load', () => {
  test('in-flight requests are answered, waits answer at once, streams end, nothing is lost, exit 0', async (t) => {
    const shutdownMs = 20_000;
    const srv = await server({ args: ['--shutdown-timeout-ms', String(shutdownMs)] });
    const api = new Api(srv);
    const qWork = uniqueQueue('drain-work');
    const qWait = uniqueQueue('drain-wait');
    const qIdle = uniqueQueue('drain-idle');
    const agent = keepAliveAgent(32);

    // Jobs for the workers, and jobs nobody works on (waited on, followed).
    const preloaded = (await pool(Array.from({ length: 4 }, (_, i) => i), 4, async (i) => {
      const res = await api.batch(qWork, Array.from({ length: 50 }, (_, k) => ({ payload: { pre: i * 50 + k } })));
      assert.equal(res.status, 202, res.text);
      return res.body.jobs.map((j) => j.id);
    })).flat();
    const idle = await pool(Array.from({ length: 8 }, (_, i) => i), 8, (i) => api.submitOk(qWait, { payload: { i } }));

    const requests = []; // every tracked request
    const submits = new Map(); // payload.rid -> the entry of the request that submitted it
    const track = (p, kind, rid) => {
      const entry = { kind, promise: p };
      requests.push(entry);
      if (rid !== undefined) submits.set(rid, entry);
      return p.then((r) => {
        entry.record = r;
        return r;
      });
    };
    let nextRid = 0;
    let stopping = false; // the loops stop once the server refuses connections
    const untilRefused = async (fn) => {
      while (!stopping) {
        const r = await fn();
        if (r.error === 'ECONNREFUSED') return;
        if (r.error) await sleep(20); // mid-shutdown: the next try finds the listener closed
      }
    };

    // SSE: job timelines that will not end on their own, and the server-wide stream.
    const streams = [
      ...idle.slice(0, 6).map((j) => trackedStream(srv, `/v1/jobs/${j.id}/events`)),
      trackedStream(srv, '/v1/events'),
      trackedStream(srv, `/v1/events?queue=${qWork}`),
    ];
    for (const s of streams) assert.equal(await s.opened, 200);

    const loops = [];
    // Producers: single submits, some waiting on a queue nobody works.
    for (let p = 0; p < 10; p++) {
      loops.push(untilRefused(() => {
        const wait = p % 3 === 0;
        const rid = nextRid++;
        return track(trackedRequest(srv, 'POST', `/v1/queues/${wait ? qWait : qWork}/jobs`, {
          json: { payload: { p, wait, rid } }, agent, headers: wait ? { prefer: 'wait=20' } : {},
        }), wait ? 'submit-wait' : 'submit', rid);
      }));
    }
    // A batch producer.
    loops.push(untilRefused(() => {
      const rid = nextRid++;
      return track(trackedRequest(srv, 'POST', `/v1/queues/${qWork}/batch`, {
        json: { jobs: Array.from({ length: 10 }, (_, k) => ({ payload: { batch: k, rid } })) }, agent,
      }), 'batch', rid);
    }));
    // Open waits on jobs that will not finish.
    for (const j of idle.slice(0, 4)) {
      loops.push(untilRefused(() => track(trackedRequest(srv, 'GET', `/v1/jobs/${j.id}`, {
        headers: { prefer: 'wait=20' }, agent,
      }), 'get-wait')));
    }
    // Long-poll leases on a queue with nothing in it.
    for (let w = 0; w < 3; w++) {
      loops.push(untilRefused(() => track(trackedRequest(srv, 'POST', '/v1/leases', {
        json: { queues: [qIdle], worker: `idle-${w}`, max: 1 }, headers: { prefer: 'wait=20' }, agent,
      }), 'lease-wait')));
    }
    // Workers: lease and ack.
    for (let w = 0; w < 3; w++) {
      loops.push(untilRefused(async () => {
        const leased = await track(trackedRequest(srv, 'POST', '/v1/leases', {
          json: { queues: [qWork], worker: `w-${w}`, max: 5, lease_ms: 60_000 }, headers: { prefer: 'wait=1' }, agent,
        }), 'lease');
        if (leased.status !== 200) return leased;
        await Promise.all(leased.body.jobs.map((j) => track(trackedRequest(srv, 'POST', `/v1/jobs/${j.id}/ack`, {
          json: { lease: j.lease, result: { acked: j.id } }, agent,
        }), 'ack')));
        return leased;
      }));
    }

    // Load is under way: acks done, waits open.
    await waitFor(() => requests.filter((e) => e.kind === 'ack' && e.record?.status === 200).length >= 30 &&
                        requests.filter((e) => e.kind === 'submit-wait' && !e.record).length >= 2,
                  { timeoutMs: WAIT_MS, message: 'the load to be under way' });
    const termAt = Date.now();
    const exit = await terminate(srv, shutdownMs + EXIT_MARGIN_MS);
    stopping = true;
    await within(Promise.all(loops), WAIT_MS, 'the client loops to end');
    await within(Promise.all(requests.map((e) => e.promise)), WAIT_MS, 'every request to end');
    const ended = await within(Promise.all(streams.map((s) => s.ended)), WAIT_MS, 'the streams to end');

    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${srv.stderr()}`);
    assert.ok(exit.ms < shutdownMs, `the drain finished on its own, before the timeout (${exit.ms} ms)`);
    assert.match(srv.stderr(), /draining/);

    // Requests fully sent before the SIGTERM: a whole answer, normal or 503 + Retry-After.
    const normal = {
      submit: [202], 'submit-wait': [202], batch: [202], 'get-wait': [200], 'lease-wait': [200], lease: [200], ack: [200],
    };
    const before = requests.filter((e) => e.record.sentAt !== null && e.record.sentAt < termAt);
    const wrong = before.filter((e) => {
      const r = e.record;
      if (r.error || !r.complete) return true;
      return !normal[e.kind].includes(r.status) && !isDrainRefusal(r);
    }).map((e) => `${e.kind} ${e.record.method} ${e.record.path}: ${e.record.status} ${e.record.error} ` +
                  `sent ${e.record.sentAt - termAt} ms before SIGTERM, ${e.record.text.slice(0, 200)}`);
    const inFlight = before.filter((e) => e.record.doneAt >= termAt);
    const byKind = (list) => JSON.stringify(Object.fromEntries(Object.keys(normal).map((k) => [k, list.filter((e) => e.kind === k).length])));
    t.diagnostic(`sent before SIGTERM: ${before.length} ${byKind(before)}; in flight at SIGTERM: ${inFlight.length} ` +
                 `${byKind(inFlight)}; refused with 503: ${inFlight.filter((e) => e.record.status === 503).length}; ` +
                 `exit after ${exit.ms} ms`);
    const late = requests.filter((e) => !before.includes(e));
    const outcome = (r) => r.error ?? r.status;
    t.diagnostic(`sent after SIGTERM (or never whole): ${JSON.stringify(late.reduce((m, e) => {
      m[outcome(e.record)] = (m[outcome(e.record)] ?? 0) + 1;
      return m;
    }, {}))}`);
    assert.deepEqual(wrong, [], 'requests sent before SIGTERM get a whole answer');
    // Waits that were open answered at once with the current state, not after their 20 s.
    const waits = before.filter((e) => ['submit-wait', 'get-wait', 'lease-wait'].includes(e.kind) &&
                                      e.record.doneAt >= termAt);
    assert.ok(waits.length >= 4, `waits were open at the SIGTERM (${waits.length})`);
    for (const e of waits) {
      assert.ok(e.record.doneAt - termAt < shutdownMs, `${e.kind} answered ${e.record.doneAt - termAt} ms after SIGTERM`);
      if (e.kind === 'submit-wait') assert.equal(e.record.body.state, 'queued');
      if (e.kind === 'get-wait') assert.equal(e.record.body.state, 'queued');
      if (e.kind === 'lease-wait' && e.record.status === 200) assert.deepEqual(e.record.body.jobs, []);
    }
    for (const s of ended) {
      assert.equal(s.error, null, `stream ${s.path} ended with ${s.error}: ${s.text.slice(-300)}`);
      assert.ok(s.complete, `stream ${s.path} ended with its last chunk`);
    }

    // Nothing acknowledged is lost.
    await srv.restart();
    const submitted = requests.filter((e) => ['submit', 'submit-wait'].includes(e.kind) && e.record.status === 202)
      .map((e) => e.record.body.id);
    const batched = requests.filter((e) => e.kind === 'batch' && e.record.status === 202)
      .flatMap((e) => e.record.body.jobs.map((j) => j.id));
    const acked = requests.filter((e) => e.kind === 'ack' && e.record.status === 200)
      .map((e) => e.record.path.split('/')[3]);
    assert.ok(submitted.length > 0 && batched.length > 0 && acked.length >= 30);
    const lost = [];
    await pool([...submitted, ...batched], 16, async (id) => {
      const res = await api.getJob(id);
      if (res.status !== 200) lost.push(`submitted ${id}: ${res.status}`);
    });
    await pool(acked, 16, async (id) => {
      const doc = await api.job(id);
      if (doc.state !== 'succeeded' || doc.result?.acked !== id) lost.push(`acked ${id}: ${doc.state}`);
    });
    assert.deepEqual(lost, [], 'every acknowledged submit and ack survived the shutdown');
    // And the other way round: no job is stored whose submit got no answer,
    // whenever it was sent (the drain reads a request only to answer it).
    const known = new Set([...preloaded, ...idle.map((j) => j.id), ...submitted, ...batched]);
    const stored = [...await api.allJobs(qWork), ...await api.allJobs(qWait)];
    const unanswered = stored.filter((d) => !known.has(d.id))
      .map((d) => `${d.id} ${JSON.stringify(d.payload)}: ${JSON.stringify(submits.get(d.payload.rid)?.record ?? null)}`);
    assert.deepEqual(unanswered, [], 'no job was stored by a submit that got no answer');
    agent.destroy();
  });
});

describe('--shutdown-timeout-ms bounds the exit', () => {
  const TIMEOUT_MS = 1000;

  /**
   * A request whose body never ends: without the timeout the server would
   * wait 30 s for it. The 100 Continue shows the server is reading it.
   */
  function stalledBody(srv) {
    return stalledConnection(srv.port,
      'POST /v1/queues/stalled/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n',
      { until: /^HTTP\/1\.1 100 Continue\r\n\r\n/, body: '{"payload":' });
  }

  /** SIGTERM; the server waits for the busy connection until the timeout, no longer. */
  async function assertExitAtTimeout(t, srv) {
    const exit = await terminate(srv, TIMEOUT_MS + EXIT_MARGIN_MS);
    t.diagnostic(`exited ${exit.ms} ms after SIGTERM (shutdown timeout ${TIMEOUT_MS} ms)`);
    assert.equal(exit.code, 0, srv.stderr());
    assert.ok(exit.ms >= TIMEOUT_MS, `a busy connection is given the whole timeout (exited after ${exit.ms} ms)`);
    assert.ok(exit.ms < TIMEOUT_MS + EXIT_MARGIN_MS, `exited after ${exit.ms} ms`);
  }

  test('--shutdown-timeout-ms: a request body that never ends does not hold the exit', async (t) => {
    const srv = await server({ args: ['--shutdown-timeout-ms', String(TIMEOUT_MS)] });
    const slowBody = await stalledBody(srv);
    try {
      await assertExitAtTimeout(t, srv);
    } finally {
      slowBody.close();
    }
  });

  test('--shutdown-timeout-ms: a stream that is never read does not hold the exit', async (t) => {
    const srv = await server({ args: ['--shutdown-timeout-ms', String(TIMEOUT_MS)] });
    const api = new Api(srv);
    // A job timeline of ~7 MiB (progress data), followed by a client that
    // never reads: the server's write blocks once the socket buffers (up to
    // 4 MiB here) are full, and would wait for its 30 s write timeout.
    const q = uniqueQueue('stalled-stream');
    const { leased } = await api.submitAndLease(q, { payload: {} }, { lease_ms: 600_000 });
    const big = 'x'.repeat(1023 * 1024);
    for (let i = 0; i < 7; i++) {
      const res = await api.heartbeat(leased.id, leased.lease, { progress: { percent: i, message: 'big', data: big } });
      assert.equal(res.status, 200, res.text);
    }
    const unread = await stalledConnection(srv.port,
      `GET /v1/jobs/${leased.id}/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`,
      { until: /^HTTP\/1\.1 200 [^]*\r\n\r\n/ });
    try {
      // (An exit before the timeout would mean the stream fitted in the socket buffers: the test needs more data.)
      await assertExitAtTimeout(t, srv);
    } finally {
      unread.close();
    }
  });

  test('a second SIGTERM closes busy connections at once, and what was acknowledged stays', async (t) => {
    const srv = await server({ args: ['--shutdown-timeout-ms', '60000'] });
    const api = new Api(srv);
    const q = uniqueQueue('second-signal');
    const submitted = await api.submit(q, { payload: { n: 1 } });
    assert.equal(submitted.status, 202, submitted.text);
    const slowBody = await stalledBody(srv);
    try {
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      await waitFor(() => /draining/.test(srv.stderr()), { timeoutMs: 10_000, message: 'the drain to begin' });
      srv.proc.kill('SIGTERM');
      const exit = await within(srv.exited, EXIT_MARGIN_MS, `the server to exit after a second SIGTERM\n${srv.stderr()}`);
      t.diagnostic(`exited ${Date.now() - t0} ms after the first SIGTERM (shutdown timeout 60 000 ms)`);
      assert.equal(exit.code, 0, srv.stderr());
      assert.match(srv.stderr(), /second signal: closing busy connections now/);
    } finally {
      slowBody.close();
    }
    await srv.restart();
    assert.equal((await api.job(submitted.body.id)).state, 'queued');
  });

  const otherWays = {
    'ERRAND_SHUTDOWN_TIMEOUT_MS': () => ({ env: { ERRAND_SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) } }),
    'shutdown_timeout_ms in the config file': () => {
      const file = path.join(scratch.dir, 'shutdown.toml');
      writeFileSync(file, `shutdown_timeout_ms = ${TIMEOUT_MS}\n`);
      return { args: ['--config', file] };
    },
  };
  for (const [way, options] of Object.entries(otherWays)) {
    test(`${way} sets it too`, async (t) => {
      const srv = await server(options());
      const slowBody = await stalledBody(srv);
      try {
        await assertExitAtTimeout(t, srv);
      } finally {
        slowBody.close();
      }
    });
  }

  test('a bad value is a usage error', async () => {
    const file = path.join(scratch.dir, 'bad-shutdown.toml');
    writeFileSync(file, 'shutdown_timeout_ms = -5\n');
    const never = scratch.file('never');
    for (const args of [['--shutdown-timeout-ms', '-1'], ['--shutdown-timeout-ms', 'soon'], ['--config', file]]) {
      const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', never, ...args]);
      assert.equal(res.code, 2, `${args}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, /shutdown.timeout.ms/);
    }
  });
});
