// The crash-loop harness (docs/reliability.md "Crash loop"): producers and
// workers run against the real server while it is killed with SIGKILL at
// random (seeded) moments, many times, and started again on the same data
// dir and port. The clients retry across each outage, as real ones do.
// Every answer they get goes into a ledger (crash_loop_ledger.mjs), which is
// checked against the SPEC's guarantees once everything has drained.
//
// Usage: runCrashLoop({kills, seed, gapMs, durability, log})
//          -> {seed, figures, violations}.

import { Api, FAST_BACKOFF, sleep, uniqueQueue } from './http.mjs';
import { startServerOnFixedPort } from './cli.mjs';
import { Ledger, TERMINAL, verify } from './crash_loop_ledger.mjs';

const LEASE_MS = 1500;
const HEARTBEAT_EVERY_MS = 400;
const WORKER_CAPACITY = 6; // jobs each of the 4 workers has in hand at most
const REQUEST_TIMEOUT_MS = 15_000;
const STALL_MS = 60_000;
// Kills cost attempts: a lease open while the server restarts (about 1 s
// here) often runs out, and a job that heartbeats for 1.2 s may be hit at
// every attempt while kills come every 1-2 s. The API's maximum, so that no
// job runs out of attempts before the kills stop.
const MAX_ATTEMPTS = 1000;
// What a plain job asks its worker to do: ack; heartbeat a while, then ack;
// fail attempt 1 (retried), ack later; fail for good; drop attempt 1 (its
// lease runs out), ack later.
const PLANS = [['ok', 55], ['slow', 10], ['flaky', 15], ['doomed', 10], ['abandon', 10]];

/** A small seeded PRNG (mulberry32): the kill schedule and every choice follow the seed. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    weighted(pairs) {
      const total = pairs.reduce((s, [, w]) => s + w, 0);
      let r = next() * total;
      for (const [v, w] of pairs) {
        r -= w;
        if (r < 0) return v;
      }
      return pairs[pairs.length - 1][0];
    },
  };
}

/**
 * One call that never throws: {res} when the server answered, {lost} when
 * the connection failed first (the server died, or was not there yet).
 */
async function attempt(api, method, path, opts = {}) {
  const sentAt = Date.now();
  try {
    const res = await api.req(method, path, { timeoutMs: REQUEST_TIMEOUT_MS, ...opts });
    return { res, sentAt, at: Date.now() };
  } catch (e) {
    return { lost: e.message.split('\n')[0], sentAt, at: Date.now() };
  }
}

const is2xx = (r) => r.res && r.res.status >= 200 && r.res.status < 300;

