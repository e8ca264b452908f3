// Access control (SPEC §5, docs/security.md): tokens from [[tokens]] and
// ERRAND_ADMIN_TOKEN, every role against representative endpoints (a matrix
// generated from one table), 401 against 403 and their WWW-Authenticate,
// queue patterns, leases and job- or flow-id endpoints across scopes, both
// secret forms, refused requests changing nothing, malformed [[tokens]]
// exiting 2, the loopback rule and --insecure, secrets kept out of the log,
// and the CLI against a server with tokens.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, show } from './lib/cli.mjs';
import { Api, assertProblem, pool, randomUuidV7, uniqueQueue } from './lib/http.mjs';
import { childEnv, errandBin, runErrand, startServer, trackChild } from './lib/server.mjs';

const SECRETS = {
  submitter: 'submit-secret-7c1f0b',
  worker: 'work-secret-5e2a91',
  ops: 'ops-secret-91b3d2',
  ordersAdmin: 'orders-admin-secret-0d4e77',
  root: 'root-secret-4a7719',
};
const sha256 = (text) => createHash('sha256').update(text).digest('hex');

const CONFIG = `
[[tokens]]
name = "submitter"
secret = "${SECRETS.submitter}"
roles = ["submit"]
queues = ["orders", "mail.*"]

[[tokens]]
name = "worker"
secret_sha256 = "${sha256(SECRETS.worker)}"
roles = ["work"]
queues = ["orders", "mail.*", "img-?"]

[[tokens]]
name = "ops"
secret = "${SECRETS.ops}"
roles = ["admin"]

[[tokens]]
name = "orders-admin"
secret_sha256 = "${sha256(SECRETS.ordersAdmin).toUpperCase()}"
roles = ["admin"]
queues = ["orders"]
`;

let dir;
/** Writes `text` to a new file in the test's scratch folder; returns its path. */
let fileCounter = 0;
function writeConfig(text) {
  const file = path.join(dir, `errand-${++fileCounter}.toml`);
  writeFileSync(file, text);
  return file;
}

/** An Api whose every request carries `Authorization: Bearer <token>`. */
class TokenApi extends Api {
  constructor(srv, token) {
    super(srv);
    this.token = token;
  }

  req(method, urlPath, opts = {}) {
    const headers = { authorization: `Bearer ${this.token}`, ...(opts.headers ?? {}) };
    return super.req(method, urlPath, { ...opts, headers });
  }
}

/**
 * One request with `token` (undefined: no Authorization header). An event
 * stream is closed as soon as its headers arrive. Resolves to {status,
 * headers, text, body}.
 */
async function probe(srv, { method, path: urlPath, json, headers = {} }, token) {
  const h = { ...headers };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  if (json !== undefined) h['content-type'] = 'application/json';
  const ctrl = new AbortController();
  const res = await fetch(srv.url + urlPath, {
    method, headers: h, signal: ctrl.signal, body: json === undefined ? undefined : JSON.stringify(json),
  });
  let text = '';
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) ctrl.abort();
  else text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, text, body };
}

function assertNoSecret(text, what) {
  for (const [name, secret] of Object.entries(SECRETS)) {
    assert.ok(!text.includes(secret), `${what} holds the secret of ${name}:\n${text}`);
  }
}

let srv;
let root;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'errand-auth-'));
  srv = await startServer({ durability: 'memory', args: ['--config', writeConfig(CONFIG)],
                            env: { ERRAND_ADMIN_TOKEN: SECRETS.root } });
  root = new TokenApi(srv, SECRETS.root);
});

