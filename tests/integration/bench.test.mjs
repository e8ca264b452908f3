// `errand bench` (SPEC §6, docs/cli.md) against a real server: each workload
// run briefly, its JSON report checked against what was asked and against
// the server's own counts; the table form; and the usage errors (exit 2).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, uniqueQueue, waitFor } from './lib/http.mjs';
import { cli, freePort, show, within } from './lib/cli.mjs';
import { spawn } from 'node:child_process';
import { childEnv, errandBin, startServer, trackChild } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer({ durability: 'os' });
  api = new Api(srv);
});
after(() => srv?.close());

/** Runs `errand bench ARGS --json --quiet`; asserts exit 0 and returns the report. */
async function bench(args, { timeoutMs = 60_000 } = {}) {
  const res = await cli(srv.url, ['bench', ...args, '--json', '--quiet'], { timeoutMs });
  assert.equal(res.code, 0, show(res));
  assert.equal(res.stderr, '', `nothing on stderr: ${show(res)}`);
  assert.equal(res.stdout.trimEnd().split('\n').length, 1, 'one line of JSON');
  assert.ok(res.json, `JSON on stdout: ${show(res)}`);
  return res.json;
}

/** The latency summary is complete and ordered: min <= p50 <= p90 <= p99 <= p99.9 <= max. */
function assertLatency(latency, count) {
  assert.equal(latency.count, count, JSON.stringify(latency));
  const order = ['min', 'p50', 'p90', 'p99', 'p99_9', 'max'].map((k) => latency[k]);
  for (const v of order) assert.equal(typeof v, 'number');
  for (let i = 1; i < order.length; i++) {
    assert.ok(order[i - 1] <= order[i], `percentiles ordered: ${JSON.stringify(latency)}`);
  }
  assert.ok(latency.max > 0, JSON.stringify(latency));
  assert.ok(latency.mean >= latency.min && latency.mean <= latency.max, JSON.stringify(latency));
}

async function counts(queue) {
  return (await api.queue(queue)).counts;
}

describe('w1 enqueue', () => {
  test('submits exactly --jobs single jobs, which are then queued', async () => {
    const q = uniqueQueue('bench-w1');
    const r = await bench(['w1', '--queue', q, '--jobs', '300', '--window', '8']);
    assert.equal(r.workload, 'w1');
    assert.equal(r.queue, q);
    assert.deepEqual(r.settings, { jobs: 300, window: 8, batch: null });
    assert.equal(r.runs.length, 1);
    const [run] = r.runs;
    assert.equal(run.count, 300);
    assert.ok(run.seconds > 0 && run.per_second > 0, JSON.stringify(run));
    assertLatency(run.latency_ms, 300); // one latency per request
    assert.equal(r.queue_counts.queued, 300);
    assert.equal((await counts(q)).queued, 300);
    const [job] = (await api.allJobs(q)).slice(0, 1);
    assert.equal(job.payload, 'x'.repeat(100), '100-byte payloads');
  });

  test('--batch submits K jobs a request, the last one short', async () => {
    const q = uniqueQueue('bench-w1b');
    const r = await bench(['w1', '--queue', q, '--jobs', '1050', '--batch', '100', '--window', '4']);
    assert.equal(r.runs[0].count, 1050);
    assertLatency(r.runs[0].latency_ms, 11); // 10 batches of 100, one of 50
    assert.equal(r.latency_of, 'batch request');
    assert.equal((await counts(q)).queued, 1050);
  });

  test('a queue of its own when --queue is not given', async () => {
    const r = await bench(['w1', '--jobs', '5']);
    assert.match(r.queue, /^bench-w1-\d+$/);
    assert.equal((await counts(r.queue)).queued, 5);
  });
});

describe('w2 drain', () => {
  test('enqueues --jobs jobs, then leases and acks every one of them', async () => {
    const q = uniqueQueue('bench-w2');
    const r = await bench(['w2', '--queue', q, '--jobs', '700', '--window', '64']);
    assert.equal(r.workload, 'w2');
    assert.equal(r.runs[0].count, 700);
    assert.ok(r.runs[0].per_second > 0);
    assert.ok(r.preload_seconds > 0);
    assert.ok(r.runs[0].latency_ms.count >= 700 / 64, 'one latency per lease-and-ack cycle');
    assertLatency(r.runs[0].latency_ms, r.runs[0].latency_ms.count);
    const c = await counts(q);
    assert.equal(c.succeeded, 700);
    assert.equal(c.queued, 0);
    assert.equal(c.running, 0);
    assert.deepEqual(r.queue_counts, c);
  });
});

