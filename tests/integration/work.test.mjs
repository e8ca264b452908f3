// SPEC §4 `errand work QUEUE... -- CMD ARGS...` (docs/cli.md, "errand work")
// against a real server, with /bin/sh scripts as commands: the result from
// stdout (JSON or not), failures with the tail of stderr, progress lines,
// errand:no-retry, --timeout, cancellation, SIGTERM drain, a second SIGTERM,
// the stdout limit, flow steps and compensations (ERRAND_FLOW_*), usage
// errors, surviving a server restart, and examples/shell end to end.
//
// Commands wait on files the test creates (never on the clock), and every
// wait has a deadline generous enough for sanitizer builds.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Api, uniqueQueue, waitFor } from './lib/http.mjs';
import { cli, scratchDir, show, startServerOnFixedPort, startWorker, within } from './lib/cli.mjs';
import { startServer } from './lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WAIT_MS = 30_000; // for anything that involves a heartbeat or a reconnect

let srv;
let api;
let scratch;
const workers = [];
before(async () => {
  srv = await startServer();
  api = new Api(srv);
  scratch = scratchDir('errand-work-');
});
after(async () => {
  for (const w of workers) if (w.alive()) await w.stop().catch(() => {});
  await srv?.close();
  scratch?.remove();
});

/** Starts a worker that is stopped after the file's tests. */
function worker(queues, command, opts = {}) {
  const w = startWorker(opts.server ?? srv, queues, command, opts);
  workers.push(w);
  return w;
}

/** Waits for the job to reach one of `states`; returns the job document. */
async function jobIn(id, states, timeoutMs = WAIT_MS) {
  return waitFor(async () => {
    const doc = await api.job(id);
    return states.includes(doc.state) ? doc : null;
  }, { timeoutMs, intervalMs: 50, message: `job ${id} to be ${states.join(' or ')}` });
}

/** A script that blocks until the file `go` exists (bounded), so tests decide when it ends. */
function waitForFile(variable) {
  return `i=0; while [ ! -e "$${variable}" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`;
}

