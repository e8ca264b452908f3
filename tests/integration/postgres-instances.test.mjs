// Three `errand serve` processes on one PostgreSQL database (issue 8): what
// one server does, the others see at once, and a server killed with SIGKILL
// loses nothing: its leases run out and another server delivers the jobs.
// Needs the throwaway PostgreSQL of ctest's `postgres` fixture
// ($ERRAND_TEST_POSTGRES); skipped without it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Api, openSse, pool, uniqueQueue, waitFor } from './lib/http.mjs';
import { createDatabase, databaseUrl, postgresUrl, psql } from './lib/postgres.mjs';
import { runErrand, startServer } from './lib/server.mjs';

const skip = postgresUrl() ? false : 'needs ERRAND_TEST_POSTGRES (ctest starts a PostgreSQL)';

/** The value of an unlabelled metric in a /metrics text. */
async function metric(api, name) {
  const res = await api.req('GET', '/metrics');
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(res.text);
  return m ? Number(m[1]) : NaN;
}

describe('three errand servers on one PostgreSQL', { skip }, () => {
  let db;
  let servers = [];
  let apis = [];
  before(async () => {
    db = createDatabase();
    servers = await Promise.all([0, 1, 2].map(() => startServer({ args: ['--store', db.url] })));
    apis = servers.map((s) => new Api(s));
  });
  after(async () => {
    for (const s of servers) await s.close().catch(() => {});
    db?.drop();
  });

  test('a submit waiting on one server gets the result of a worker on another; a stream on the third follows', async () => {
    const [a, b, c] = apis;
    const q = uniqueQueue('pg-three');
    // A worker's long poll on B, open (and parked: nothing is ready) before anything is submitted.
    const leasing = b.lease([q], { wait: 20, timeoutMs: 30_000 });
    await waitFor(async () => (await metric(b, 'errand_open_waits')) === 1,
                  { message: 'the long poll is open on B' });
    const submitting = a.submit(q, { payload: { order: 7 } }, { wait: 20, timeoutMs: 30_000 });

    const leased = await leasing;
    assert.equal(leased.status, 200, leased.text);
    assert.equal(leased.body.jobs.length, 1);
    const job = leased.body.jobs[0];
    assert.deepEqual(job.payload, { order: 7 });

    const sse = await openSse(`${servers[2].url}/v1/jobs/${job.id}/events`);
    assert.equal(sse.status, 200);
    assert.equal((await sse.next(10_000)).event, 'enqueued');
    assert.equal((await sse.next(10_000)).event, 'leased');

    const progress = await b.heartbeat(job.id, job.lease, { progress: { percent: 50 } });
    assert.equal(progress.status, 200, progress.text);
    assert.equal((await sse.next(10_000)).event, 'progress', 'C streams a heartbeat made on B');

    await b.ackOk(job.id, job.lease, { charged: true });
    const answer = await submitting;
    assert.equal(answer.status, 200, `the waiting submit on A: ${answer.status} ${answer.text}`);
    assert.equal(answer.body.state, 'succeeded');
    assert.deepEqual(answer.body.result, { charged: true });
    const rest = await sse.rest(10_000);
    assert.deepEqual(rest.map((f) => f.event), ['succeeded'], 'C ends the stream on the ack on B');

    const onC = await c.req('GET', `/v1/jobs/${job.id}`);
    assert.equal(onC.body.state, 'succeeded');
  });

  test('a submit waiting where its worker acks answers with the job as a read shows it', async () => {
    const [a, b] = apis;
    const q = uniqueQueue('pg-local');
    for (let i = 0; i < 3; i++) {
      const leasing = a.lease([q], { wait: 20, timeoutMs: 30_000 });
      const submitting = a.submit(q, { payload: { order: i }, tags: ['local'] }, { wait: 20, timeoutMs: 30_000 });
      const leased = await leasing;
      assert.equal(leased.status, 200, leased.text);
      const job = leased.body.jobs[0];
      await a.ackOk(job.id, job.lease, { charged: i });
      const answer = await submitting;
      assert.equal(answer.status, 200, answer.text);
      const read = await b.req('GET', `/v1/jobs/${job.id}`);
      assert.deepEqual(answer.body, read.body, 'the answer is the job as stored');
      assert.deepEqual(answer.body.result, { charged: i });
      assert.deepEqual(answer.body.payload, { order: i });
    }
    // Deleted on B: A, which kept the job as its ack left it, hears of it
    // and answers a wait 404, not the job it kept.
    const [last] = (await b.req('GET', `/v1/jobs?queue=${q}&limit=1`)).body.jobs;
    assert.equal((await b.req('DELETE', `/v1/jobs/${last.id}`)).status, 204);
    await waitFor(async () => (await a.getJob(last.id, { wait: 1 })).status === 404,
                  { timeoutMs: 10_000, message: 'a wait on A to see the job deleted on B' });
  });

  test('the server-wide event stream of one server shows the changes made on the others', async () => {
    const [a, b] = apis;
    const q = uniqueQueue('pg-events');
    const sse = await openSse(`${servers[2].url}/v1/events?queue=${q}`);
    assert.equal(sse.status, 200);
    const submitted = await a.submitOk(q, { payload: { n: 1 } });
    const job = await b.leaseOne(q);
    assert.equal(job.id, submitted.id);
    await b.ackOk(job.id, job.lease, { ok: true });
    const seen = [];
    while (seen.length < 3) {
      const frame = await sse.next(10_000);
      if (frame.event !== 'job') continue;
      assert.equal(frame.data.id, job.id);
      assert.equal(frame.data.queue, q);
      assert.ok(Date.parse(frame.data.at) > 0, frame.rawData);
      seen.push(`${frame.data.from}->${frame.data.to}`);
    }
    assert.deepEqual(seen, ['null->queued', 'queued->running', 'running->succeeded'],
                     'C streams a submit on A, a lease and an ack on B, each once, in order');
    sse.close();
  });

  test('many workers on every server: each job is leased once and succeeds once', async () => {
    const q = uniqueQueue('pg-once');
    const jobs = 300;
    await pool([...Array(jobs).keys()], 16, async (i) => {
      const res = await apis[i % 3].submit(q, { payload: { i } });
      assert.equal(res.status, 202, res.text);
    });
    const leasedIds = [];
    const workers = [...Array(12).keys()].map(async (w) => {
      const api = apis[w % 3];
      for (;;) {
        const res = await api.lease([q], { worker: `w${w}`, max: 4, wait: 1 });
        assert.equal(res.status, 200, res.text);
        if (res.body.jobs.length === 0) return;
        for (const j of res.body.jobs) {
          leasedIds.push(j.id);
          await api.ackOk(j.id, j.lease, { by: w });
        }
      }
    });
    await Promise.all(workers);
    assert.equal(leasedIds.length, jobs, 'every job leased exactly once in all');
    assert.equal(new Set(leasedIds).size, jobs, 'no job leased twice');
    for (const api of apis) {
      const stats = await api.req('GET', `/v1/queues/${q}`);
      assert.equal(stats.body.counts.succeeded, jobs, 'every server counts the same');
      assert.equal(stats.body.counts.running, 0);
      assert.equal(stats.body.succeeded_total, jobs);
    }
  });

  test('one idempotency key submitted on every server at once makes one job', async () => {
    const q = uniqueQueue('pg-key');
    // Rounds of 12 submits of one key, four on each server at the same
    // moment: they race to insert it, and the losers replay the winner.
    for (let round = 0; round < 5; round++) {
      const key = `order-${round}`;
      const answers = await Promise.all([...Array(12).keys()].map(
        (i) => apis[i % 3].submit(q, { payload: { round }, idempotency_key: key })));
      for (const res of answers) assert.equal(res.status, 202, res.text);
      const ids = new Set(answers.map((res) => res.body.id));
      assert.equal(ids.size, 1, `round ${round}: one job for the key, got ${[...ids].join(', ')}`);
      const replayed = answers.filter((res) => res.headers.get('idempotent-replayed') === 'true');
      assert.equal(replayed.length, 11, `round ${round}: every submit but one is a replay`);
    }
    const stats = await apis[0].req('GET', `/v1/queues/${q}`);
    assert.equal(stats.body.enqueued_total, 5, 'one job a key');
    assert.equal(stats.body.counts.queued, 5);
  });

  test('a server killed mid-lease: the lease runs out and another server delivers the job again', async () => {
    const q = uniqueQueue('pg-kill');
    const victim = servers[2];
    const doomed = new Api(victim);
    const job = await apis[0].submitOk(q, { payload: { n: 1 }, backoff: { initial_ms: 0, multiplier: 1, max_ms: 0, jitter: 0 } });
    const first = await doomed.leaseOne(q, { lease_ms: 1500 });
    assert.equal(first.id, job.id);
    await victim.kill9();

    const again = await apis[1].leaseOne(q, { wait: 15, timeoutMs: 30_000 });
    assert.equal(again.id, job.id, 'the job comes back on another server');
    assert.equal(again.attempt, 2);
    await apis[1].ackOk(again.id, again.lease, 'done');
    const events = await apis[0].events(job.id);
    const failed = events.find((e) => e.type === 'failed_attempt');
    assert.equal(failed?.error?.type, 'lease_expired', JSON.stringify(events));
    assert.equal(events.at(-1).type, 'succeeded');
  });
});

