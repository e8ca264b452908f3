// Logs (issue 4 part 5, docs/logging.md): `--log-format text|json`, one line
// per notable event with the job id, queue and the submitter's trace id;
// never a payload, result or error message, nor a token.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Api, FAST_BACKOFF, uniqueQueue, waitFor } from './lib/http.mjs';
import { runErrand, startServer } from './lib/server.mjs';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
// Customer data that must never reach the log.
const SECRET_PAYLOAD = 'payload-do-not-log-7f3a';
const SECRET_RESULT = 'result-do-not-log-91cc';
const SECRET_ERROR = 'error-message-do-not-log-22be';

/** The server's stderr as parsed JSON lines (all of them must parse). */
function jsonLines(srv) {
  return srv.stderr().split('\n').filter((l) => l.length > 0).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`a log line is not JSON: ${l}`);
    }
  });
}

/** Runs one job through a failed attempt, a retry and a final failure. */
async function failTwice(api, q) {
  const job = await api.submitOk(q, { payload: { card: SECRET_PAYLOAD }, max_attempts: 2, backoff: FAST_BACKOFF },
                                 { headers: { traceparent: TRACEPARENT } });
  for (let i = 0; i < 2; i++) {
    const l = await waitFor(async () => (await api.leaseJobs([q]))[0], { message: 'a lease' });
    const r = await api.fail(l.id, l.lease, { error: { message: SECRET_ERROR, type: 'card_declined' } });
    assert.equal(r.status, 200, r.text);
  }
  return job;
}

describe('--log-format json', () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer({ args: ['--log-format', 'json'] });
    api = new Api(srv);
  });
  after(() => srv?.close());

  test('every line is one JSON object with time, level and msg', async () => {
    const lines = await waitFor(() => {
      const ls = jsonLines(srv);
      return ls.some((l) => l.msg === 'serving') && ls;
    }, { message: 'the start-up line' });
    for (const l of lines) {
      assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level), l.level);
      assert.equal(typeof l.msg, 'string');
    }
    const serving = lines.find((l) => l.msg === 'serving');
    assert.equal(serving.port, Number(new URL(srv.url).port));
  });

  test('a failed attempt and a dead letter are logged with job, queue and trace id; no payload or message', async () => {
    const q = uniqueQueue('logs');
    const job = await failTwice(api, q);
    const mine = await waitFor(() => {
      const ls = jsonLines(srv).filter((l) => l.job === job.id);
      return ls.some((l) => l.msg.startsWith('job failed')) && ls;
    }, { message: 'the dead-letter line' });
    const retry = mine.find((l) => l.msg === 'job attempt failed, will retry');
    assert.ok(retry, JSON.stringify(mine));
    assert.equal(retry.level, 'warn');
    assert.equal(retry.queue, q);
    assert.equal(retry.trace_id, TRACE_ID);
    assert.equal(retry.attempt, 1);
    assert.equal(retry.error_type, 'card_declined');
    assert.equal(retry.worker, 'test-worker');
    const dead = mine.find((l) => l.msg.startsWith('job failed'));
    assert.equal(dead.level, 'error');
    assert.equal(dead.attempt, 2);
    assert.equal(dead.to, 'failed');
    // The normal path (submitted, leased) is debug: not at the default info.
    assert.ok(!mine.some((l) => l.level === 'debug'), JSON.stringify(mine));
    const all = srv.stderr();
    assert.ok(!all.includes(SECRET_PAYLOAD), 'the payload is not logged');
    assert.ok(!all.includes(SECRET_ERROR), 'the error message is not logged');
  });

  test('operator actions are logged: retry, discard, pause and resume', async () => {
    const q = uniqueQueue('logs-op');
    const job = await api.submitOk(q, { payload: 1, max_attempts: 1 });
    const l = (await api.leaseJobs([q]))[0];
    assert.equal((await api.fail(l.id, l.lease)).status, 200);
    assert.equal((await api.req('POST', `/v1/jobs/${job.id}/retry`)).status, 200);
    const l2 = (await api.leaseJobs([q]))[0];
    assert.equal((await api.fail(l2.id, l2.lease)).status, 200);
    assert.equal((await api.req('DELETE', `/v1/jobs/${job.id}`)).status, 204);
    assert.equal((await api.req('POST', `/v1/queues/${q}/pause`)).status, 200);
    assert.equal((await api.req('POST', `/v1/queues/${q}/resume`)).status, 200);
    const msgs = await waitFor(() => {
      const ls = jsonLines(srv).filter((x) => x.job === job.id || x.queue === q).map((x) => x.msg);
      return ls.includes('queue resumed') && ls;
    }, { message: 'the operator lines' });
    for (const m of ['job retried', 'job discarded', 'queue paused', 'queue resumed']) {
      assert.ok(msgs.includes(m), `${m} in ${JSON.stringify(msgs)}`);
    }
  });
});