describe('results', () => {
  test('JSON on stdout is the result; the command gets the payload and the job in its env', async () => {
    const q = uniqueQueue('work-json');
    const cmd = scratch.script('json.sh', [
      'payload=$(cat)',
      'printf \'{"payload":%s,"id":"%s","attempt":%s,"queue":"%s","max":%s}\\n\' ' +
        '"$payload" "$ERRAND_JOB_ID" "$ERRAND_ATTEMPT" "$ERRAND_QUEUE" "$ERRAND_MAX_ATTEMPTS"',
    ].join('\n'));
    const w = worker([q], [cmd]);
    const res = await cli(srv.url, ['submit', q, '{"n": 5}', '--wait', '20', '--max-attempts', '4']);
    assert.equal(res.code, 0, show(res) + w.stderr());
    assert.equal(res.json.state, 'succeeded');
    assert.deepEqual(res.json.result,
                     { payload: { n: 5 }, id: res.json.id, attempt: 1, queue: q, max: 4 });
    assert.match(w.stderr(), new RegExp(`job ${res.json.id} succeeded`));
  });

  test('other stdout is a JSON string with one trailing newline removed; none is null', async () => {
    const q = uniqueQueue('work-text');
    const cmd = scratch.script('text.sh', [
      'case "$(cat)" in',
      '  \'"text"\') printf \'plain text\\nsecond line\\n\\n\' ;;',
      '  \'"quiet"\') ;;',
      'esac',
    ].join('\n'));
    worker([q], [cmd]);
    const text = await cli(srv.url, ['submit', q, '"text"', '--wait', '20']);
    assert.equal(text.json.state, 'succeeded', show(text));
    assert.equal(text.json.result, 'plain text\nsecond line\n');
    const quiet = await cli(srv.url, ['submit', q, '"quiet"', '--wait', '20']);
    assert.equal(quiet.json.state, 'succeeded', show(quiet));
    assert.equal(quiet.json.result, null);
  });

  test('a non-zero exit fails the attempt with the last stderr line and the tail', async () => {
    const q = uniqueQueue('work-fail');
    const cmd = scratch.script('fail.sh', [
      'echo "reading input" >&2',
      'echo "convert: bad size -1" >&2',
      'exit 3',
    ].join('\n'));
    const w = worker([q], [cmd]);
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '20', '--max-attempts', '1']);
    assert.equal(res.code, 1, show(res));
    assert.equal(res.json.state, 'failed');
    const { error } = res.json;
    assert.equal(error.message, 'convert: bad size -1');
    assert.equal(error.type, 'exit');
    assert.equal(error.detail, 'reading input\nconvert: bad size -1\n(exit status 3)');
    assert.equal(error.attempt, 1);
    // The worker's log carries the command's stderr, tagged with the job.
    assert.match(w.stderr(), new RegExp(`\\[${res.json.id}\\] convert: bad size -1`));
    assert.match(w.stderr(), new RegExp(`job ${res.json.id} failed \\(exit\\)`));
  });

  test('the error keeps only the tail of a long stderr', async () => {
    const q = uniqueQueue('work-tail');
    const cmd = scratch.script('noisy.sh', [
      'i=0; while [ $i -lt 2000 ]; do echo "line $i of a long log" >&2; i=$((i+1)); done',
      'exit 1',
    ].join('\n'));
    worker([q], [cmd, 'arg'], { args: ['--quiet'] });
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '20', '--max-attempts', '1']);
    assert.equal(res.json.state, 'failed', show(res));
    const { detail, message } = res.json.error;
    assert.equal(message, 'line 1999 of a long log');
    assert.ok(detail.length <= 4200, `bounded detail (${detail.length} bytes)`);
    assert.ok(detail.endsWith('line 1999 of a long log\n(exit status 1)'), detail.slice(-100));
    assert.match(detail, /^line \d+ of a long log\n/, 'starts at a line boundary');
  });

  test('death by a signal fails the attempt with type signal', async () => {
    const q = uniqueQueue('work-signal');
    worker([q], [scratch.script('segv.sh', 'kill -SEGV $$')]);
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '20', '--max-attempts', '1']);
    assert.equal(res.json.state, 'failed', show(res));
    assert.equal(res.json.error.type, 'signal');
    assert.equal(res.json.error.message, 'the command was killed by SIGSEGV');
  });

  test('an errand:no-retry line makes the failure final, with its type', async () => {
    const q = uniqueQueue('work-noretry');
    const cmd = scratch.script('decline.sh', [
      'echo "errand:no-retry declined" >&2',
      'echo "the card was declined" >&2',
      'exit 1',
    ].join('\n'));
    const w = worker([q], [cmd]);
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '20', '--max-attempts', '5']);
    assert.equal(res.code, 1, show(res) + w.stderr());
    assert.equal(res.json.state, 'failed');
    assert.equal(res.json.attempt, 1, 'not retried');
    assert.equal(res.json.error.type, 'declined');
    assert.equal(res.json.error.message, 'the card was declined');
    assert.equal(res.json.error.detail, 'the card was declined\n(exit status 1)');
  });

  test('more than 1 MiB on stdout fails the job for good', async () => {
    const q = uniqueQueue('work-big');
    worker([q], [scratch.script('big.sh', "head -c 1100000 /dev/zero | tr '\\0' a")]);
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '20']);
    assert.equal(res.code, 1, show(res));
    assert.equal(res.json.state, 'failed');
    assert.equal(res.json.attempt, 1, 'not retried: the same input gives the same output');
    assert.equal(res.json.error.type, 'result_too_large');
  });
});

