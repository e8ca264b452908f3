// The crash-loop harness (docs/reliability.md "Crash loop"): producers and
// workers run against the real server while it is killed with SIGKILL at
// random (seeded) moments, many times, and started again on the same data
// dir and port. The clients retry across each outage, as real ones do.
//
// A ledger records every answer the clients got: submits (single, batch,
// idempotent, flows), leases with their tokens and expiry, heartbeats, acks
// and fails, each 2xx, 409 or lost (the connection died first), with the
// times it was sent and answered, and the times of the kills. Once
// everything has drained, verify() checks the SPEC's guarantees against it:
//
// - no acknowledged submit is lost: every 2xx'd job exists and finishes; a
//   batch is all there or not at all; an idempotency key maps to one job,
//   a flow key to one flow;
// - no job acked with a 2xx is delivered again (a lease asked after the ack
//   was answered never returns it);
// - a job is delivered again only after its previous lease ended: failed by
//   its holder, or run out (its expiry, heartbeats included, had passed), or
//   a lease whose answer a kill swallowed had run out;
// - every flow succeeds with the result its steps' inputs give;
// - every job ends in the state its worker caused (succeeded with a result
//   a worker sent, failed by a worker that said so), none cancelled or
//   expired, none unfinished; and its timeline agrees (one lease event per
//   attempt, one terminal event).
//
// Usage: runCrashLoop({kills, seed, gapMs, log}) -> {seed, figures, violations}.

import { Api, FAST_BACKOFF, sleep, uniqueQueue } from './http.mjs';
import { startServerOnFixedPort } from './cli.mjs';

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
// Server timestamps have millisecond precision; both sides read the same clock.
const CLOCK_SLACK_MS = 5;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'expired'];
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

/** Everything the clients were told, per job, plus the kills and the lost calls. */
class Ledger {
  constructor() {
    this.jobs = new Map(); // id -> {leases: [], acks: [], fails: [], heartbeats: []}
    this.singles = new Map(); // rid -> {status, id}
    this.batches = new Map(); // rid -> {size, status, ids}
    this.keys = new Map(); // idempotency key -> [{id, replayed}] (2xx answers)
    this.flows = new Map(); // flow key -> {n, answers: [{id}]}
    this.lostLeases = []; // {sentAt}: lease calls that got no answer
    this.kills = []; // {mode, at, upAt}
    this.counts = {};
    this.violations = [];
  }

  job(id) {
    let j = this.jobs.get(id);
    if (!j) {
      j = { leases: [], acks: [], fails: [], heartbeats: [] };
      this.jobs.set(id, j);
    }
    return j;
  }

  count(what, n = 1) {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  violation(text) {
    this.violations.push(text);
  }

  /** What the clients saw of a job, and the kills meanwhile, in ms from its first lease: for a violation's message. */
  history(id) {
    const j = this.jobs.get(id);
    if (!j || j.leases.length === 0) return 'never leased by a worker';
    const t0 = Math.min(...j.leases.map((l) => l.sentAt));
    const t = (ms) => ms - t0;
    const events = [
      ...j.leases.map((l) => [l.sentAt, `lease attempt ${l.attempt} to ${l.worker} (asked ${t(l.sentAt)}, ` +
                                        `got ${t(l.at)}, runs out ${t(l.expiresAt)})`]),
      ...['acks', 'fails', 'heartbeats'].flatMap((kind) => j[kind].map((c) =>
        [c.sentAt, `${kind.slice(0, -1)} ${c.status} (sent ${t(c.sentAt)}, answered ${t(c.at)})`])),
      ...this.kills.filter((k) => k.upAt >= t0).map((k) => [k.at, `kill (${t(k.at)}, up ${t(k.upAt)})`]),
    ].sort((a, b) => a[0] - b[0]);
    return events.map((e) => e[1]).join('; ').slice(0, 4000);
  }
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

  async function submitSingle(rid, kind) {
    const r = await attempt(api, 'POST', `/v1/queues/${q.single}/jobs`, { json: jobBody({ rid, plan: pickPlan() }) });
    const entry = { status: r.res?.status ?? 'lost', id: r.res?.body?.id ?? null };
    ledger.singles.set(rid, entry);
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
      ledger.count(`batch.${is2xx(r) ? 'acknowledged' : r.lost ? 'lost' : `status ${r.res.status}`}`);
      if (is2xx(r)) ledger.count('batch.jobs', size);
      await sleep(rng.int(100, 400));
    }
  }