after(async () => {
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// --- the matrix ---

// Who may call what; every other token gets 403, no token or a wrong one 401.
const ALL = ['submitter', 'worker', 'ops', 'ordersAdmin', 'root'];
const OPEN = 'open'; // no token needed at all

function matrix(f) {
  const flowOf = (steps) => ({ name: 'matrix', steps });
  return [
    ['submit to a queue in scope', { method: 'POST', path: '/v1/queues/orders/jobs', json: { payload: {} } },
      ['submitter', 'ops', 'ordersAdmin', 'root']],
    ['submit to a queue out of scope', { method: 'POST', path: '/v1/queues/payments/jobs', json: { payload: {} } },
      ['ops', 'root']],
    ['a batch to a queue matched by a pattern', { method: 'POST', path: '/v1/queues/mail.eu/batch', json: { jobs: [{ payload: 1 }] } },
      ['submitter', 'ops', 'root']],
    ['read a job in scope', { method: 'GET', path: `/v1/jobs/${f.jobOrders}` },
      ['submitter', 'worker', 'ops', 'ordersAdmin', 'root']],
    ['read a job out of scope', { method: 'GET', path: `/v1/jobs/${f.jobPay}` }, ['ops', 'root']],
    ['a job\'s timeline', { method: 'GET', path: `/v1/jobs/${f.jobOrders}/events`, headers: { accept: 'application/json' } },
      ['submitter', 'worker', 'ops', 'ordersAdmin', 'root']],
    ['a job\'s live events out of scope', { method: 'GET', path: `/v1/jobs/${f.jobPay}/events`, headers: { accept: 'text/event-stream' } },
      ['ops', 'root']],
    ['cancel a job in scope', { method: 'POST', path: `/v1/jobs/${f.jobOrders}/cancel` },
      ['submitter', 'ops', 'ordersAdmin', 'root']],
    ['cancel a job out of scope', { method: 'POST', path: `/v1/jobs/${f.jobPay}/cancel` }, ['ops', 'root']],
    ['an unknown job id', { method: 'GET', path: `/v1/jobs/${randomUuidV7()}` }, ALL],
    ['lease from queues in scope', { method: 'POST', path: '/v1/leases', json: { queues: ['mail.lease', 'img-1'] } },
      ['worker', 'ops', 'root']],
    ['lease naming one queue out of scope', { method: 'POST', path: '/v1/leases', json: { queues: ['mail.lease', 'nowhere'] } },
      ['ops', 'root']],
    ['ack a job in scope', { method: 'POST', path: `/v1/jobs/${f.jobOrders}/ack`, json: { lease: 'x', result: null } },
      ['worker', 'ops', 'ordersAdmin', 'root']],
    ['fail a job in scope', { method: 'POST', path: `/v1/jobs/${f.jobOrders}/fail`, json: { lease: 'x' } },
      ['worker', 'ops', 'ordersAdmin', 'root']],
    ['heartbeat a job out of scope', { method: 'POST', path: `/v1/jobs/${f.jobPay}/heartbeat`, json: { lease: 'x' } },
      ['ops', 'root']],
    ['batch acks in scope', { method: 'POST', path: '/v1/acks', json: { acks: [{ id: f.jobOrders, lease: 'x' }] } },
      ['worker', 'ops', 'ordersAdmin', 'root']],
    ['batch acks with a job out of scope', { method: 'POST', path: '/v1/acks',
      json: { acks: [{ id: f.jobOrders, lease: 'x' }, { id: f.jobPay, lease: 'x' }] } }, ['ops', 'root']],
    ['submit a flow in scope', { method: 'POST', path: '/v1/flows',
      json: flowOf({ a: { queue: 'orders', payload: {} }, b: { queue: 'mail.x', payload: {}, after: ['a'] } }) },
      ['submitter', 'ops', 'root']],
    ['submit a flow compensating out of scope', { method: 'POST', path: '/v1/flows',
      json: flowOf({ a: { queue: 'orders', payload: {}, compensate: { queue: 'payments', payload: {} } } }) },
      ['ops', 'root']],
    ['read a flow in scope', { method: 'GET', path: `/v1/flows/${f.flowOrders}` }, ['submitter', 'ops', 'root']],
    ['a flow\'s timeline out of scope', { method: 'GET', path: `/v1/flows/${f.flowPay}/events`, headers: { accept: 'application/json' } },
      ['ops', 'root']],
    ['cancel a flow out of scope', { method: 'POST', path: `/v1/flows/${f.flowPay}/cancel` }, ['ops', 'root']],
    ['list flows', { method: 'GET', path: '/v1/flows' }, ['ops', 'root']],
    ['list every job', { method: 'GET', path: '/v1/jobs' }, ['ops', 'root']],
    ['list the jobs of a queue in scope', { method: 'GET', path: '/v1/jobs?queue=orders' }, ['ops', 'ordersAdmin', 'root']],
    ['list the jobs of two queues, one out of scope', { method: 'GET', path: '/v1/jobs?queue=orders&queue=payments' },
      ['ops', 'root']],
    ['list queues', { method: 'GET', path: '/v1/queues' }, ['ops', 'root']],
    ['read a queue', { method: 'GET', path: '/v1/queues/orders' }, ['ops', 'ordersAdmin', 'root']],
    ['resume a queue out of scope', { method: 'POST', path: '/v1/queues/payments/resume' }, ['ops', 'root']],
    ['retry a job', { method: 'POST', path: `/v1/jobs/${f.jobPay}/retry` }, ['ops', 'root']],
    ['discard a job out of scope', { method: 'DELETE', path: `/v1/jobs/${f.jobPayQueued}` }, ['ops', 'root']],
    ['discard an unknown job (404 for any admin)', { method: 'DELETE', path: `/v1/jobs/${randomUuidV7()}` },
      ['ops', 'ordersAdmin', 'root']],
    ['metrics', { method: 'GET', path: '/metrics' }, ['ops', 'root']],
    ['the server\'s events for a queue in scope', { method: 'GET', path: '/v1/events?queue=orders' },
      ['ops', 'ordersAdmin', 'root']],
    ['the server\'s events for every queue', { method: 'GET', path: '/v1/events' }, ['ops', 'root']],
    ['alerts', { method: 'GET', path: '/v1/alerts' }, ['ops', 'root']],
    ['an unknown path', { method: 'GET', path: '/v1/nothing-here' }, ['ops', 'root']],
    ['health', { method: 'GET', path: '/healthz' }, OPEN],
    ['readiness', { method: 'GET', path: '/readyz' }, OPEN],
    ['the dashboard', { method: 'GET', path: '/' }, OPEN],
    ['the dashboard\'s files', { method: 'GET', path: '/ui/app.css' }, OPEN],
    ['a CORS preflight', { method: 'OPTIONS', path: '/v1/queues/orders/jobs',
      headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST' } }, OPEN],
  ];
}

// The columns: no token, a wrong one, then each configured token.
const COLUMNS = [['no token', undefined], ['a wrong token', 'not-a-known-secret'],
  ...ALL.map((name) => [name, SECRETS[name]])];

describe('the role and queue matrix', () => {
  const fixtures = {};
  before(async () => {
    fixtures.jobOrders = (await root.submitOk('orders')).id;
    fixtures.jobPay = (await root.submitOk('payments')).id;
    fixtures.jobPayQueued = (await root.submitOk('payments')).id; // never cancelled: a discard is a 409
    fixtures.flowOrders = (await root.submitFlowOk({ steps: {
      a: { queue: 'orders', payload: {} }, b: { queue: 'mail.x', payload: {}, after: ['a'] } } })).id;
    fixtures.flowPay = (await root.submitFlowOk({ steps: {
      a: { queue: 'orders', payload: {} }, b: { queue: 'payments', payload: {} } } })).id;
  });

  // The rows are made once the fixtures exist; the names are known before.
  for (const [index, [name]] of matrix({}).entries()) {
    test(name, async () => {
      const [, request, allowed] = matrix(fixtures)[index];
      const cells = await pool(COLUMNS, COLUMNS.length, async ([who, token]) =>
        [who, token, await probe(srv, request, token)]);
      for (const [who, token, res] of cells) {
        const cell = `${request.method} ${request.path} as ${who}: ${res.status} ${res.text}`;
        assertNoSecret(res.text, cell);
        const ok = allowed === OPEN || (token !== undefined && allowed.includes(who));
        if (ok) {
          assert.ok(res.status !== 401 && res.status !== 403 && res.status < 500, `allowed, but ${cell}`);
        } else if (token === undefined || !ALL.includes(who)) {
          assert.equal(res.status, 401, cell);
        } else {
          assert.equal(res.status, 403, cell);
        }
      }
    });
  }
});

describe('401 and 403', () => {
  test('no token: 401 with a Bearer challenge and no error code', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
      const res = await new Api(srv).req('POST', '/v1/queues/orders/jobs', { json: { payload: {} }, headers });
      const p = assertProblem(res, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="errand"');
      assert.match(p.detail, /Bearer/);
    }
  });

  test('a wrong or empty bearer token: 401 with error="invalid_token"', async () => {
    for (const authorization of ['Bearer nope', 'Bearer', 'bearer  nope  ', `Bearer ${sha256(SECRETS.worker)}`,
      `Bearer ${SECRETS.ops}x`, `Bearer ${SECRETS.ops.slice(0, -1)}`]) {
      const res = await new Api(srv).req('GET', '/v1/queues', { headers: { authorization } });
      assertProblem(res, 401, authorization);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="errand", error="invalid_token"',
                   authorization);
    }
  });

  test('the scheme is case-insensitive and spaces around the token do not matter', async () => {
    for (const authorization of [`bearer ${SECRETS.ops}`, `BEARER   ${SECRETS.ops} `]) {
      const res = await new Api(srv).req('GET', '/v1/queues', { headers: { authorization } });
      assert.equal(res.status, 200, `${authorization}: ${res.text}`);
    }
  });

  test('a missing role: 403 naming the token and the roles that would do, never the secret', async () => {
    const res = await new TokenApi(srv, SECRETS.submitter).lease(['orders']);
    const p = assertProblem(res, 403);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="errand", error="insufficient_scope"');
    assert.equal(p.token, 'submitter');
    assert.equal(p.missing, 'role');
    assert.deepEqual(p.roles, ['work', 'admin']);
    assert.match(p.detail, /token 'submitter'.*work or admin/);
    assertNoSecret(res.text, 'the 403');
  });

  test('a queue out of scope: 403 naming the queue and the token\'s patterns', async () => {
    const res = await new TokenApi(srv, SECRETS.submitter).submit('payments', { payload: {} });
    const p = assertProblem(res, 403);
    assert.equal(p.missing, 'queue');
    assert.equal(p.queue, 'payments');
    assert.match(p.detail, /'payments'.*orders, mail\.\*/);
  });

  test('a list of every queue with a token limited to some: 403 every_queue', async () => {
    const p = assertProblem(await new TokenApi(srv, SECRETS.ordersAdmin).req('GET', '/v1/queues'), 403);
    assert.equal(p.missing, 'every_queue');
    assert.equal(p.token, 'orders-admin');
  });
});

describe('scopes', () => {
  test('queue patterns: * is any run of characters, ? exactly one', async () => {
    const submitter = new TokenApi(srv, SECRETS.submitter);
    for (const [queue, status] of [['orders', 202], ['mail.eu', 202], ['mail.eu.bulk', 202], ['mail.', 202],
      ['mail', 403], ['mailx', 403], ['orders2', 403], ['xorders', 403]]) {
      const res = await submitter.submit(queue, { payload: {} });
      assert.equal(res.status, status, `${queue}: ${res.text}`);
    }
    const worker = new TokenApi(srv, SECRETS.worker);
    for (const [queue, status] of [['img-1', 200], ['img-a', 200], ['img-12', 403], ['img-', 403]]) {
      const res = await worker.lease([queue]);
      assert.equal(res.status, status, `lease ${queue}: ${res.text}`);
    }
  });

  test('a lease naming a queue out of scope leases nothing, from any queue', async () => {
    const inScope = uniqueQueue('mail.lease');
    const outOfScope = uniqueQueue('payments');
    const a = await root.submitOk(inScope);
    const b = await root.submitOk(outOfScope);
    const worker = new TokenApi(srv, SECRETS.worker);
    assertProblem(await worker.lease([inScope, outOfScope], { max: 10 }), 403);
    assert.equal((await root.job(a.id)).state, 'queued');
    assert.equal((await root.job(b.id)).state, 'queued');
    const leased = await worker.leaseOne(inScope);
    assert.equal(leased.id, a.id);
    await worker.ackOk(leased.id, leased.lease, { done: true });
  });

  test('a worker acks, fails and heartbeats only the jobs of its queues', async () => {
    const worker = new TokenApi(srv, SECRETS.worker);
    const foreign = uniqueQueue('payments');
    const job = await root.submitOk(foreign);
    const leased = await root.leaseOne(foreign);
    assertProblem(await worker.heartbeat(job.id, leased.lease), 403, 'heartbeat');
    assertProblem(await worker.ack(job.id, leased.lease, 1), 403, 'ack');
    assertProblem(await worker.fail(job.id, leased.lease), 403, 'fail');
    assertProblem(await worker.req('POST', '/v1/acks', { json: { acks: [{ id: job.id, lease: leased.lease }] } }),
                  403, 'batch ack');
    const seen = await root.job(job.id);
    assert.equal(seen.state, 'running', 'the refused calls changed the job');
    assert.equal(seen.progress, null);
    await root.ackOk(job.id, leased.lease, 'by root');
  });

  test('a producer reads and cancels the jobs of its queues, and no others', async () => {
    const submitter = new TokenApi(srv, SECRETS.submitter);
    const mine = await submitter.submitOk('orders');
    assert.equal((await submitter.job(mine.id)).id, mine.id);
    assert.equal((await submitter.cancel(mine.id)).status, 200);
    const theirs = await root.submitOk(uniqueQueue('payments'));
    assertProblem(await submitter.getJob(theirs.id), 403, 'read');
    assertProblem(await submitter.cancel(theirs.id), 403, 'cancel');
    assert.equal((await root.job(theirs.id)).state, 'queued');
  });

  test('a flow needs the submit role on every step\'s queue and compensate queue', async () => {
    const submitter = new TokenApi(srv, SECRETS.submitter);
    const before = (await root.listFlows({ limit: 1000 })).body.flows.length;
    const refused = [
      { a: { queue: 'orders', payload: {} }, b: { queue: 'payments', payload: {}, after: ['a'] } },
      { a: { queue: 'orders', payload: {}, compensate: { queue: 'payments', payload: {} } } },
    ];
    for (const steps of refused) {
      const p = assertProblem(await submitter.submitFlow({ steps }), 403);
      assert.equal(p.queue, 'payments');
    }
    assert.equal((await root.listFlows({ limit: 1000 })).body.flows.length, before, 'a refused flow was stored');
    const flow = await submitter.submitFlowOk({ steps: {
      a: { queue: 'orders', payload: {}, compensate: { queue: 'mail.undo', payload: {} } } } });
    assert.equal((await submitter.flow(flow.id)).id, flow.id);
    // A flow with a step elsewhere is not the submitter's to read or cancel.
    const other = await root.submitFlowOk({ steps: { a: { queue: 'orders', payload: {} },
      b: { queue: 'payments', payload: {} } } });
    assertProblem(await submitter.getFlow(other.id), 403, 'read');
    assertProblem(await submitter.cancelFlow(other.id), 403, 'cancel');
    assert.equal((await root.flow(other.id)).state, 'running');
  });

  test('a queue-limited admin lists the jobs of its queue, and not all of them', async () => {
    const ordersAdmin = new TokenApi(srv, SECRETS.ordersAdmin);
    const res = await ordersAdmin.req('GET', '/v1/jobs?queue=orders');
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.jobs.every((j) => j.queue === 'orders'));
    assertProblem(await ordersAdmin.req('GET', '/v1/jobs'), 403);
    assertProblem(await ordersAdmin.req('GET', '/v1/jobs?queue=payments'), 403);
    assertProblem(await ordersAdmin.req('GET', '/metrics'), 403);
  });
});

describe('secrets', () => {
  test('secret_sha256 takes the secret, not its digest; hex in either case', async () => {
    const job = await root.submitOk('orders');
    assert.equal((await new TokenApi(srv, SECRETS.worker).getJob(job.id)).status, 200);
    assert.equal((await new TokenApi(srv, sha256(SECRETS.worker)).getJob(job.id)).status, 401);
    assert.equal((await new TokenApi(srv, SECRETS.ordersAdmin).getJob(job.id)).status, 200,
                 'an upper-case secret_sha256');
  });

  test('ERRAND_ADMIN_TOKEN alone turns access control on, for every role and queue', async () => {
    const only = await startServer({ durability: 'memory', env: { ERRAND_ADMIN_TOKEN: 'only-admin-secret' } });
    try {
      assertProblem(await new Api(only).req('GET', '/v1/queues'), 401);
      const admin = new TokenApi(only, 'only-admin-secret');
      const q = uniqueQueue('anything');
      const job = await admin.submitOk(q);
      const leased = await admin.leaseOne(q);
      await admin.ackOk(job.id, leased.lease, 1);
      assert.equal((await admin.req('GET', '/metrics')).status, 200);
    } finally {
      await only.close();
    }
  });

  test('a refused request changes nothing', async () => {
    const anonymous = new Api(srv);
    const wrong = new TokenApi(srv, 'wrong');
    const submitter = new TokenApi(srv, SECRETS.submitter);
    const inScope = uniqueQueue('mail.refused');
    const outOfScope = uniqueQueue('refused');
    assertProblem(await anonymous.submit(inScope, { payload: {} }), 401);
    assertProblem(await wrong.batch(inScope, [{ payload: 1 }, { payload: 2 }]), 401);
    assertProblem(await submitter.submit(outOfScope, { payload: {} }), 403);
    assertProblem(await submitter.batch(outOfScope, [{ payload: 1 }]), 403);
    assertProblem(await anonymous.submitFlow({ steps: { a: { queue: inScope, payload: {} } } }), 401);
    for (const q of [inScope, outOfScope]) {
      assertProblem(await root.req('GET', `/v1/queues/${q}`), 404, `queue ${q} exists`);
      const listed = await root.req('GET', `/v1/jobs?queue=${q}`);
      assert.deepEqual(listed.body.jobs, [], `jobs in ${q}`);
    }
    // Operators' changes: a pause and a discard refused leave the queue and the job as they were.
    const job = await root.submitOk(outOfScope);
    const ordersAdmin = new TokenApi(srv, SECRETS.ordersAdmin);
    assertProblem(await ordersAdmin.req('POST', `/v1/queues/${outOfScope}/pause`), 403);
    assertProblem(await anonymous.req('DELETE', `/v1/jobs/${job.id}`), 401);
    assert.equal((await root.queue(outOfScope)).paused, false);
    assert.equal((await root.job(job.id)).state, 'queued');
  });
});

describe('the log', () => {
  test('no secret is ever logged, even at debug level', async () => {
    const logged = await startServer({ durability: 'memory',
      args: ['--config', writeConfig(CONFIG), '--log-level', 'debug'],
      env: { ERRAND_ADMIN_TOKEN: SECRETS.root } });
    try {
      const q = 'orders';
      for (const [name, secret] of Object.entries(SECRETS)) {
        const as = new TokenApi(logged, secret);
        const job = await as.submit(q, { payload: { from: name } });
        await as.lease(['orders'], {});
        await as.req('GET', '/v1/queues');
        if (job.body?.id) await as.getJob(job.body.id);
        // Near misses, which a careless log might print to help.
        await new TokenApi(logged, `${secret}0`).req('GET', '/v1/queues');
        await new Api(logged).req('GET', '/v1/queues', { headers: { authorization: `Basic ${secret}` } });
      }
      await logged.stop();
      const log = logged.stderr();
      assert.match(log, /request authorized/, 'successes were logged');
      assert.match(log, /request refused.*status=401/, '401s were logged');
      assert.match(log, /request refused.*status=403.*token=submitter/, '403s were logged');
      assertNoSecret(log, 'the log');
    } finally {
      await logged.close();
    }
  });
});

describe('malformed [[tokens]]', () => {
  const table = (lines) => `[[tokens]]\n${lines.join('\n')}\n`;
  const good = ['name = "a"', 'secret = "s1"', 'roles = ["submit"]'];
  const without = (key) => good.filter((l) => !l.startsWith(key));
  const CASES = [
    ['an unknown role', table([...without('roles'), 'roles = ["submit", "root"]']), /unknown role 'root'/],
    ['empty roles', table([...without('roles'), 'roles = []']), /roles must name at least one/],
    ['no roles', table(without('roles')), /roles must name at least one/],
    ['roles not a list', table([...without('roles'), 'roles = "admin"']), /roles must be an array of strings/],
    ['both secret forms', table([...good, `secret_sha256 = "${sha256('s1')}"`]), /exactly one of secret_sha256/],
    ['no secret', table(without('secret')), /exactly one of secret_sha256/],
    ['an empty secret', table([...without('secret'), 'secret = ""']), /secret is empty/],
    ['bad hex', table([...without('secret'), `secret_sha256 = "${sha256('s1').slice(1)}z"`]), /64 hex digits/],
    ['a short digest', table([...without('secret'), 'secret_sha256 = "abcd"']), /64 hex digits/],
    ['no name', table(without('name')), /name/],
    ['a duplicate name', table(good) + table(['name = "a"', 'secret = "s2"', 'roles = ["work"]']),
      /two tokens are named 'a'/],
    ['a duplicate secret', table(good) + table(['name = "b"', `secret_sha256 = "${sha256('s1')}"`, 'roles = ["work"]']),
      /tokens 'a' and 'b' have the same secret/],
    ['empty queues', table([...good, 'queues = []']), /queues is empty/],
    ['a bad queue pattern', table([...good, 'queues = ["orders/*"]']), /queue pattern 'orders\/\*'/],
    ['an unknown key (a typo)', table([...good, 'queue = "orders"']), /unknown key 'queue'/],
    ['a secret of the wrong type', table([...without('secret'), 'secret = 42']), /secret must be a string/],
    ['tokens not tables', 'tokens = ["a"]\n', /must be a table/],
    ['tokens not an array', 'tokens = "a"\n', /tokens must be \[\[tokens\]\] tables/],
  ];

  for (const [name, text, message] of CASES) {
    test(`${name}: exit 2 with a clear message`, async () => {
      const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'never'),
                                   '--config', writeConfig(text)], { timeoutMs: 20_000 });
      assert.equal(res.code, 2, show(res));
      assert.match(res.stderr, /^errand: /m, show(res));
      assert.match(res.stderr, message, show(res));
      assert.ok(!res.stderr.includes('s1"') && !res.stderr.includes('"s2'), 'the message holds a secret');
    });
  }

  test('ERRAND_ADMIN_TOKEN set but empty: exit 2', async () => {
    const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'never')],
                                { env: { ERRAND_ADMIN_TOKEN: '' }, timeoutMs: 20_000 });
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /ERRAND_ADMIN_TOKEN is set but empty/);
  });

  test('ERRAND_ADMIN_TOKEN equal to a table\'s secret: exit 2', async () => {
    const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'never'),
                                 '--config', writeConfig(table(good))], { env: { ERRAND_ADMIN_TOKEN: 's1' }, timeoutMs: 20_000 });
    assert.equal(res.code, 2, show(res));
    assert.match(res.stderr, /same secret/);
  });
});