describe('progress, timeout, cancellation', () => {
  test('errand:progress lines report progress on the job while the command runs', async () => {
    const q = uniqueQueue('work-progress');
    const go = scratch.file('progress-go');
    const cmd = scratch.script('progress.sh', [
      'echo "errand:progress 30 resizing 3 images" >&2',
      waitForFile('GO'),
      'echo "errand:progress 100 done" >&2',
      'echo \'{"resized":3}\'',
    ].join('\n'));
    worker([q], [cmd], { env: { GO: go } });
    const job = await api.submitOk(q, { payload: {} });
    const running = await waitFor(async () => {
      const doc = await api.job(job.id);
      return doc.progress?.percent === 30 ? doc : null;
    }, { timeoutMs: WAIT_MS, message: 'progress 30 on the job' });
    assert.equal(running.state, 'running');
    assert.equal(running.progress.message, 'resizing 3 images');
    writeFileSync(go, '');
    const done = await jobIn(job.id, ['succeeded']);
    assert.deepEqual(done.result, { resized: 3 });
    assert.equal(done.progress.percent, 100);
    const progress = (await api.events(job.id)).filter((e) => e.type === 'progress');
    assert.deepEqual(progress.map((e) => [Number(e.percent), e.message]),
                     [[30, 'resizing 3 images'], [100, 'done']]);
  });

  test('--timeout stops the command (SIGTERM) and fails the attempt with type timeout', async () => {
    const q = uniqueQueue('work-timeout');
    const cmd = scratch.script('slow.sh', [
      'trap \'echo "got TERM" >&2; exit 1\' TERM',
      'sleep 60 & wait',
    ].join('\n'));
    const w = worker([q], [cmd], { args: ['--timeout', '1', '--kill-grace', '2'] });
    const started = Date.now();
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '30', '--max-attempts', '1']);
    assert.equal(res.code, 1, show(res));
    assert.equal(res.json.error.type, 'timeout');
    assert.equal(res.json.error.message, 'the command ran longer than its timeout of 1 s');
    assert.match(res.json.error.detail, /^got TERM\n\(stopped after/);
    assert.ok(Date.now() - started < 20_000, 'stopped long before the command would have ended');
    assert.ok(w.alive(), 'the worker goes on');
  });

  test('a command that ignores SIGTERM is killed after --kill-grace', async () => {
    const q = uniqueQueue('work-kill');
    const cmd = scratch.script('stubborn.sh', "trap '' TERM\nsleep 60");
    worker([q], [cmd], { args: ['--timeout', '0.5', '--kill-grace', '0.5'] });
    const started = Date.now();
    const res = await cli(srv.url, ['submit', q, '{}', '--wait', '30', '--max-attempts', '1']);
    assert.equal(res.json.error.type, 'timeout', show(res));
    assert.ok(Date.now() - started < 20_000);
  });

  test('cancelling a running job sends SIGTERM to its command and the job ends cancelled', async () => {
    const q = uniqueQueue('work-cancel');
    const mark = scratch.file('cancel-mark');
    const startedFile = scratch.file('cancel-started');
    const cmd = scratch.script('cancellable.sh', [
      'trap \'echo TERM > "$MARK"; exit 143\' TERM',
      'touch "$STARTED"',
      'sleep 60 & wait',
    ].join('\n'));
    // A 3 s lease: heartbeats, which bring the cancellation, every second.
    const w = worker([q], [cmd], { args: ['--lease-ms', '3000'], env: { MARK: mark, STARTED: startedFile } });
    const job = await api.submitOk(q, { payload: {}, max_attempts: 3 });
    await waitFor(() => existsSync(startedFile), { timeoutMs: WAIT_MS, message: 'the command to start' });
    const res = await cli(srv.url, ['cancel', job.id]);
    assert.equal(res.code, 0, show(res));
    assert.equal(res.json.cancel_requested, true);
    const done = await jobIn(job.id, ['cancelled', 'failed', 'succeeded', 'queued', 'scheduled']);
    assert.equal(done.state, 'cancelled', JSON.stringify(done) + w.stderr());
    assert.equal(done.attempt, 1);
    assert.equal(readFileSync(mark, 'utf8'), 'TERM\n', 'the command got SIGTERM');
    assert.match(w.stderr(), new RegExp(`job ${job.id} failed \\(cancelled\\)`));
  });
});