  // Each key is retried until a 2xx (through every outage); some are sent again later (replays).
  async function idempotentProducer() {
    for (let n = 0; producing; n++) {
      const key = `k-${n}`;
      const body = { ...jobBody({ key, plan: pickPlan() }), idempotency_key: key };
      const answers = [];
      ledger.keys.set(key, answers);
      const sends = rng.chance(0.3) ? 2 : 1;
      for (let s = 0; s < sends; s++) {
        for (;;) {
          const r = await attempt(api, 'POST', `/v1/queues/${q.idem}/jobs`, { json: body });
          if (is2xx(r)) {
            answers.push({ id: r.res.body.id, replayed: r.res.headers.get('idempotent-replayed') === 'true' });
            break;
          }
          ledger.count(r.lost ? 'idempotent.lost' : `idempotent.status ${r.res.status}`);
          await sleep(50);
        }
        ledger.count('idempotent.acknowledged');
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
      const entry = { n, answers: [] };
      ledger.flows.set(key, entry);
      for (;;) {
        const r = await attempt(api, 'POST', '/v1/flows', { json: body });
        if (is2xx(r)) {
          entry.answers.push({ id: r.res.body.id });
          break;
        }
        ledger.count(r.lost ? 'flow.lost' : `flow.status ${r.res.status}`);
        await sleep(50);
      }
      ledger.count('flow.acknowledged');
      await sleep(rng.int(100, 400));
    }
  }

  // --- workers ---

  function leaseRecord(j, sentAt, at, worker) {
    const rec = { token: j.lease, attempt: j.attempt, sentAt, at, worker,
                  expiresAt: Date.parse(j.lease_expires_at) };
    const entry = ledger.job(j.id);
    entry.leases.push(rec);
    const acked = entry.acks.find((a) => a.ok);
    if (acked && sentAt > acked.at) {
      ledger.violation(`job ${j.id} was leased again (attempt ${j.attempt}, asked ${sentAt - acked.at} ms ` +
                       `after its ack was answered 2xx)`);
    }
    return rec;
  }

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
        const done = work(j, leaseRecord(j, r.sentAt, r.at, name), name).finally(() => running.delete(done));
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
      const id = f.answers[0].id;
      const res = await api.req('GET', `/v1/flows/${id}`);
      flowDocs.set(key, res.status === 200 ? res.body : null);
    }
    await verify(api, ledger, q, docs, flowDocs);
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

async function verify(api, ledger, q, docs, flowDocs) {
  // A violation about one job carries its history.
  const v = (text, id) => ledger.violation(id ? `${text}\n    ${ledger.history(id)}` : text);
  const byQueue = (queue) => [...docs.values()].filter((d) => d.queue === queue);

  // Acknowledged submits: there, once; unacknowledged ones there at most once.
  const singleSeen = new Map();
  for (const d of byQueue(q.single)) {
    if (!ledger.singles.has(d.payload.rid)) v(`job ${d.id} in ${q.single} was never submitted (${JSON.stringify(d.payload)})`);
    singleSeen.set(d.payload.rid, (singleSeen.get(d.payload.rid) ?? 0) + 1);
  }
  for (const [rid, s] of ledger.singles) {
    if ((singleSeen.get(rid) ?? 0) > 1) v(`submit ${rid} made ${singleSeen.get(rid)} jobs`);
    if (s.status === 202 && docs.get(s.id)?.payload.rid !== rid) v(`acknowledged submit ${rid} (job ${s.id}) is lost`);
  }
  const batchSeen = new Map();
  for (const d of byQueue(q.batch)) {
    if (!ledger.batches.has(d.payload.rid)) v(`job ${d.id} in ${q.batch} was never submitted`);
    batchSeen.set(d.payload.rid, (batchSeen.get(d.payload.rid) ?? 0) + 1);
  }
  for (const [rid, b] of ledger.batches) {
    const seen = batchSeen.get(rid) ?? 0;
    if (seen !== 0 && seen !== b.size) v(`batch ${rid} of ${b.size} jobs left ${seen} (all or nothing)`);
    if (b.status === 202 && (seen !== b.size || b.ids.some((id) => !docs.has(id)))) v(`acknowledged batch ${rid} is lost`);
  }
  const keySeen = new Map();
  for (const d of byQueue(q.idem)) {
    if (keySeen.has(d.payload.key)) v(`idempotency key ${d.payload.key} made two jobs`);
    keySeen.set(d.payload.key, d.id);
  }
  for (const [key, answers] of ledger.keys) {
    if (answers.length === 0) continue; // only when the run was cut short
    if (new Set(answers.map((a) => a.id)).size !== 1) v(`key ${key} answered with several jobs: ${JSON.stringify(answers)}`);
    if (keySeen.get(key) !== answers[0].id) v(`acknowledged idempotent submit ${key} (job ${answers[0].id}) is lost`);
    if (answers.slice(1).some((a) => !a.replayed)) v(`key ${key}: a second submit was not a replay`);
  }

  // Flows: one per key, succeeded with the result of its inputs, one job per step.
  for (const [key, f] of ledger.flows) {
    if (new Set(f.answers.map((a) => a.id)).size !== 1) v(`flow key ${key} answered with several flows`);
    const doc = flowDocs.get(key);
    if (!doc) {
      v(`acknowledged flow ${key} (${f.answers[0].id}) is lost`);
      continue;
    }
    if (doc.state !== 'succeeded') v(`flow ${key} ended ${doc.state}: ${JSON.stringify(doc.error)}`);
    else if (JSON.stringify(doc.result) !== JSON.stringify({ c: { sum: 3 * f.n } })) v(`flow ${key} result ${JSON.stringify(doc.result)}`);
    for (const name of ['a', 'b', 'c']) {
      const jobId = doc.steps[name]?.job;
      if (doc.state === 'succeeded' && docs.get(jobId)?.state !== 'succeeded') v(`flow ${key} step ${name}: job ${jobId} is ${docs.get(jobId)?.state}`);
    }
  }
  for (const queue of [q.a, q.b, q.c]) {
    const n = byQueue(queue).length;
    if (n !== ledger.flows.size) v(`${queue} holds ${n} step jobs for ${ledger.flows.size} flows`);
  }

  // Final states: the ones the workers caused.
  for (const d of docs.values()) {
    const entry = ledger.jobs.get(d.id);
    if (!TERMINAL.includes(d.state)) {
      v(`job ${d.id} never finished: ${d.state}`, d.id);
      continue;
    }
    const doomed = d.payload.plan === 'doomed';
    if (d.state === 'succeeded') {
      const sent = (entry?.acks ?? []).filter((a) => JSON.stringify(a.json.result) === JSON.stringify(d.result));
      if (doomed || sent.length === 0) v(`job ${d.id} succeeded with ${JSON.stringify(d.result)}, which no worker sent`, d.id);
      if (!d.flow && d.result?.attempt !== d.attempt) v(`job ${d.id} (attempt ${d.attempt}) holds the result of attempt ${d.result?.attempt}`, d.id);
    } else if (d.state === 'failed') {
      if (!doomed || d.error?.message !== 'doomed') v(`job ${d.id} (${d.payload.plan}) failed but nobody failed it for good: ${JSON.stringify(d.error)}`, d.id);
    } else {
      v(`job ${d.id} ended ${d.state}, which nobody asked for`, d.id);
    }
    const acked = entry?.acks.find((a) => a.ok);
    if (acked && d.state !== 'succeeded') v(`job ${d.id}: its ack was answered 2xx but it is ${d.state}`, d.id);
    const failedForGood = entry?.fails.find((f) => f.ok && f.json.retry === false);
    if (failedForGood && d.state !== 'failed') v(`job ${d.id}: failed for good with a 2xx but it is ${d.state}`, d.id);
  }

  // Deliveries: each after the previous lease ended.
  for (const [id, entry] of ledger.jobs) {
    const leases = [...entry.leases].sort((x, y) => x.attempt - y.attempt);
    for (let i = 0; i < leases.length; i++) {
      const l2 = leases[i];
      const l1 = i > 0 ? leases[i - 1] : null;
      if (l1 && l1.attempt === l2.attempt) {
        v(`job ${id}: attempt ${l2.attempt} was granted twice (${l1.worker}, ${l2.worker})`, id);
        continue;
      }
      if (l1) {
        const failed = entry.fails.some((f) => f.token === l1.token && f.sentAt <= l2.at);
        const expired = l2.at + CLOCK_SLACK_MS >= l1.expiresAt;
        if (!failed && !expired) {
          v(`job ${id}: attempt ${l2.attempt} delivered to ${l2.worker} ${l1.expiresAt - l2.at} ms before ` +
            `the lease of attempt ${l1.attempt} (${l1.worker}) ran out, with no fail from it`, id);
        }
      }
      const unseen = l2.attempt - (l1 ? l1.attempt : 0) - 1;
      if (unseen > 0) {
        // Attempts whose lease answer a kill swallowed: the job came back only once they ran out.
        const after = l1 ? l1.sentAt : 0;
        const lost = ledger.lostLeases.filter((x) => x.sentAt >= after && x.sentAt <= l2.at);
        if (lost.length === 0) v(`job ${id}: attempts before ${l2.attempt} went to nobody, and no lease answer was lost`, id);
        else if (l2.at + CLOCK_SLACK_MS < lost[0].sentAt + LEASE_MS) {
          v(`job ${id}: attempt ${l2.attempt} came ${lost[0].sentAt + LEASE_MS - l2.at} ms before a lost lease could have run out`, id);
        }
      }
    }
    if (leases.length > 1) ledger.count('redelivery.checked', leases.length - 1);
  }

  // Timelines, for every job delivered more than once and a sample of the rest.
  const sample = [...docs.values()].filter((d, i) => (ledger.jobs.get(d.id)?.leases.length ?? 0) > 1 || i % 10 === 0);
  for (const d of sample) {
    const res = await api.req('GET', `/v1/jobs/${d.id}/events`, { headers: { accept: 'application/json' } });
    const events = res.body?.events ?? [];
    const leasedEvents = events.filter((e) => e.type === 'leased').length;
    const terminal = events.filter((e) => TERMINAL.includes(e.type)).length;
    if (events.length < 200 && leasedEvents !== d.attempt) v(`job ${d.id}: ${leasedEvents} leased events for attempt ${d.attempt}`);
    if (terminal !== 1) v(`job ${d.id}: ${terminal} terminal events`);
    if (events.some((e, i) => i > 0 && e.seq <= events[i - 1].seq)) v(`job ${d.id}: timeline out of order`);
  }
  ledger.count('timelines.checked', sample.length);
}
