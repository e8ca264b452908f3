// SPEC §3 / §5: `Prefer: wait=N` is capped by the server's max wait (default
// 60 s): a longer wait is not an error, it ends after 60 s. This takes a
// minute, so it has a file (and server) of its own and runs beside the rest;
// set ERRAND_SKIP_SLOW=1 to skip it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Api, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const skip = process.env.ERRAND_SKIP_SLOW ? 'ERRAND_SKIP_SLOW is set' : false;

let srv;
let api;
before(async () => {
  if (skip) return;
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

test('waits above the maximum end after the default 60 s cap', { skip, timeout: 120_000 }, async () => {
  const q = uniqueQueue('cap');
  const [submit, get, lease] = await Promise.all([
    api.submit(q, { payload: 1 }, { wait: 3600, timeoutMs: 90_000 }),
    api.submitOk(q, { payload: 2 }).then((j) => api.getJob(j.id, { wait: 3600, timeoutMs: 90_000 })),
    api.lease([uniqueQueue('cap-empty')], { wait: 3600, timeoutMs: 90_000 }),
  ]);
  for (const [what, res, status] of [['submit', submit, 202], ['GET', get, 200], ['lease', lease, 200]]) {
    assert.equal(res.status, status, `${what}: ${res.text}`);
    assert.ok(res.ms >= 59_000 && res.ms < 75_000, `${what} waited about 60 s (${res.ms} ms)`);
  }
  assert.equal(submit.body.state, 'queued');
  assert.match(submit.headers.get('preference-applied') ?? '', /^wait=60(\.0*)?$/);
  assert.equal(get.body.state, 'queued');
  assert.deepEqual(lease.body.jobs, []);
});