describe('flows', () => {
  /** Waits for the flow to finish; returns its document. */
  async function flowDone(id) {
    const flow = await api.flow(id, { wait: 20 });
    assert.ok(['succeeded', 'failed', 'cancelled'].includes(flow.state), JSON.stringify(flow));
    return flow;
  }

  test('a step learns its flow and inputs from the environment, and so does a compensation', async () => {
    const [qa, qb, qc] = [uniqueQueue('work-flow-a'), uniqueQueue('work-flow-b'), uniqueQueue('work-flow-c')];
    // Every job answers what it was told; step c declines, which undoes a.
    const cmd = scratch.script('flow-env.sh', [
      'if [ "$ERRAND_FLOW_STEP" = c ]; then echo "errand:no-retry declined" >&2; echo "c says no" >&2; exit 1; fi',
      'printf \'{"flow":"%s","step":"%s","compensating":%s,"inputs":%s,"file":"%s"}\\n\' ' +
        '"$ERRAND_FLOW_ID" "$ERRAND_FLOW_STEP" "$ERRAND_FLOW_COMPENSATING" "$ERRAND_FLOW_INPUTS" ' +
        '"${ERRAND_FLOW_INPUTS_FILE:-none}"',
    ].join('\n'));
    const w = worker([qa, qb, qc], [cmd]);
    const submitted = await api.submitFlowOk({ steps: {
      a: { queue: qa, payload: {}, compensate: { queue: qa, payload: {} } },
      b: { queue: qb, payload: {}, after: ['a'] },
      c: { queue: qc, payload: {}, after: ['b'] },
    } });
    const flow = await flowDone(submitted.id);
    assert.equal(flow.state, 'failed', JSON.stringify(flow) + w.stderr());
    const a = { flow: flow.id, step: 'a', compensating: 0, inputs: {}, file: 'none' };
    assert.deepEqual(flow.steps.a.result, a);
    assert.deepEqual(flow.steps.b.result,
                     { flow: flow.id, step: 'b', compensating: 0, inputs: { a }, file: 'none' });
    assert.deepEqual(flow.error, { step: 'c', message: 'c says no', type: 'declined' });
    assert.equal((await api.job(flow.steps.c.job)).attempt, 1);
    assert.equal(flow.steps.a.compensation.state, 'succeeded');
    const undo = await api.job(flow.steps.a.compensation.job);
    assert.deepEqual(undo.result,
                     { flow: flow.id, step: 'a', compensating: 1, inputs: { a }, file: 'none' });
  });

  test('inputs over 64 KiB come in a file, removed once the command ended', async () => {
    const [qa, qb] = [uniqueQueue('work-big-in-a'), uniqueQueue('work-big-in-b')];
    const big = scratch.script('big-result.sh', "head -c 70000 /dev/zero | tr '\\0' x");
    const reader = scratch.script('read-inputs.sh', [
      // The inputs without their x's: {"a":""}.
      'printf \'{"file":"%s","bytes":%s,"shape":%s,"env":"%s"}\\n\' "$ERRAND_FLOW_INPUTS_FILE" ' +
        '"$(wc -c < "$ERRAND_FLOW_INPUTS_FILE")" "$(tr -d x < "$ERRAND_FLOW_INPUTS_FILE")" ' +
        '"${ERRAND_FLOW_INPUTS-unset}"',
    ].join('\n'));
    const wa = worker([qa], [big]);
    const wb = worker([qb], [reader]);
    const submitted = await api.submitFlowOk({ steps: {
      a: { queue: qa, payload: {} },
      b: { queue: qb, payload: {}, after: ['a'] },
    } });
    const flow = await flowDone(submitted.id);
    assert.equal(flow.state, 'succeeded', JSON.stringify(flow).slice(0, 2000) + wa.stderr() + wb.stderr());
    const seen = flow.steps.b.result;
    assert.equal(seen.env, 'unset', 'the inputs are not in the environment as well');
    assert.equal(seen.bytes, JSON.stringify({ a: 'x'.repeat(70000) }).length);
    assert.deepEqual(seen.shape, { a: '' });
    assert.match(seen.file, /errand-flow-inputs-[^/]+\.json$/);
    assert.equal(existsSync(seen.file), false, `${seen.file} was removed`);
  });
});

