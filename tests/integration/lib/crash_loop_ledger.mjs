// The crash loop's ledger (crash_loop.mjs): every answer its clients got,
// with the times it was sent and answered, and the times of the kills; and
// verify(), which holds it against what the server has once everything has
// drained:
//
// - no acknowledged submit is lost: every 2xx'd job exists and finishes; a
//   batch is all there or not at all; an idempotency key maps to one job,
//   a flow key to one flow;
// - no job acked with a 2xx is delivered again (a lease asked after the ack
//   was answered never returns it; checked as the lease comes in);
// - a job is delivered again only after its previous lease ended: failed by
//   its holder, or run out (its expiry, heartbeats included, had passed), or
//   a lease whose answer a kill swallowed had run out;
// - every flow succeeds with the result its steps' inputs give;
// - every job ends in the state its worker caused (succeeded with a result
//   a worker sent, failed by a worker that said so), none cancelled or
//   expired, none unfinished; and its timeline agrees (one lease event per
//   attempt, one terminal event).

export const TERMINAL = ['succeeded', 'failed', 'cancelled', 'expired'];
// Server timestamps have millisecond precision; both sides read the same clock.
const CLOCK_SLACK_MS = 5;

/** Everything the clients were told, per job, plus the kills and the lost calls. */
export class Ledger {
  constructor() {
    this.jobs = new Map(); // id -> {leases: [], acks: [], fails: [], heartbeats: []}
    this.singles = new Map(); // rid -> {status, id}
    this.batches = new Map(); // rid -> {size, status, ids}
    this.keys = new Map(); // idempotency key -> [{id, replayed}] (2xx answers)
    this.flows = new Map(); // flow key -> {n, id} (its 2xx answer)
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

  /**
   * Records a lease `worker` got (asked at `sentAt`, answered at `at`);
   * returns the record, whose expiresAt heartbeats move. A lease asked after
   * the job's ack was answered 2xx is a violation.
   */
  leased(j, sentAt, at, worker) {
    const rec = { token: j.lease, attempt: j.attempt, sentAt, at, worker,
                  expiresAt: Date.parse(j.lease_expires_at) };
    const entry = this.job(j.id);
    entry.leases.push(rec);
    const acked = entry.acks.find((a) => a.ok);
    if (acked && sentAt > acked.at) {
      this.violation(`job ${j.id} was leased again (attempt ${j.attempt}, asked ${sentAt - acked.at} ms ` +
                     `after its ack was answered 2xx)`);
    }
    return rec;
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
 * Checks the ledger against the jobs and flows as the server has them at the
 * end: `queues` (the run's queue names by role), `docs` (every job of those
 * queues, by id), `flowDocs` (every flow, by key), `leaseMs` (of every lease).
 * Adds each broken promise to ledger.violations.
 */
export async function verify(api, ledger, { queues: q, docs, flowDocs, leaseMs }) {
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
    const doc = flowDocs.get(key);
    if (!doc) {
      v(`acknowledged flow ${key} (${f.id}) is lost`);
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
        else if (l2.at + CLOCK_SLACK_MS < lost[0].sentAt + leaseMs) {
          v(`job ${id}: attempt ${l2.attempt} came ${lost[0].sentAt + leaseMs - l2.at} ms before a lost lease could have run out`, id);
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