describe('w3 round trips', () => {
  test('closed loop: a run per concurrency, every round trip succeeded', async () => {
    const q = uniqueQueue('bench-w3');
    const r = await bench(['w3', '--queue', q, '--concurrency', '1,4', '--duration', '1',
                           '--warmup', '0.2']);
    assert.equal(r.workload, 'w3');
    assert.deepEqual(r.runs.map((run) => [run.label, run.concurrency]), [['C=1', 1], ['C=4', 4]]);
    for (const run of r.runs) {
      assert.ok(run.count > 0, JSON.stringify(run));
      assert.ok(run.total >= run.count);
      assert.equal(run.seconds, 1);
      assertLatency(run.latency_ms, run.count);
    }
    const c = await counts(q);
    assert.equal(c.succeeded, r.runs[0].total + r.runs[1].total, 'every round trip is a succeeded job');
    assert.equal(c.queued, 0);
    assert.equal(c.running, 0);
    assert.equal(c.failed, 0);
  });

  test('open loop: --rate arrivals a second for the warm-up and the duration', async () => {
    const q = uniqueQueue('bench-w3o');
    const r = await bench(['w3', '--queue', q, '--rate', '50', '--duration', '1', '--warmup', '0.2']);
    assert.equal(r.settings.rate, 50);
    const [run] = r.runs;
    assert.equal(run.rate, 50);
    assert.equal(run.total, 60, '1.2 s at 50/s');
    assert.ok(run.count >= 49 && run.count <= 51, `the measured second: ${run.count}`);
    assertLatency(run.latency_ms, run.count);
    assert.equal((await counts(q)).succeeded, 60);
  });
});

describe('w4 open waits', () => {
  test('holds --waits waits beside W3, reads the server memory, then lets them go', async () => {
    const q = uniqueQueue('bench-w4');
    const r = await bench(['w4', '--queue', q, '--waits', '60', '--concurrency', '2',
                           '--duration', '0.5', '--warmup', '0.1', '--server-pid',
                           String(srv.proc.pid)]);
    assert.equal(r.workload, 'w4');
    assert.deepEqual(r.runs.map((run) => run.label), ['C=2, no waits', 'C=2, 60 waits']);
    for (const run of r.runs) assertLatency(run.latency_ms, run.count);
    assert.equal(r.memory.waits, 60);
    assert.equal(r.memory.source, `/proc/${srv.proc.pid}/status`);
    assert.ok(r.memory.before_bytes > 0 && r.memory.with_waits_bytes > 0, JSON.stringify(r.memory));
    assert.equal(r.memory.extra_bytes, r.memory.with_waits_bytes - r.memory.before_bytes);
    // The jobs waited on were left alone, and bench closed its waits.
    assert.equal((await counts(`${q}-idle`)).queued, 60);
    const c = await counts(q);
    assert.equal(c.succeeded, r.runs[0].total + r.runs[1].total);
    await waitFor(async () => (await gauge('errand_open_waits')) === 0,
                  { message: 'the waits to close' });
  });

  test('--sse holds event streams instead of long polls', async () => {
    const q = uniqueQueue('bench-w4s');
    const r = await bench(['w4', '--queue', q, '--sse', '--waits', '40', '--concurrency', '2',
                           '--duration', '0.3', '--warmup', '0', '--server-pid',
                           String(srv.proc.pid)]);
    assert.equal(r.settings.sse, true);
    assert.deepEqual(r.runs.map((run) => run.label), ['C=2, no waits', 'C=2, 40 streams']);
    assert.ok(r.memory.with_waits_bytes > 0);
    assert.equal((await counts(`${q}-idle`)).queued, 40);
    await waitFor(async () => (await gauge('errand_sse_streams')) === 0,
                  { message: 'the streams to close' });
  });

  test('without --server-pid the memory comes from process_resident_memory_bytes', async () => {
    const r = await bench(['w4', '--waits', '5', '--concurrency', '1', '--duration', '0.2',
                           '--warmup', '0']);
    assert.equal(r.memory.source, '/metrics');
    assert.ok(r.memory.before_bytes > 0 && r.memory.with_waits_bytes > 0, JSON.stringify(r.memory));
    assert.equal(r.memory.extra_bytes, r.memory.with_waits_bytes - r.memory.before_bytes);
    assert.equal(r.runs.length, 2);
  });
});

/** The value of a gauge without labels in GET /metrics. */
async function gauge(name) {
  const res = await api.req('GET', '/metrics');
  assert.equal(res.status, 200);
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(res.text)[1]);
}

