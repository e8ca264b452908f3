// Transactional enqueue on the PostgreSQL store (issue 8): an application
// calls errand.enqueue() inside its own transaction; the job exists, and
// workers are woken, if and only if that transaction commits. Also: values
// a client chooses (idempotency keys, tags) never reach SQL as code.
// Needs ctest's `postgres` fixture ($ERRAND_TEST_POSTGRES); skipped without it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Api, uniqueQueue, waitFor } from './lib/http.mjs';
import { createDatabase, postgresUrl, psql, psqlFile } from './lib/postgres.mjs';
import { startServer } from './lib/server.mjs';

const skip = postgresUrl() ? false : 'needs ERRAND_TEST_POSTGRES (ctest starts a PostgreSQL)';

async function openWaits(api) {
  const res = await api.req('GET', '/metrics');
  return Number(/^errand_open_waits (\S+)$/m.exec(res.text)?.[1]);
}

/** A SQL string literal (for the test's own statements only). */
const literal = (s) => `'${s.replaceAll("'", "''")}'`;

describe('errand.enqueue() inside an application transaction', { skip }, () => {
  let db;
  let srv;
  let api;
  before(async () => {
    db = createDatabase();
    srv = await startServer({ args: ['--store', db.url] });
    api = new Api(srv);
  });
  after(async () => {
    await srv?.close();
    db?.drop();
  });

  test('committed: the job is there, and a worker waiting for it gets it', async () => {
    const q = uniqueQueue('tx-commit');
    const leasing = api.lease([q], { wait: 20, timeoutMs: 30_000 });
    await waitFor(async () => (await openWaits(api)) === 1, { message: 'the long poll is open' });
    const out = psql(db.url, `BEGIN;
      CREATE TABLE IF NOT EXISTS carts (id serial PRIMARY KEY, total int);
      INSERT INTO carts (total) VALUES (42);
      SELECT errand.enqueue(${literal(q)}, '{"order": 42}', '{"priority": 2, "tags": ["shop"]}');
      COMMIT;`);
    const id = out.split('\n').find((l) => /^[0-9a-f-]{36}$/.test(l));
    assert.ok(id, `errand.enqueue returned no id: ${out}`);

    const leased = await leasing;
    assert.equal(leased.status, 200, leased.text);
    assert.equal(leased.body.jobs.length, 1);
    assert.equal(leased.body.jobs[0].id, id);
    assert.deepEqual(leased.body.jobs[0].payload, { order: 42 });
    assert.deepEqual(leased.body.jobs[0].tags, ['shop']);
    const doc = (await api.req('GET', `/v1/jobs/${id}`)).body;
    assert.equal(doc.priority, 2);
    assert.deepEqual((await api.events(id)).map((e) => e.type), ['enqueued', 'leased']);
    const stats = (await api.req('GET', `/v1/queues/${q}`)).body;
    assert.equal(stats.enqueued_total, 1, JSON.stringify(stats));
    assert.equal(stats.counts.running, 1, JSON.stringify(stats));
    assert.equal(stats.counts.queued, 0, JSON.stringify(stats));
  });

  test('examples/transactional-enqueue places an order and its charge job together', async () => {
    const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                                 '../../examples/transactional-enqueue/place_order.sql');
    const out = psqlFile(db.url, example, { customer: 'alice', total: 4200 });
    const [orderId, jobId] = out.split('\n').at(-1).split('|');
    const job = await api.leaseOne('charges');
    assert.equal(job.id, jobId);
    assert.deepEqual(job.payload, { order: Number(orderId), amount_cents: 4200 });
    const doc = (await api.req('GET', `/v1/jobs/${jobId}`)).body;
    assert.equal(doc.idempotency_key, `charge-${orderId}`);
    assert.equal(doc.max_attempts, 10);
  });

  test('rolled back: no job, and the waiting worker gets nothing', async () => {
    const q = uniqueQueue('tx-rollback');
    const leasing = api.lease([q], { wait: 2, timeoutMs: 30_000 });
    await waitFor(async () => (await openWaits(api)) === 1, { message: 'the long poll is open' });
    psql(db.url, `BEGIN;
      SELECT errand.enqueue(${literal(q)}, '{"order": 43}');
      ROLLBACK;`);
    const leased = await leasing;
    assert.equal(leased.status, 200, leased.text);
    assert.deepEqual(leased.body.jobs, [], 'nothing was committed, so nothing is leased');
    const listed = await api.req('GET', `/v1/jobs?queue=${q}`);
    assert.deepEqual(listed.body.jobs, []);
    assert.equal(psql(db.url, `SELECT count(*) FROM errand.jobs WHERE queue = ${literal(q)}`), '0');
  });

  test('options are checked as the HTTP API checks them, and a refusal changes nothing', () => {
    const q = uniqueQueue('tx-bad');
    const refusals = [
      [`'bad queue'`, `'{}'`, `'{}'`, /queue must be/],
      [literal(q), 'NULL', `'{}'`, /payload is required/],
      [literal(q), `'{}'`, `'{"priority": 1.5}'`, /priority must be an integer/],
      [literal(q), `'{}'`, `'{"max_attempts": 0}'`, /max_attempts must be an integer from 1/],
      [literal(q), `'{}'`, `'{"delay_ms": 1, "run_at": "2030-01-01T00:00:00Z"}'`, /not both/],
      [literal(q), `'{}'`, `'{"run_at": "tomorrow"}'`, /RFC 3339/],
      [literal(q), `'{}'`, `'{"colour": "red"}'`, /unknown option colour/],
      [literal(q), `'{}'`, `'{"backoff": {"jitter": 2}}'`, /jitter must be a number from 0 to 1/],
      [literal(q), `'{}'`, `'{"tags": [""]}'`, /tags must be/],
    ];
    for (const [queue, payload, options, message] of refusals) {
      assert.throws(() => psql(db.url, `SELECT errand.enqueue(${queue}, ${payload}, ${options})`),
                    (e) => message.test(e.stderr), `${queue} ${payload} ${options}`);
    }
    assert.equal(psql(db.url, `SELECT count(*) FROM errand.jobs WHERE queue = ${literal(q)}`), '0');
  });

  test('an idempotency key replays through SQL and HTTP alike', async () => {
    const q = uniqueQueue('tx-key');
    const first = psql(db.url, `SELECT errand.enqueue(${literal(q)}, '{"a": 1, "b": [1, 2]}',
                                '{"idempotency_key": "order-9"}')`);
    const again = psql(db.url, `SELECT errand.enqueue(${literal(q)}, '{"b":[1,2],"a":1}',
                                '{"idempotency_key": "order-9"}')`);
    assert.equal(again, first, 'the same JSON, spelled otherwise, is the same job');
    const viaHttp = await api.submit(q, { payload: { a: 1, b: [1, 2] }, idempotency_key: 'order-9' });
    assert.equal(viaHttp.body.id, first);
    assert.throws(() => psql(db.url, `SELECT errand.enqueue(${literal(q)}, '{"a": 2}',
                                      '{"idempotency_key": "order-9"}')`),
                  (e) => /already used with a different payload/.test(e.stderr));
    const conflict = await api.submit(q, { payload: { a: 2 }, idempotency_key: 'order-9' });
    assert.equal(conflict.status, 409, conflict.text);
    const stats = (await api.req('GET', `/v1/queues/${q}`)).body;
    assert.equal(stats.enqueued_total, 1, `a replay is not counted again: ${JSON.stringify(stats)}`);
    assert.equal(stats.counts.queued, 1, JSON.stringify(stats));
  });

  test('hostile keys and tags are stored as values, never run as SQL', async () => {
    const q = uniqueQueue('tx-hostile');
    const key = `'); DROP TABLE errand.jobs; --\\"{},NULL`;
    const tags = ['NULL', 'a,b', '{x}', 'quote"d', 'back\\slash', "it's"];
    const job = await api.submitOk(q, { payload: { n: 1 }, idempotency_key: key, tags });
    const doc = (await api.req('GET', `/v1/jobs/${job.id}`)).body;
    assert.equal(doc.idempotency_key, key);
    assert.deepEqual(doc.tags, tags);
    const leased = await api.leaseOne(q);
    assert.deepEqual(leased.tags, tags);
    const replay = await api.submit(q, { payload: { n: 1 }, idempotency_key: key, tags });
    assert.equal(replay.body.id, job.id);
    assert.equal(psql(db.url, "SELECT to_regclass('errand.jobs') IS NOT NULL"), 't');
  });
});
