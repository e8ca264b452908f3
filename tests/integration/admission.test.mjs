// Admission control (issue 6 part 3, docs/api.md "Queues", docs/reliability.md):
// a queue's max_queued (PUT /v1/queues/{queue} and [[queues]] in the config)
// refuses submits beyond it with 429 + Retry-After, and the memory guard
// (--max-memory-mb) refuses new jobs and flows with 503 while reads, leases
// and acks go on. A refused submit stores nothing.
//
// Decisions (docs/api.md):
// - max_queued counts the jobs waiting to run: queued + scheduled (a delayed
//   or backing-off job will run too). Running jobs do not count.
// - A batch that does not fit is refused whole (batches are all or nothing).
// - An idempotent replay adds no job and is answered even when the queue is full.
// - Flow steps are not refused by max_queued: a started flow must be able to
//   finish, and its later steps are created by the server, not by a caller.
// - `null` removes the limit; 0 or less is a 400 (pause exists to stop work).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Api, assertProblem, uniqueQueue } from './lib/http.mjs';
import { runErrand, startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

const putQueue = (name, json, headers) =>
  api.req('PUT', `/v1/queues/${encodeURIComponent(name)}`, { json, headers });

async function refusedTotal(queue, reason) {
  const text = (await api.req('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith('errand_submits_refused_total{') &&
    l.includes(`queue="${queue}"`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('max_queued', () => {
  test('PUT sets the limit, GET shows it, null removes it', async () => {
    const q = uniqueQueue('adm');
    const set = await putQueue(q, { max_queued: 3 });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.name, q);
    assert.equal(set.body.max_queued, 3);
    assert.equal((await api.queue(q)).max_queued, 3);
    const cleared = await putQueue(q, { max_queued: null });
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal(cleared.body.max_queued, null);
    assert.equal((await api.queue(q)).max_queued, null);
  });

  test('a queue without a limit shows max_queued null', async () => {
    const q = uniqueQueue('adm');
    await api.submitOk(q);
    assert.equal((await api.queue(q)).max_queued, null);
  });

  test('submits beyond the limit get 429 with Retry-After and store nothing', async () => {
    const q = uniqueQueue('adm');
    assert.equal((await putQueue(q, { max_queued: 3 })).status, 200);
    for (let i = 0; i < 3; i++) await api.submitOk(q, { payload: i });
    const before = await refusedTotal(q, 'queue_full');
    const res = await api.submit(q, { payload: 'one too many' });
    const p = assertProblem(res, 429, 'full queue');
    assert.match(p.detail, /max_queued is 3/);
    assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
    const qd = await api.queue(q);
    assert.equal(qd.counts.queued, 3);
    assert.equal(qd.enqueued_total, 3);
    assert.equal(await refusedTotal(q, 'queue_full'), before + 1);
  });

  test('scheduled jobs count, running jobs do not', async () => {
    const q = uniqueQueue('adm');
    assert.equal((await putQueue(q, { max_queued: 2 })).status, 200);
    await api.submitOk(q, { payload: 'later', delay_ms: 600_000 });
    await api.submitOk(q, { payload: 'now' });
    assertProblem(await api.submit(q, { payload: 'x' }), 429, 'scheduled + queued = 2');
    const leased = await api.leaseOne(q);
    assert.equal(leased.payload, 'now');
    await api.submitOk(q, { payload: 'fits again' });  // 1 scheduled + 1 queued, 1 running
    assertProblem(await api.submit(q, { payload: 'y' }), 429, 'full again');
  });

  test('a batch that does not fit is refused whole', async () => {
    const q = uniqueQueue('adm');
    assert.equal((await putQueue(q, { max_queued: 3 })).status, 200);
    await api.submitOk(q);
    const res = await api.batch(q, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    assertProblem(res, 429, 'batch of 3 into 2 free places');
    assert.equal((await api.queue(q)).counts.queued, 1, 'nothing of the batch was stored');
    assert.equal((await api.batch(q, [{ payload: 1 }, { payload: 2 }])).status, 202);
    assert.equal((await api.queue(q)).counts.queued, 3);
  });

  test('an idempotent replay is answered even when the queue is full', async () => {
    const q = uniqueQueue('adm');
    assert.equal((await putQueue(q, { max_queued: 1 })).status, 200);
    const first = await api.submitOk(q, { payload: 'p', idempotency_key: 'k1' });
    const again = await api.submit(q, { payload: 'p', idempotency_key: 'k1' });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.body.id, first.id);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assertProblem(await api.submit(q, { payload: 'p', idempotency_key: 'k2' }), 429);
  });

  test('lowering the limit below the current count refuses new jobs and keeps the old', async () => {
    const q = uniqueQueue('adm');
    for (let i = 0; i < 4; i++) await api.submitOk(q);
    assert.equal((await putQueue(q, { max_queued: 2 })).status, 200);
    assertProblem(await api.submit(q, { payload: 1 }), 429);
    assert.equal((await api.queue(q)).counts.queued, 4);
    for (let i = 0; i < 3; i++) await api.leaseOne(q);
    await api.submitOk(q);  // 1 queued left: one more fits
  });

  test('flow steps are not refused by a full queue', async () => {
    const q = uniqueQueue('adm');
    assert.equal((await putQueue(q, { max_queued: 1 })).status, 200);
    await api.submitOk(q);
    const res = await api.submitFlow({ steps: { a: { queue: q, payload: {} } } });
    assert.equal(res.status, 202, res.text);
    assert.equal((await api.queue(q)).counts.queued, 2);
  });

  describe('bad input is a 400 (or 405/415) and changes nothing', () => {
    const cases = [
      ['zero', { max_queued: 0 }, 400],
      ['negative', { max_queued: -5 }, 400],
      ['a string', { max_queued: '3' }, 400],
      ['a fraction', { max_queued: 1.5 }, 400],
      ['too large', { max_queued: 1e10 }, 400],
      ['a boolean', { max_queued: true }, 400],
      ['an unknown field', { max_queued: 3, max_running: 2 }, 400],
      ['an array body', [3], 400],
    ];
    for (const [what, body, status] of cases) {
      test(what, async () => {
        const q = uniqueQueue('adm');
        assert.equal((await putQueue(q, { max_queued: 7 })).status, 200);
        assertProblem(await putQueue(q, body), status, what);
        assert.equal((await api.queue(q)).max_queued, 7, 'the limit is unchanged');
      });
    }

    test('malformed JSON', async () => {
      const q = uniqueQueue('adm');
      assert.equal((await putQueue(q, { max_queued: 7 })).status, 200);
      const res = await api.req('PUT', `/v1/queues/${q}`,
                                { body: '{"max_queued":', headers: { 'content-type': 'application/json' } });
      assertProblem(res, 400);
      assert.equal((await api.queue(q)).max_queued, 7);
    });

    test('a body that is not JSON is 415', async () => {
      const q = uniqueQueue('adm');
      const res = await api.req('PUT', `/v1/queues/${q}`,
                                { body: '<max_queued>3</max_queued>', headers: { 'content-type': 'application/xml' } });
      assertProblem(res, 415);
      assert.equal((await api.req('GET', `/v1/queues/${q}`)).status, 404, 'no queue was created');
    });

    test('an invalid queue name', async () => {
      assertProblem(await putQueue('bad name!', { max_queued: 3 }), 400);
    });

    test('POST and DELETE on a queue are 405 naming GET, PUT', async () => {
      for (const method of ['POST', 'DELETE', 'PATCH']) {
        const res = await api.req(method, `/v1/queues/${uniqueQueue('adm')}`, { json: { max_queued: 3 } });
        assertProblem(res, 405, method);
        assert.equal(res.headers.get('allow'), 'GET, PUT');
      }
    });
  });
});

describe('limits survive restarts and come from the config', () => {
  let dir;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'errand-admission-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a PUT limit is still there after kill -9', async () => {
    const s = await startServer();
    try {
      const a = new Api(s);
      assert.equal((await a.req('PUT', '/v1/queues/kept', { json: { max_queued: 2 } })).status, 200);
      await a.submitOk('kept');
      await a.submitOk('kept');
      await s.kill9();
      await s.restart();
      assert.equal((await a.queue('kept')).max_queued, 2);
      assertProblem(await a.submit('kept', { payload: 1 }), 429, 'the limit holds after the restart');
    } finally {
      await s.close();
    }
  });

  test('[[queues]] in the config sets max_queued at start-up; an entry without it keeps the stored one',
       async () => {
    const dataDir = path.join(dir, 'config-data');
    const first = await startServer({ dataDir });
    try {
      const a = new Api(first);
      assert.equal((await a.req('PUT', '/v1/queues/mail.out', { json: { max_queued: 4 } })).status, 200);
      assert.equal((await a.req('PUT', '/v1/queues/orders', { json: { max_queued: 9 } })).status, 200);
    } finally {
      await first.close();
    }
    const config = path.join(dir, 'queues.toml');
    writeFileSync(config, '[[queues]]\nname = "orders"\nmax_queued = 1\n\n[[queues]]\nname = "mail.out"\n');
    const s = await startServer({ dataDir, args: ['--config', config] });
    try {
      const a = new Api(s);
      assert.equal((await a.queue('orders')).max_queued, 1, 'the config wins over the stored 9');
      assert.equal((await a.queue('mail.out')).max_queued, 4, 'no max_queued in the config: the stored one stays');
      await a.submitOk('orders');
      assertProblem(await a.submit('orders', { payload: 1 }), 429);
    } finally {
      await s.close();
    }
  });

  const badConfigs = [
    ['an invalid name', 'name = "no spaces allowed"\nmax_queued = 3', /not a valid queue name/],
    ['a missing name', 'max_queued = 3', /not a valid queue name/],
    ['max_queued 0', 'name = "q"\nmax_queued = 0', /max_queued must be/],
    ['max_queued as a string', 'name = "q"\nmax_queued = "3"', /max_queued must be/],
    ['an unknown key', 'name = "q"\nmax_running = 3', /unknown key 'max_running'/],
  ];
  for (const [what, body, message] of badConfigs) {
    test(`a [[queues]] entry with ${what} exits 2`, async () => {
      const config = path.join(dir, 'bad.toml');
      writeFileSync(config, `[[queues]]\n${body}\n`);
      const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd'),
                                   '--config', config]);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, message);
    });
  }
});

describe('the memory guard', () => {
  let tight;
  let a;
  before(async () => {
    // 1 MiB is below any real process: the guard refuses from the first sample.
    tight = await startServer({ args: ['--max-memory-mb', '1'] });
    a = new Api(tight);
  });
  after(() => tight?.close());

  test('refuses new jobs, batches and flows with 503 and Retry-After', async () => {
    const q = uniqueQueue('mem');
    let res;
    await (async () => {
      const deadline = Date.now() + 10_000;
      do {
        res = await a.submit(q, { payload: 1 });
      } while (res.status !== 503 && Date.now() < deadline);
    })();
    const p = assertProblem(res, 503, 'submit under memory pressure');
    assert.match(p.detail, /short of memory/);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assertProblem(await a.batch(q, [{ payload: 1 }]), 503, 'batch');
    assertProblem(await a.submitFlow({ steps: { s: { queue: q, payload: {} } } }), 503, 'flow');
    const metrics = (await a.req('GET', '/metrics')).text;
    assert.match(metrics, new RegExp(`errand_submits_refused_total\\{queue="${q}",reason="memory"\\} [1-9]`));
  });

  test('reads, leases and acks go on', async () => {
    assert.equal((await a.req('GET', '/v1/queues')).status, 200);
    assert.equal((await a.req('GET', '/healthz')).status, 200);
    const leased = await a.lease(['nothing-here']);
    assert.equal(leased.status, 200, leased.text);
  });

  test('a negative --max-memory-mb is a usage error', async () => {
    const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--max-memory-mb', '-1']);
    assert.equal(res.code, 2, res.stderr);
  });
});

test('a generous memory guard accepts work', async () => {
  const s = await startServer({ args: ['--max-memory-mb', '65536'] });
  try {
    await new Api(s).submitOk(uniqueQueue('mem'));
  } finally {
    await s.close();
  }
});