describe('shutdown', () => {
  test('SIGTERM drains: the running command finishes and is acked, nothing more is leased, exit 0', async () => {
    const q = uniqueQueue('work-drain');
    const go = scratch.file('drain-go');
    const startedFile = scratch.file('drain-started');
    const cmd = scratch.script('drain.sh', [
      'touch "$STARTED"',
      waitForFile('GO'),
      'echo "\\"finished $ERRAND_JOB_ID\\""',
    ].join('\n'));
    const w = worker([q], [cmd], { env: { GO: go, STARTED: startedFile } });
    const first = await api.submitOk(q, { payload: 1 });
    await waitFor(() => existsSync(startedFile), { timeoutMs: WAIT_MS, message: 'the command to start' });
    const second = await api.submitOk(q, { payload: 2 });
    w.signal('SIGTERM');
    await waitFor(() => /draining/.test(w.stderr()), { timeoutMs: WAIT_MS, message: 'the drain' });
    assert.ok(w.alive(), 'still running its job');
    writeFileSync(go, '');
    const { code, signal } = await within(w.exited, WAIT_MS, 'errand work to exit');
    assert.equal(code, 0, `exit ${code} ${signal}\n${w.stderr()}`);
    const done = await api.job(first.id);
    assert.equal(done.state, 'succeeded');
    assert.equal(done.result, `finished ${first.id}`);
    const left = await api.job(second.id);
    assert.equal(left.state, 'queued', 'no new lease while draining');
    assert.equal(left.attempt, 0);
  });

  test('a second SIGTERM stops the running command; its job is retried at once', async () => {
    const q = uniqueQueue('work-hardstop');
    const mark = scratch.file('hard-mark');
    const startedFile = scratch.file('hard-started');
    const cmd = scratch.script('hard.sh', [
      'trap \'echo TERM > "$MARK"; exit 1\' TERM',
      'touch "$STARTED"',
      'sleep 60 & wait',
    ].join('\n'));
    const w = worker([q], [cmd], { env: { MARK: mark, STARTED: startedFile } });
    const job = await api.submitOk(q, { payload: {}, max_attempts: 3 });
    await waitFor(() => existsSync(startedFile), { timeoutMs: WAIT_MS, message: 'the command to start' });
    w.signal('SIGTERM');
    await waitFor(() => /draining/.test(w.stderr()), { timeoutMs: WAIT_MS, message: 'the drain' });
    assert.ok(!existsSync(mark), 'the first SIGTERM leaves the command alone');
    w.signal('SIGTERM');
    const { code } = await within(w.exited, WAIT_MS, 'errand work to exit');
    assert.equal(code, 0, w.stderr());
    assert.equal(readFileSync(mark, 'utf8'), 'TERM\n');
    const doc = await api.job(job.id);
    assert.equal(doc.state, 'queued', JSON.stringify(doc));
    assert.equal(doc.error.type, 'interrupted');
  });

  test('a worker survives a server restart and takes jobs submitted afterwards', async () => {
    const own = await startServerOnFixedPort();
    const ownApi = new Api(own);
    try {
      const q = uniqueQueue('work-restart');
      const w = worker([q], ['cat'], { server: own });
      const before = await cli(own.url, ['submit', q, '{"n":1}', '--wait', '20']);
      assert.equal(before.json.state, 'succeeded', show(before));

      await own.kill9();
      await waitFor(() => /retrying until it is back/.test(w.stderr()),
                    { timeoutMs: WAIT_MS, message: 'the worker to notice the server is gone' });
      assert.ok(w.alive(), 'the worker lives on while the server is away');
      await own.restart();

      const job = await ownApi.submitOk(q, { payload: { n: 2 } });
      const done = await waitFor(async () => {
        const doc = await ownApi.job(job.id);
        return doc.state === 'succeeded' ? doc : null;
      }, { timeoutMs: WAIT_MS, message: 'the job submitted after the restart to be done' });
      assert.deepEqual(done.result, { n: 2 });
      assert.ok(w.alive());
      assert.match(w.stderr(), /answers again/);
      const { code } = await w.stop();
      assert.equal(code, 0);
    } finally {
      await own.close();
    }
  });
});

describe('usage', () => {
  test('without a command after -- it is a usage error naming the fix', async () => {
    const res = await cli(srv.url, ['work', 'images', './resize.sh']);
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /^errand: errand work needs the command to run after --, e\.g\. .+\.\n$/);
  });

  test('a command that cannot be found is refused before any job is leased', async () => {
    const q = uniqueQueue('work-nocmd');
    const job = await api.submitOk(q, { payload: {} });
    const res = await cli(srv.url, ['work', q, '--', 'errand-no-such-command']);
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /^errand: cannot run 'errand-no-such-command': .+\.\n$/);
    assert.equal((await api.job(job.id)).state, 'queued');
  });

  test('a bad queue name or no queue is a usage error', async () => {
    const bad = await cli(srv.url, ['work', 'bad queue', '--', 'cat']);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /not a valid queue name/);
    const none = await cli(srv.url, ['work', '--', 'cat']);
    assert.equal(none.code, 2, show(none));
  });
});

test('examples/shell: the thumbnail worker script end to end', async () => {
  const q = uniqueQueue('work-example');
  const script = path.join(ROOT, 'examples/shell/thumbnail.sh');
  const w = worker([q], [script], { args: ['--concurrency', '2'] });
  const ok = await cli(srv.url, ['submit', q, '{"image": "cat.png", "width": 320, "height": 200}',
                                 '--wait', '30']);
  assert.equal(ok.code, 0, show(ok) + w.stderr());
  assert.equal(ok.json.state, 'succeeded');
  assert.deepEqual(ok.json.result, { thumbnail: 'cat-160x100.png', width: 160, height: 100 });
  const progress = (await api.events(ok.json.id)).filter((e) => e.type === 'progress');
  assert.ok(progress.length >= 1, 'it reports progress');
  assert.equal(Number(progress.at(-1).percent), 100);

  const bad = await cli(srv.url, ['submit', q, '{"image": "cat.png", "width": -3}', '--wait', '30',
                                  '--max-attempts', '1']);
  assert.equal(bad.code, 1, show(bad));
  assert.equal(bad.json.error.message, 'thumbnail: width must be a positive integer, got -3');
  assert.equal(bad.json.error.type, 'exit');
});