/**
 * Starts `errand serve ARGS` listening wherever ARGS say; resolves to
 * {port, host, proc, stderr(), stop()} once it prints its listening line.
 */
async function serveAnywhere(args, env = {}) {
  const proc = trackChild(spawn(errandBin(), ['serve', '--data-dir', mkdtempSync(path.join(dir, 'data-')),
                                              '--durability', 'memory', ...args],
                                { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) }));
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  const exited = new Promise((resolve) => proc.once('close', (code) => resolve(code)));
  const [host, port] = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line within 20 s\n${err}`)), 20_000);
    exited.then((code) => reject(new Error(`errand serve exited with ${code}\n${err}`)));
    proc.stdout.setEncoding('utf8').on('data', (chunk) => {
      out += chunk;
      const m = /errand listening on (\S*):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve([m[1], Number(m[2])]);
      }
    });
  });
  return {
    host, port, stderr: () => err,
    async stop() {
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, err);
    },
  };
}

describe('listening beyond loopback', () => {
  for (const listen of [':0', '0.0.0.0:0', '[::]:0']) {
    test(`without a token, ${listen} is refused with the fixes named`, async () => {
      const res = await runErrand(['serve', '--listen', listen, '--data-dir', path.join(dir, 'never')],
                                  { timeoutMs: 20_000 });
      assert.equal(res.code, 2, show(res));
      assert.match(res.stderr, /errand: refusing to listen on/);
      for (const fix of [/\[\[tokens\]\]/, /ERRAND_ADMIN_TOKEN/, /--insecure/, /127\.0\.0\.1/]) {
        assert.match(res.stderr, fix, show(res));
      }
    });
  }

  test('--insecure (or ERRAND_INSECURE=1) allows it, with a warning', async () => {
    for (const [args, env] of [[['--listen', ':0', '--insecure'], {}], [['--listen', ':0'], { ERRAND_INSECURE: '1' }]]) {
      const server = await serveAnywhere(args, env);
      try {
        const res = await fetch(`http://127.0.0.1:${server.port}/v1/queues`);
        assert.equal(res.status, 200, 'open: no token is configured');
        assert.match(server.stderr(), /warn.*access control off on a non-loopback address/);
      } finally {
        await server.stop();
      }
    }
  });

  test('with a token it is allowed, and the token is required', async () => {
    const server = await serveAnywhere(['--listen', ':0'], { ERRAND_ADMIN_TOKEN: 'anywhere-secret' });
    try {
      const url = `http://127.0.0.1:${server.port}/v1/queues`;
      assert.equal((await fetch(url)).status, 401);
      assert.equal((await fetch(url, { headers: { authorization: 'Bearer anywhere-secret' } })).status, 200);
    } finally {
      await server.stop();
    }
  });
});