export async function runCrashLoop({ kills = 12, seed = Date.now() % 1_000_000, gapMs = [300, 1500],
                                     durability = 'fsync', log = () => {} } = {}) {
  const rng = seededRandom(seed);
  const ledger = new Ledger();
  const q = {
    single: uniqueQueue('cl-single'), batch: uniqueQueue('cl-batch'), idem: uniqueQueue('cl-idem'),
    a: uniqueQueue('cl-flow-a'), b: uniqueQueue('cl-flow-b'), c: uniqueQueue('cl-flow-c'),
  };
  const srv = await startServerOnFixedPort({ durability });
  const api = new Api(srv);
  const started = Date.now();
  let producing = true;
  let working = true;
  let ackArmed = null; // set by the kill loop: resolved when a worker sends its next ack
  const background = []; // burst submits still in flight

  const jobBody = (payload) => ({ payload, max_attempts: MAX_ATTEMPTS, backoff: FAST_BACKOFF });
  const pickPlan = () => rng.weighted(PLANS);

  // --- producers ---

  // Every submit here is valid: a refusal (a 4xx other than 429) is a violation.
  function noteRefusal(r, what) {
    if (r.res && r.res.status >= 400 && r.res.status < 500 && r.res.status !== 429) {
      ledger.violation(`${what} was refused: ${r.res.status} ${r.res.text.slice(0, 300)}`);
      return true;
    }
    return false;
  }

  async function submitSingle(rid, kind) {
    const r = await attempt(api, 'POST', `/v1/queues/${q.single}/jobs`, { json: jobBody({ rid, plan: pickPlan() }) });
    const entry = { status: r.res?.status ?? 'lost', id: r.res?.body?.id ?? null };
    ledger.singles.set(rid, entry);
    noteRefusal(r, `submit ${rid}`);
    ledger.count(`${kind}.${is2xx(r) ? 'acknowledged' : r.lost ? 'lost' : `status ${r.res.status}`}`);
  }

  async function singleProducer() {
    for (let n = 0; producing; n++) {
      await submitSingle(`s-${n}`, 'submit');
      await sleep(rng.int(10, 60));
    }
  }

  async function batchProducer() {
    for (let n = 0; producing; n++) {
      const rid = `b-${n}`;
      const size = rng.int(2, 12);
      const jobs = Array.from({ length: size }, (_, idx) => jobBody({ rid, idx, plan: pickPlan() }));
      const r = await attempt(api, 'POST', `/v1/queues/${q.batch}/batch`, { json: { jobs } });
      ledger.batches.set(rid, { size, status: r.res?.status ?? 'lost', ids: is2xx(r) ? r.res.body.jobs.map((j) => j.id) : [] });
      noteRefusal(r, `batch ${rid}`);
      ledger.count(`batch.${is2xx(r) ? 'acknowledged' : r.lost ? 'lost' : `status ${r.res.status}`}`);
      if (is2xx(r)) ledger.count('batch.jobs', size);
      await sleep(rng.int(100, 400));
    }
  }

  // Sends a submit with an idempotency key until it is answered 2xx, through
  // every outage. A refusal stops the producers (retrying it would never
  // end). Returns the 2xx, or null.
  async function submitUntilAcknowledged(kind, path, body) {
    for (;;) {
      const r = await attempt(api, 'POST', path, { json: body });
      if (is2xx(r)) {
        ledger.count(`${kind}.acknowledged`);
        return r;
      }
      ledger.count(r.lost ? `${kind}.lost` : `${kind}.status ${r.res.status}`);
      if (noteRefusal(r, `${kind} ${body.idempotency_key}`)) {
        producing = false;
        return null;
      }
      await sleep(50);
    }
  }

  // Some keys are sent again later: the answer must be a replay of the same job.
  async function idempotentProducer() {
    for (let n = 0; producing; n++) {
      const key = `k-${n}`;
      const body = { ...jobBody({ key, plan: pickPlan() }), idempotency_key: key };
      const answers = [];
      ledger.keys.set(key, answers);
      const sends = rng.chance(0.3) ? 2 : 1;
      for (let s = 0; s < sends; s++) {
        const r = await submitUntilAcknowledged('idempotent', `/v1/queues/${q.idem}/jobs`, body);
        if (!r) return;
        answers.push({ id: r.res.body.id, replayed: r.res.headers.get('idempotent-replayed') === 'true' });
        if (s + 1 < sends) await sleep(rng.int(0, 300));
      }
      await sleep(rng.int(20, 80));
    }
  }

  async function flowProducer() {
    for (let n = 0; producing; n++) {
      const key = `f-${n}`;
      const step = (queue, payload) => ({ queue, payload, max_attempts: MAX_ATTEMPTS, backoff: FAST_BACKOFF });
      const body = {
        name: key, idempotency_key: key,
        steps: {
          a: step(q.a, { n, step: 'a', plan: 'ok' }),
          b: step(q.b, { n, step: 'b', plan: 'flaky' }),
          c: { ...step(q.c, { n, step: 'c', plan: 'ok' }), after: ['a', 'b'] },
        },
      };
      const r = await submitUntilAcknowledged('flow', '/v1/flows', body);
      if (!r) return;
      ledger.flows.set(key, { n, id: r.res.body.id });
      await sleep(rng.int(100, 400));
    }
  }

  // --- workers ---

  // Sends a worker call until the server answers (2xx or a refusal) or the lease is surely over.
  async function report(id, lease, op, json) {
    const entry = ledger.job(id);
    for (;;) {
      if (op === 'ack' && ackArmed) {
        ackArmed();
        ackArmed = null;
      }
      const r = await attempt(api, 'POST', `/v1/jobs/${id}/${op}`, { json: { lease: lease.token, ...json } });
      const rec = { token: lease.token, sentAt: r.sentAt, at: r.at, ok: is2xx(r),
                    status: r.res?.status ?? 'lost', json };
      if (op === 'ack') entry.acks.push(rec);
      else if (op === 'fail') entry.fails.push(rec);
      else entry.heartbeats.push(rec);
      ledger.count(`${op}.${rec.ok ? 'ok' : rec.status === 409 ? 'stale (409)' : rec.status === 'lost' ? 'lost' : `status ${rec.status}`}`);
      if (rec.ok && op === 'heartbeat') lease.expiresAt = Date.parse(r.res.body.lease_expires_at);
      if (r.res && r.res.status < 500) return rec;
      // No answer, or the server is not ready: the lease may still be alive; try again while it is.
      if (Date.now() > lease.expiresAt + LEASE_MS) return rec;
      await sleep(100);
    }
  }

  function resultFor(j, worker) {
    const f = j.flow;
    if (f?.step === 'a') return { step: 'a', v: j.payload.n };
    if (f?.step === 'b') return { step: 'b', v: 2 * j.payload.n };
    if (f?.step === 'c') return { sum: (f.inputs?.a?.v ?? NaN) + (f.inputs?.b?.v ?? NaN) };
    return { rid: j.payload.rid ?? j.payload.key, attempt: j.attempt, worker };
  }

  async function work(j, lease, worker) {
    if (j.flow?.step === 'c' && (j.flow.inputs?.a?.v !== j.payload.n || j.flow.inputs?.b?.v !== 2 * j.payload.n)) {
      ledger.violation(`step c of flow ${j.flow.id} got inputs ${JSON.stringify(j.flow.inputs)}`);
    }
    const plan = j.payload.plan;
    if (plan === 'abandon' && j.attempt === 1) {
      ledger.count('abandoned');
      return;
    }
    if (plan === 'flaky' && j.attempt === 1) {
      await report(j.id, lease, 'fail', { error: { message: 'flaky', type: 'Flaky', detail: '' }, retry: true });
      return;
    }
    if (plan === 'doomed') {
      await report(j.id, lease, 'fail', { error: { message: 'doomed', type: 'Doomed', detail: '' }, retry: false });
      return;
    }
    if (plan === 'slow') {
      for (let i = 0; i < 3; i++) {
        await sleep(HEARTBEAT_EVERY_MS);
        const hb = await report(j.id, lease, 'heartbeat', { lease_ms: LEASE_MS, progress: { percent: 30 * (i + 1), message: 'slow', data: null } });
        if (hb.status === 409) return; // the lease is gone: stop, as a worker should
      }
    } else {
      await sleep(rng.int(0, 30));
    }
    await report(j.id, lease, 'ack', { result: resultFor(j, worker) });
  }

  // Leases up to WORKER_CAPACITY jobs at a time and works each on its own, so
  // that a slow job does not hold the others up.
  async function worker(name) {
    const queues = [q.c, q.a, q.b, q.single, q.batch, q.idem];
    const running = new Set();
    while (working) {
      const room = WORKER_CAPACITY - running.size;
      if (room === 0) {
        await Promise.race(running);
        continue;
      }
      const r = await attempt(api, 'POST', '/v1/leases', {
        json: { queues, worker: name, max: room, lease_ms: LEASE_MS }, headers: { prefer: 'wait=0.3' },
      });
      if (!r.res) {
        ledger.lostLeases.push({ sentAt: r.sentAt });
        ledger.count('lease.lost');
        await sleep(50);
        continue;
      }
      if (r.res.status !== 200) {
        ledger.count(`lease.status ${r.res.status}`);
        await sleep(50);
        continue;
      }
      ledger.count('lease.jobs', r.res.body.jobs.length);
      for (const j of r.res.body.jobs) {
        const done = work(j, ledger.leased(j, r.sentAt, r.at, name), name).finally(() => running.delete(done));
        running.add(done);
      }
    }
    await Promise.all(running);
  }

  // --- kills ---

  async function killLoop() {
    for (let k = 0; k < kills; k++) {
      const mode = rng.weighted([['random', 50], ['burst', 25], ['mid-ack', 25]]);
      await sleep(rng.int(gapMs[0], gapMs[1]));
      if (mode === 'burst') {
        const size = rng.int(10, 40);
        for (let i = 0; i < size; i++) background.push(submitSingle(`burst-${k}-${i}`, 'burst'));
        await sleep(rng.int(2, 40));
      } else if (mode === 'mid-ack') {
        const armed = new Promise((resolve) => {
          ackArmed = resolve;
        });
        await Promise.race([armed, sleep(5000)]);
        await sleep(rng.int(0, 8));
      }
      const at = Date.now();
      await srv.kill9();
      // Now and then an outage longer than a lease: leases run out while the server is away.
      if (rng.chance(0.1)) await sleep(LEASE_MS + rng.int(0, 500));
      await srv.restart();
      ledger.kills.push({ mode, at, upAt: Date.now() });
      log(`kill ${k + 1}/${kills} (${mode}), up again after ${Date.now() - at} ms`);
    }
  }

  // --- drain and verification ---

  // Waits until no job is left to run. A backlog may take a while: it fails
  // only when nothing finishes for STALL_MS, naming what is stuck.
  async function drain() {
    let best = Infinity;
    let progressAt = Date.now();
    for (;;) {
      const counts = {};
      for (const queue of Object.values(q)) {
        const res = await api.req('GET', `/v1/queues/${queue}`);
        if (res.status === 200) counts[queue] = res.body.counts;
      }
      const left = Object.values(counts).reduce((n, c) => n + c.scheduled + c.queued + c.running, 0);
      if (left === 0) return;
      if (left < best) {
        if (Math.floor(best / 100) !== Math.floor(left / 100)) log(`drain: ${left} jobs left`);
        best = left;
        progressAt = Date.now();
      } else if (Date.now() - progressAt > STALL_MS) {
        const stuck = [];
        for (const queue of Object.values(q)) {
          for (const d of await api.allJobs(queue)) {
            if (!TERMINAL.includes(d.state) && stuck.length < 5) {
              const events = (await api.req('GET', `/v1/jobs/${d.id}/events`, { headers: { accept: 'application/json' } })).body?.events;
              stuck.push({ job: d, events, ledger: ledger.jobs.get(d.id) });
            }
          }
        }
        throw new Error(`${left} jobs unfinished, none finished for ${STALL_MS} ms: ${JSON.stringify(counts)}\n` +
                        `e.g. ${JSON.stringify(stuck, null, 1).slice(0, 20_000)}`);
      }
      await sleep(250);
    }
  }

  const producers = [singleProducer(), batchProducer(), idempotentProducer(), flowProducer()];
  const workers = ['w1', 'w2', 'w3', 'w4'].map(worker);
  let docs = new Map();
  let flowDocs = new Map();
  try {
    await killLoop();
    producing = false;
    await Promise.all([...producers, ...background]);
    await drain();
    working = false;
    await Promise.all(workers);
    for (const queue of Object.values(q)) for (const d of await api.allJobs(queue)) docs.set(d.id, d);
    for (const [key, f] of ledger.flows) {
      const res = await api.req('GET', `/v1/flows/${f.id}`);
      flowDocs.set(key, res.status === 200 ? res.body : null);
    }
    await verify(api, ledger, { queues: q, docs, flowDocs, leaseMs: LEASE_MS });
  } finally {
    producing = false;
    working = false;
    ackArmed?.();
    await Promise.allSettled([...producers, ...workers, ...background]);
    if (srv.alive()) await srv.close();
    else await srv.restart().then(() => srv.close(), () => {});
  }

  const figures = {
    seed, kills: ledger.kills.length, seconds: Math.round((Date.now() - started) / 1000),
    killModes: Object.fromEntries(['random', 'burst', 'mid-ack'].map((m) => [m, ledger.kills.filter((k) => k.mode === m).length])),
    jobs: docs.size,
    flows: ledger.flows.size,
    succeeded: [...docs.values()].filter((d) => d.state === 'succeeded').length,
    failed: [...docs.values()].filter((d) => d.state === 'failed').length,
    leases: [...ledger.jobs.values()].reduce((s, j) => s + j.leases.length, 0),
    redelivered: [...ledger.jobs.values()].filter((j) => j.leases.length > 1).length,
    calls: Object.fromEntries(Object.entries(ledger.counts).sort()),
    violations: ledger.violations.length,
  };
  return { seed, figures, violations: ledger.violations };
}
