// SPEC §3 / §5: `Prefer: wait=N` is capped by the server's max wait (default
// 60 s): a longer wait is not an error, it ends at the cap, and
// Preference-Applied names the wait actually applied.
//
// The cap is checked twice: quickly with `errand serve --max-wait-ms 1000`
// (a flag of the implementation, shown by `errand serve --help`), and at the
// default of 60 s, which takes a minute: that one has a server of its own and
// is skipped when ERRAND_SKIP_SLOW=1.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Api, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A submit, a GET and a lease, each asking to wait an hour, run together. */
async function waitAnHour(api) {
  const q = uniqueQueue('cap');
  const opts = { timeoutMs: 90_000 };
  const [submit, get, lease] = await Promise.all([
    api.submit(q, { payload: 1 }, { wait: 3600, ...opts }),
    api.submitOk(q, { payload: 2 }).then((j) => api.getJob(j.id, { wait: 3600, ...opts })),
    api.lease([uniqueQueue('cap-empty')], { wait: 3600, ...opts }),
  ]);
  assert.equal(submit.status, 202, submit.text);
  assert.equal(submit.body.state, 'queued');
  assert.equal(get.status, 200, get.text);
  assert.equal(get.body.state, 'queued');
  assert.equal(lease.status, 200, lease.text);
  assert.deepEqual(lease.body.jobs, []);
  return { submit, get, lease };
}

describe('max wait', () => {
  test('waits above --max-wait-ms end at the cap', async () => {
    const srv = await startServer({ args: ['--max-wait-ms', '1000'] });
    servers.push(srv);
    const { submit, get, lease } = await waitAnHour(new Api(srv));
    for (const [what, res] of Object.entries({ submit, get, lease })) {
      assert.ok(res.ms >= 950 && res.ms < 5000, `${what} waited about 1 s (${res.ms} ms)`);
    }
    assert.match(submit.headers.get('preference-applied') ?? '', /^wait=1(\.0*)?$/);
  });

  test('the default cap is 60 s', { skip: process.env.ERRAND_SKIP_SLOW ? 'ERRAND_SKIP_SLOW is set' : false,
                                    timeout: 120_000 }, async () => {
    const srv = await startServer();
    servers.push(srv);
    const { submit, get, lease } = await waitAnHour(new Api(srv));
    for (const [what, res] of Object.entries({ submit, get, lease })) {
      assert.ok(res.ms >= 59_000 && res.ms < 75_000, `${what} waited about 60 s (${res.ms} ms)`);
    }
    assert.match(submit.headers.get('preference-applied') ?? '', /^wait=60(\.0*)?$/);
  });
});