describe('the CLI with tokens', () => {
  test('a token from ERRAND_TOKEN or --token is sent and accepted', async () => {
    const viaEnv = await cli(srv.url, ['submit', 'orders', '{"via":"env"}'], { env: { ERRAND_TOKEN: SECRETS.submitter } });
    assert.equal(viaEnv.code, 0, show(viaEnv));
    const viaFlag = await cli(srv.url, ['get', viaEnv.json.id, '--token', SECRETS.worker]);
    assert.equal(viaFlag.code, 0, show(viaFlag));
    assert.equal(viaFlag.json.id, viaEnv.json.id);
  });

  test('no token or a wrong one: exit 2 with the hint to set one', async () => {
    for (const env of [{}, { ERRAND_TOKEN: 'wrong' }]) {
      const res = await cli(srv.url, ['queues'], { env });
      assert.equal(res.code, 2, show(res));
      assert.match(res.stderr, /^errand: .*needs a valid token: --token or ERRAND_TOKEN/m, show(res));
      assertNoSecret(res.stderr, 'the CLI error');
    }
  });

  test('a token without the role or the queue: exit 2 with the hint', async () => {
    const env = { ERRAND_TOKEN: SECRETS.submitter };
    for (const args of [['jobs'], ['submit', 'payments', '{}'], ['retry', randomUuidV7()]]) {
      const res = await cli(srv.url, args, { env });
      assert.equal(res.code, 2, show(res));
      assert.match(res.stderr, /token lacks the role or queue/, show(res));
      assertNoSecret(res.stderr, 'the CLI error');
    }
  });

  test('errand work with a refused token stops at once with exit 2', async () => {
    for (const [token, message] of [['wrong', /needs a valid token/], [SECRETS.submitter, /lacks the role/]]) {
      const res = await cli(srv.url, ['work', 'orders', '--', 'true'], { env: { ERRAND_TOKEN: token } });
      assert.equal(res.code, 2, show(res));
      assert.match(res.stderr, message, show(res));
    }
  });
});