describe('waiting_on across servers', { skip }, () => {
  const THRESHOLD_MS = 4000;
  let db;
  let servers = [];
  before(async () => {
    db = createDatabase('errand_activity');
    servers = await Promise.all([0, 1].map(() => startServer({
      args: ['--store', db.url, '--no-worker-after-ms', String(THRESHOLD_MS)],
    })));
  });
  after(async () => {
    for (const s of servers) await s.close().catch(() => {});
    db?.drop();
  });

  test('a job read through a server no worker uses is not no_workers while workers ask another', async () => {
    const [a, b] = servers.map((s) => new Api(s));
    const q = uniqueQueue('pg-activity');
    await a.submitOk(q, { payload: { n: 1 } });
    const second = await a.submitOk(q, { payload: { n: 2 } });
    // Nobody has asked for the queue past the threshold: A says so.
    await waitFor(async () => (await a.job(second.id)).waiting_on?.reason === 'no_workers',
                  { timeoutMs: THRESHOLD_MS + 10_000, message: 'A to say no_workers' });
    const first = await b.leaseOne(q);
    assert.deepEqual(first.payload, { n: 1 });
    // B tells the others within about a second; A then knows a worker asked.
    const w = await waitFor(async () => {
      const doc = (await a.job(second.id)).waiting_on;
      return doc?.reason === 'queued' ? doc : null;
    }, { timeoutMs: THRESHOLD_MS, message: "A to know of the worker on B" });
    assert.equal(w.ahead, 0);
  });
});

