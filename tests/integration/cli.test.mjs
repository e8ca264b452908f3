// SPEC §4, the client subcommands of the errand binary (docs/cli.md) against
// a real server: submit, get, events, jobs, queues, retry and cancel, their
// stdout (JSON or table), their one-sentence errors on stderr and their exit
// codes: 0 success, 1 a negative answer (job failed/cancelled/expired, no
// such job, state does not allow it), 2 usage or connection error.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  Api, UUIDV7_RE, assertJobDoc, randomUuidV7, uniqueQueue, waitFor,
} from './lib/http.mjs';
import { cli, freePort, show, within } from './lib/cli.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

const run = (args, opts) => cli(srv.url, args, opts);

/** One line on stderr, prefixed "errand: ", ending a sentence; nothing on stdout. */
function assertError(res, code, pattern) {
  assert.equal(res.code, code, show(res));
  assert.equal(res.stdout, '', `nothing on stdout: ${show(res)}`);
  const lines = res.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${show(res)}`);
  assert.match(lines[0], /^errand: .+[.?!]$/, `one sentence: ${show(res)}`);
  if (pattern) assert.match(lines[0], pattern, show(res));
}

/** A job that ended `failed` (one attempt, failed by a test worker). REQUIRES: `q` has no other queued job. */
async function failedJob(q) {
  const job = await api.submitOk(q, { payload: { bad: true }, max_attempts: 1 });
  const leased = await api.leaseOne(q);
  assert.equal((await api.fail(leased.id, leased.lease, { retry: false })).status, 200);
  return job;
}

describe('help', () => {
  for (const sub of ['submit', 'get', 'events', 'jobs', 'queues', 'retry', 'cancel', 'work']) {
    test(`errand ${sub} --help shows usage and an example`, async () => {
      const res = await cli(null, [sub, '--help']);
      assert.equal(res.code, 0, show(res));
      assert.match(res.stdout, new RegExp(`Usage: .*errand ${sub}`));
      assert.match(res.stdout, new RegExp(`Example: errand ${sub} `));
      assert.match(res.stdout, /--server/);
      assert.match(res.stdout, /ERRAND_URL/);
    });
  }

  test('an unknown option is a usage error (exit 2)', async () => {
    const res = await run(['submit', 'q', '{}', '--frobnicate']);
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /frobnicate/);
  });
});

describe('submit', () => {
  test('prints the accepted job as JSON and exits 0', async () => {
    const q = uniqueQueue('cli-submit');
    const res = await run(['submit', q, '{"n": 1}']);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.stderr, '');
    assert.ok(res.stdout.endsWith('\n') && res.stdout.trimEnd().split('\n').length === 1,
              'one line of JSON');
    assertJobDoc(res.json);
    assert.equal(res.json.queue, q);
    assert.equal(res.json.state, 'queued');
    assert.deepEqual(res.json.payload, { n: 1 });
    assert.deepEqual((await api.job(res.json.id)).payload, { n: 1 });
  });

  test('sets priority, key, delay, max attempts, ttl and tags', async () => {
    const q = uniqueQueue('cli-submit-opts');
    const res = await run(['submit', q, '[1,2]', '--priority', '7', '--key', 'k-1', '--delay',
                           '60000', '--max-attempts', '3', '--ttl', '600000', '--tag', 'a',
                           '--tag', 'b']);
    assert.equal(res.code, 0, show(res));
    const j = res.json;
    assert.equal(j.state, 'scheduled');
    assert.equal(j.priority, 7);
    assert.equal(j.idempotency_key, 'k-1');
    assert.equal(j.max_attempts, 3);
    assert.deepEqual(j.tags, ['a', 'b']);
    assert.ok(Date.parse(j.run_at) - Date.parse(j.created_at) >= 59_000, 'delayed by a minute');
    assert.ok(j.deadline !== null, 'ttl sets a deadline');
  });

  test('reads the payload from stdin with -', async () => {
    const res = await run(['submit', uniqueQueue('cli-stdin'), '-'], { input: '{"from":"stdin"}\n' });
    assert.equal(res.code, 0, show(res));
    assert.deepEqual(res.json.payload, { from: 'stdin' });
  });

  test('a payload that starts with - goes after --', async () => {
    const res = await run(['submit', uniqueQueue('cli-dashdash'), '--priority', '2', '--', '-5']);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.payload, -5);
    assert.equal(res.json.priority, 2);
  });

  test('without a payload submits {}', async () => {
    const res = await run(['submit', uniqueQueue('cli-nopayload')]);
    assert.equal(res.code, 0, show(res));
    assert.deepEqual(res.json.payload, {});
  });

  test('a payload that is not JSON is a usage error and stores nothing', async () => {
    const q = uniqueQueue('cli-badjson');
    for (const bad of ['hello', '{n:1}', '{"a":1']) {
      assertError(await run(['submit', q, bad]), 2, /payload is not valid JSON/);
    }
    assertError(await run(['submit', q, '-'], { input: 'not json' }), 2, /not valid JSON/);
    assert.equal((await api.req('GET', `/v1/queues/${q}`)).status, 404, 'no queue, no job');
  });

  test('a bad queue name is a usage error', async () => {
    assertError(await run(['submit', 'bad queue!', '{}']), 2, /not a valid queue name/);
  });

  test('--wait prints the finished job: exit 0 when it succeeded', async () => {
    const q = uniqueQueue('cli-wait-ok');
    const submitting = run(['submit', q, '{"x":2}', '--wait', '20']);
    const leased = await api.leaseOne(q, { wait: 10 });
    await api.ackOk(leased.id, leased.lease, { doubled: 4 });
    const res = await submitting;
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.state, 'succeeded');
    assert.deepEqual(res.json.result, { doubled: 4 });
  });

  test('--wait exits 1 when the job failed, and prints it with its error', async () => {
    const q = uniqueQueue('cli-wait-fail');
    const submitting = run(['submit', q, '{}', '--wait', '20', '--max-attempts', '1']);
    const leased = await api.leaseOne(q, { wait: 10 });
    await api.fail(leased.id, leased.lease, { error: { message: 'card declined', type: 'declined' } });
    const res = await submitting;
    assert.equal(res.code, 1, show(res));
    assert.equal(res.json.state, 'failed');
    assert.equal(res.json.error.message, 'card declined');
  });

  test('--wait that runs out prints the accepted job and exits 0', async () => {
    const res = await run(['submit', uniqueQueue('cli-wait-202'), '{}', '--wait', '0.3']);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.state, 'queued');
  });

  test('the same --key returns the same job; with another payload it is a conflict (exit 1)', async () => {
    const q = uniqueQueue('cli-key');
    const first = await run(['submit', q, '{"a":1}', '--key', 'order-42']);
    const again = await run(['submit', q, '{"a":1}', '--key', 'order-42']);
    assert.equal(again.code, 0, show(again));
    assert.equal(again.json.id, first.json.id);
    assertError(await run(['submit', q, '{"a":2}', '--key', 'order-42']), 1, /order-42/);
  });
});

describe('get', () => {
  test('prints the job and exits 0', async () => {
    const job = await api.submitOk(uniqueQueue('cli-get'), { payload: 'p' });
    const res = await run(['get', job.id]);
    assert.equal(res.code, 0, show(res));
    assertJobDoc(res.json);
    assert.equal(res.json.id, job.id);
  });

  test('an unknown job exits 1 with "no job <id>."', async () => {
    const id = randomUuidV7();
    assertError(await run(['get', id]), 1, new RegExp(`^errand: no job ${id}\\.$`));
    assertError(await run(['get', 'not-a-uuid']), 1, /no job not-a-uuid/);
  });

  test('a failed job exits 1', async () => {
    const job = await failedJob(uniqueQueue('cli-get-failed'));
    const res = await run(['get', job.id]);
    assert.equal(res.code, 1, show(res));
    assert.equal(res.json.state, 'failed');
  });

  test('--wait returns once the job finished', async () => {
    const q = uniqueQueue('cli-get-wait');
    const job = await api.submitOk(q, { payload: 1 });
    const getting = run(['get', job.id, '--wait', '20']);
    const leased = await api.leaseOne(q);
    await api.ackOk(leased.id, leased.lease, 'done');
    const res = await getting;
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.state, 'succeeded');
    assert.equal(res.json.result, 'done');
  });
});

describe('events', () => {
  test('follows the timeline live, one JSON line per event, until the terminal event', async () => {
    const q = uniqueQueue('cli-events');
    const job = await api.submitOk(q, { payload: 1 });
    const following = run(['events', job.id]);
    const leased = await api.leaseOne(q);
    await api.heartbeat(leased.id, leased.lease, { progress: { percent: 50, message: 'half' } });
    await api.ackOk(leased.id, leased.lease, 1);
    const res = await within(following, 20_000, 'errand events to end');
    assert.equal(res.code, 0, show(res));
    const events = res.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.type), ['enqueued', 'leased', 'progress', 'succeeded']);
    assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4]);
    assert.equal(events[2].message, 'half');
  });

  test('--no-follow prints the events so far and exits', async () => {
    const job = await api.submitOk(uniqueQueue('cli-events-now'), { payload: 1 });
    const res = await run(['events', job.id, '--no-follow']);
    assert.equal(res.code, 0, show(res));
    assert.deepEqual(res.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).type), ['enqueued']);
  });

  test('an unknown job exits 1', async () => {
    assertError(await run(['events', randomUuidV7()]), 1, /no job/);
    assertError(await run(['events', randomUuidV7(), '--no-follow']), 1, /no job/);
  });
});

describe('jobs', () => {
  test('lists jobs as JSON, filtered by queue and state, newest first', async () => {
    const q = uniqueQueue('cli-jobs');
    const bad = await failedJob(q);
    const a = await api.submitOk(q, { payload: 'a' });
    const b = await api.submitOk(q, { payload: 'b' });
    const all = await run(['jobs', '--queue', q]);
    assert.equal(all.code, 0, show(all));
    assert.deepEqual(all.json.jobs.map((j) => j.id), [b.id, a.id, bad.id]);
    all.json.jobs.forEach(assertJobDoc);
    assert.equal(all.json.next, null);
    const failed = await run(['jobs', '--queue', q, '--state', 'failed']);
    assert.deepEqual(failed.json.jobs.map((j) => j.id), [bad.id]);
  });

  test('pages with --limit and --cursor', async () => {
    const q = uniqueQueue('cli-jobs-page');
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await api.submitOk(q, { payload: i })).id);
    const first = await run(['jobs', '--queue', q, '--limit', '2']);
    assert.equal(first.json.jobs.length, 2);
    assert.equal(typeof first.json.next, 'string');
    const second = await run(['jobs', '--queue', q, '--limit', '2', '--cursor', first.json.next]);
    assert.deepEqual([...first.json.jobs, ...second.json.jobs].map((j) => j.id), ids.reverse());
  });

  test('--format table prints aligned columns', async () => {
    const q = uniqueQueue('cli-jobs-table');
    const bad = await failedJob(q);
    const job = await api.submitOk(q, { payload: 1 });
    const res = await run(['jobs', '--queue', q, '--format', 'table']);
    assert.equal(res.code, 0, show(res));
    const lines = res.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, res.stdout);
    assert.match(lines[0], /^ID +QUEUE +STATE +ATTEMPT +PROGRESS +CREATED +ERROR$/);
    assert.match(lines[1], new RegExp(`^${job.id} +${q} +queued +0/5 +- +\\S+ +-$`));
    assert.match(lines[2], new RegExp(`^${bad.id} +${q} +failed +1/1 +- +\\S+ +boom$`));
    const column = lines[0].indexOf('STATE');
    for (const line of lines.slice(1)) assert.match(line.slice(column), /^(failed|queued) /);
  });

  test('a bad --state is a usage error', async () => {
    const res = await run(['jobs', '--state', 'done']);
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /--state/);
  });
});

describe('queues', () => {
  test('lists queues as JSON and as a table', async () => {
    const q = uniqueQueue('cli-queues');
    await api.submitOk(q, { payload: 1 });
    await api.submitOk(q, { payload: 2 });
    const res = await run(['queues']);
    assert.equal(res.code, 0, show(res));
    const mine = res.json.queues.find((x) => x.name === q);
    assert.equal(mine.counts.queued, 2);

    const table = await run(['queues', '--format', 'table']);
    assert.equal(table.code, 0, show(table));
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^NAME +PAUSED +SCHEDULED +QUEUED +RUNNING +SUCCEEDED +FAILED +CANCELLED +EXPIRED +OLDEST$/);
    assert.match(lines.find((l) => l.startsWith(`${q} `)), new RegExp(`^${q} +no +0 +2 +0 +0 +0 +0 +0 +\\d`));
  });
});

describe('retry', () => {
  test('puts a failed job back in its queue', async () => {
    const job = await failedJob(uniqueQueue('cli-retry'));
    const res = await run(['retry', job.id]);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.id, job.id);
    assert.equal(res.json.state, 'queued');
  });

  test('a job that cannot be retried exits 1 with the reason', async () => {
    const job = await api.submitOk(uniqueQueue('cli-retry-queued'), { payload: 1 });
    assertError(await run(['retry', job.id]), 1, new RegExp(`job ${job.id} is queued`));
    assertError(await run(['retry', randomUuidV7()]), 1, /no job/);
  });
});

describe('cancel', () => {
  test('cancels a queued job; a second cancel exits 1', async () => {
    const job = await api.submitOk(uniqueQueue('cli-cancel'), { payload: 1 });
    const res = await run(['cancel', job.id]);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.state, 'cancelled');
    assertError(await run(['cancel', job.id]), 1, new RegExp(`job ${job.id} is already cancelled`));
  });

  test('a running job gets cancel_requested (exit 0)', async () => {
    const q = uniqueQueue('cli-cancel-running');
    const { job } = await api.submitAndLease(q);
    const res = await run(['cancel', job.id]);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.state, 'running');
    assert.equal(res.json.cancel_requested, true);
  });

  test('an unknown job exits 1', async () => {
    assertError(await run(['cancel', randomUuidV7()]), 1, /no job/);
  });
});

describe('server and token', () => {
  test('an unreachable server exits 2 with one sentence naming the URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const id = randomUuidV7();
    for (const args of [['submit', 'q', '{}'], ['get', id], ['events', id], ['jobs'], ['queues'],
                        ['retry', id], ['cancel', id]]) {
      assertError(await cli(url, args), 2, new RegExp(`${url.replace(/\./g, '\\.')}`));
    }
  });

  test('--server wins over ERRAND_URL', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const res = await cli(dead, ['submit', uniqueQueue('cli-flag'), '{}', '--server', srv.url]);
    assert.equal(res.code, 0, show(res));
  });

  test('a --server that is not an http URL is a usage error', async () => {
    assertError(await run(['queues', '--server', 'localhost:7400']), 2, /http:\/\//);
  });

  test('the token goes out as a Bearer header, from --token or ERRAND_TOKEN', async () => {
    // A stand-in server that records the header and refuses like errand does.
    const seen = [];
    const fake = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? null);
      res.writeHead(401, { 'content-type': 'application/problem+json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401,
                               detail: 'the token is not valid' }));
    });
    await new Promise((r) => fake.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${fake.address().port}`;
    try {
      const flag = await cli(url, ['queues', '--token', 's3cret']);
      assertError(flag, 2, /the token is not valid .*--token or ERRAND_TOKEN/);
      const env = await cli(url, ['queues'], { env: { ERRAND_TOKEN: 'from-env' } });
      assertError(env, 2, /not valid/);
      const none = await cli(url, ['queues']);
      assertError(none, 2);
      assert.deepEqual(seen, ['Bearer s3cret', 'Bearer from-env', null]);
    } finally {
      fake.close();
    }
  });
});

test('a job from submit through fail, retry and cancel, and its whole timeline', async () => {
  const q = uniqueQueue('cli-tour');
  const sub = await run(['submit', q, '{"tour":true}', '--max-attempts', '1', '--priority', '1']);
  assert.match(sub.json.id, UUIDV7_RE);
  const leased = await api.leaseOne(q);
  await api.fail(leased.id, leased.lease, { error: { message: 'nope', type: 'x' }, retry: false });
  await waitFor(async () => (await run(['get', sub.json.id])).json.state === 'failed');
  const retried = await run(['retry', sub.json.id]);
  assert.equal(retried.json.state, 'queued');
  const cancelled = await run(['cancel', sub.json.id]);
  assert.equal(cancelled.json.state, 'cancelled');
  const events = await run(['events', sub.json.id]);
  assert.equal(events.code, 0, show(events));
  assert.deepEqual(events.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).type),
                   ['enqueued', 'leased', 'failed_attempt', 'failed', 'retried_by_admin',
                    'cancelled']);
});