describe('--log-format text --log-level debug', () => {
  let srv;
  let api;
  before(async () => {
    srv = await startServer({ args: ['--log-format', 'text', '--log-level', 'debug'] });
    api = new Api(srv);
  });
  after(() => srv?.close());

  test('the normal path is logged at debug as key=value lines, without the result', async () => {
    const q = uniqueQueue('logs-text');
    const job = await api.submitOk(q, { payload: SECRET_PAYLOAD }, { headers: { traceparent: TRACEPARENT } });
    const l = (await api.leaseJobs([q]))[0];
    await api.ackOk(l.id, l.lease, { note: SECRET_RESULT });
    const lines = await waitFor(() => {
      const ls = srv.stderr().split('\n').filter((x) => x.includes(`job=${job.id}`));
      return ls.some((x) => x.includes('job succeeded')) && ls;
    }, { message: 'the succeeded line' });
    const line = /^(\S+) (debug|info|warn|error) (job [a-z]+) (.*)$/;
    const msgs = lines.map((x) => {
      const m = line.exec(x);
      assert.ok(m, `not a text line: ${x}`);
      assert.equal(m[2], 'debug');
      assert.match(m[4], new RegExp(`queue=${q} trace_id=${TRACE_ID} attempt=\\d`));
      return m[3];
    });
    assert.deepEqual(msgs, ['job submitted', 'job leased', 'job succeeded']);
    assert.ok(!srv.stderr().includes(SECRET_PAYLOAD));
    assert.ok(!srv.stderr().includes(SECRET_RESULT));
  });

  test('a job without traceparent has no trace_id field', async () => {
    const q = uniqueQueue('logs-notrace');
    const job = await api.submitOk(q, { payload: 1 });
    const line = await waitFor(() => srv.stderr().split('\n').find((x) => x.includes(`job=${job.id}`)),
                               { message: 'the submitted line' });
    assert.ok(!line.includes('trace_id='), line);
  });
});

test('a bad --log-format or --log-level is a usage error (exit 2) naming the choices', async () => {
  for (const args of [['--log-format', 'xml'], ['--log-level', 'verbose']]) {
    const r = await runErrand(['serve', '--listen', '127.0.0.1:0', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /log-(format|level)/);
  }
});

test('a stderr nobody reads never stalls the server: lines are dropped and counted', async () => {
  const srv = await startServer({ args: ['--log-format', 'json', '--log-level', 'debug'] });
  try {
    const api = new Api(srv);
    srv.proc.stderr.pause(); // the pipe fills, then the log's queue (8192 lines)
    const q = uniqueQueue('logs-flood');
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ payload: i }));
    const dropped = async () => {
      const text = (await api.req('GET', '/metrics')).text;
      return Number(/\nerrand_log_lines_dropped_total (\d+)\n/.exec(text)?.[1]);
    };
    assert.equal(await dropped(), 0);
    // One debug line per submit: well past the pipe and the queue.
    for (let i = 0; i < 15; i++) assert.equal((await api.batch(q, jobs)).status, 202);
    assert.ok(await dropped() > 0, 'errand_log_lines_dropped_total moved');
    const one = await api.submit(q, { payload: 'still answering' }, { wait: 0 });
    assert.equal(one.status, 202);
  } finally {
    srv.proc.stderr.resume();
    await srv.close();
  }
});