describe('errand serve --store and errand migrate', { skip }, () => {
  test('migrate brings a database to the newest schema, and again is a no-op', async () => {
    const db = createDatabase('errand_migrate');
    try {
      const first = await runErrand(['migrate', '--store', db.url]);
      assert.equal(first.code, 0, first.stderr);
      const version = /errand schema version (\d+)/.exec(first.stdout)?.[1];
      assert.ok(Number(version) >= 2, first.stdout);
      const again = await runErrand(['migrate', '--store', db.url]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, first.stdout);
      assert.equal(psql(db.url, 'SELECT count(*) FROM errand.schema_version'), version);
    } finally {
      db.drop();
    }
  });

  test('a database written by a newer errand is refused, and left as it is', async () => {
    const db = createDatabase('errand_newer');
    try {
      assert.equal((await runErrand(['migrate', '--store', db.url])).code, 0);
      psql(db.url, 'INSERT INTO errand.schema_version (version) VALUES (999)');
      const res = await runErrand(['serve', '--store', db.url, '--listen', '127.0.0.1:0']);
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /newer than this errand knows/);
      assert.equal(psql(db.url, 'SELECT max(version) FROM errand.schema_version'), '999');
    } finally {
      db.drop();
    }
  });

  test('bad --store values are refused with a clear error', async () => {
    const bad = await runErrand(['serve', '--store', 'mysql://db/errand', '--listen', '127.0.0.1:0']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--store must be embedded or a postgresql:\/\/ URL/);
    const embedded = await runErrand(['migrate', '--store', 'embedded']);
    assert.equal(embedded.code, 2);
    assert.match(embedded.stderr, /migrate needs a postgresql:\/\/ URL/);
    // A database that does not exist: no server starts, and the URL's password is not printed.
    const missing = databaseUrl('errand_no_such_db').replace('user=postgres', 'user=postgres&password=s3cret');
    const gone = await runErrand(['serve', '--store', missing, '--listen', '127.0.0.1:0']);
    assert.equal(gone.code, 1, gone.stderr);
    assert.match(gone.stderr, /cannot open the store/);
    assert.doesNotMatch(gone.stderr + gone.stdout, /s3cret/);
    for (const value of ['-1', '3600001', 'soon']) {
      const timeout = await runErrand(['serve', '--store', databaseUrl('postgres'), '--store-timeout-ms', value,
                                       '--listen', '127.0.0.1:0']);
      assert.equal(timeout.code, 2, `--store-timeout-ms ${value}: ${timeout.stderr}`);
      assert.match(timeout.stderr, /--store-timeout-ms/);
    }
  });
});