describe('output', () => {
  test('without --json: a table, the queue counts and a histogram per run', async () => {
    const q = uniqueQueue('bench-table');
    const res = await cli(srv.url, ['bench', 'w3', '--queue', q, '--duration', '0.3',
                                    '--warmup', '0', '--quiet']);
    assert.equal(res.code, 0, show(res));
    assert.match(res.stdout, /^errand bench w3 against http:\/\/127\.0\.0\.1:\d+: round trips/);
    assert.match(res.stdout, /^RUN +COUNT +SECONDS +PER SECOND +P50 MS +P90 MS +P99 MS +P99\.9 MS +MAX MS$/m);
    assert.match(res.stdout, /^C=1 +\d+ +0\.30 /m);
    assert.match(res.stdout, new RegExp(`^queue ${q} after the run: succeeded \\d+$`, 'm'));
    assert.match(res.stdout, /^latency of each round trip, C=1:$/m);
    assert.match(res.stdout, /^ {2}<= +\d+\.\d{3} ms +\d+ +\d+\.\d{2}% +#+$/m);
  });

  test('--help shows the workloads and an example', async () => {
    const res = await cli(null, ['bench', '--help']);
    assert.equal(res.code, 0, show(res));
    assert.match(res.stdout, /Usage: .*errand bench/);
    assert.match(res.stdout, /Example: errand bench /);
    for (const flag of ['--jobs', '--window', '--batch', '--concurrency', '--rate', '--duration',
                        '--warmup', '--waits', '--sse', '--server-pid', '--json']) {
      assert.ok(res.stdout.includes(flag), flag);
    }
  });
});

describe('usage errors exit 2 with one sentence, and send nothing', () => {
  const cases = [
    [['w9'], /unknown workload 'w9'/],
    [['w1', '--window', '0'], /--window must be between 1/],
    [['w1', '--window=-3'], /--window must be between 1/],
    [['w1', '--jobs', '0'], /--jobs must be between 1/],
    [['w1', '--batch', '1001'], /--batch must be between 1 and 1000/],
    [['w2', '--batch', '10'], /--batch is for w1 only/],
    [['w3', '--rate', '0'], /--rate must be .* above 0/],
    [['w3', '--rate=-5'], /--rate must be .* above 0/],
    [['w1', '--rate', '5'], /--rate is for w3 only/],
    [['w3', '--rate', '5', '--concurrency', '2'], /exclude each other/],
    [['w3', '--concurrency', '0'], /--concurrency must be between 1/],
    [['w3', '--duration', '0'], /--duration must be above 0/],
    [['w4', '--concurrency', '1,2'], /w4 takes one --concurrency/],
    [['w1', '--queue', 'no spaces'], /not a valid queue name/],
    [['w3', '--sse'], /--sse is for w4 only/],
    [['w1', '--server', 'https://127.0.0.1:1'], /plain http:\/\/ only/],
    [['w1', '--server', 'ftp://x'], /must be an http:\/\/ or https:\/\/ URL/],
  ];
  for (const [args, pattern] of cases) {
    test(`errand bench ${args.join(' ')}`, async () => {
      const res = await cli(srv.url, ['bench', ...args, '--quiet']);
      assert.equal(res.code, 2, show(res));
      assert.equal(res.stdout, '');
      const lines = res.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, show(res));
      assert.match(lines[0], /^errand: .+\.$/, show(res));
      assert.match(lines[0], pattern, show(res));
    });
  }

  test('no workload, or a value that is not a number, is a usage error', async () => {
    for (const args of [[], ['w1', '--window', 'many']]) {
      const res = await cli(srv.url, ['bench', ...args]);
      assert.equal(res.code, 2, show(res));
      assert.equal(res.stdout, '');
    }
  });

  test('an unreachable server exits 2 naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const res = await cli(url, ['bench', 'w1', '--jobs', '10', '--quiet']);
    assert.equal(res.code, 2, show(res));
    assert.equal(res.stdout, '');
    assert.match(res.stderr, new RegExp(`^errand: cannot reach errand at ${url}: .+\\.\\n$`));
  });
});

describe('interruption', () => {
  test('SIGINT stops a run: exit 2, one sentence, no report', async () => {
    const q = uniqueQueue('bench-int');
    const argv = ['bench', 'w3', '--queue', q, '--duration', '60', '--quiet'];
    const child = trackChild(spawn(errandBin(), argv, {
      stdio: ['ignore', 'pipe', 'pipe'], env: childEnv({ ERRAND_URL: srv.url }),
    }));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    // Running: its round trips are succeeding.
    const succeeded = async () => (await api.req('GET', `/v1/queues/${q}`)).body?.counts?.succeeded;
    await waitFor(async () => (await succeeded()) > 0, { message: 'the first round trips' });
    child.kill('SIGINT');
    const code = await within(exited, 10_000, 'errand bench to exit after SIGINT');
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    assert.equal(stderr, 'errand: interrupted: no report.\n');
  });
});

describe('a server with tokens', () => {
  let secured;
  before(async () => {
    secured = await startServer({ durability: 'os', env: { ERRAND_ADMIN_TOKEN: 'bench-admin' } });
  });
  after(() => secured?.close());

  test('a missing token stops the run at the first answer (exit 2)', async () => {
    const res = await cli(secured.url, ['bench', 'w1', '--jobs', '10', '--quiet']);
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /^errand: POST \/v1\/queues\/bench-w1-\d+\/jobs answered 401 instead of 202: .+\n$/);
  });

  test('--token is sent as a bearer token', async () => {
    const res = await cli(secured.url, ['bench', 'w1', '--jobs', '10', '--token', 'bench-admin',
                                        '--json', '--quiet']);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.runs[0].count, 10);
  });
});
