// The live state of every queue, shared by the views: counts, throughput and
// lag, with a short history for the sparklines.
//
// Snapshots come from the server-wide event stream GET /v1/events
// (`event: queues` about once a second, `event: job` on every state change).
// Where that stream is not available (an older server, a proxy that buffers)
// the feed polls GET /v1/queues every second instead, and tries the stream
// again now and then.

import { get } from './api.js';
import { readEvents } from './sse.js';

const POLL_MS = 1000;
const STREAM_RETRY_MS = 30_000;
// Samples kept per queue: two minutes at one a second.
const HISTORY = 120;
const MIN_SAMPLE_MS = 500;
// In stream mode, a poll fills in when no snapshot came for this long.
const STALE_MS = 3000;

export class QueueFeed {
  constructor() {
    this.queues = new Map(); // name -> {doc, history: [{t, inRate, outRate, lag}]}
    this.mode = 'starting';  // 'stream' | 'polling' | 'offline' | 'signed-out' | 'forbidden'
    this.problem = null;     // in 'forbidden' mode: why, in the server's words
    this.listeners = new Set();
    this.jobListeners = new Set();
    this.lastSnapshot = 0;
  }

  /** Calls `fn(feed)` after every update; returns the unsubscribe function. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Calls `fn({id, queue, from, to, at})` for every job state change the stream reports. */
  onJobChange(fn) {
    this.jobListeners.add(fn);
    return () => this.jobListeners.delete(fn);
  }

  start() {
    this.runStream();
    // A stream that reports jobs but no queue snapshots must not freeze the counts.
    setInterval(() => {
      if (this.mode === 'stream' && Date.now() - this.lastSnapshot > STALE_MS) this.pollOnce();
    }, STALE_MS);
  }

  /** Applies a queue document the page got some other way (e.g. a pause answer). */
  update(doc) {
    const entry = this.queues.get(doc.name);
    if (entry) entry.doc = { ...entry.doc, ...doc };
    else this.record([doc], Date.now(), false);
    this.notify();
  }

  names() {
    return [...this.queues.keys()].sort();
  }

  async runStream() {
    let lastTry = 0;
    for (;;) { // for the life of the page
      lastTry = Date.now();
      try {
        await readEvents('/v1/events', { onEvent: (e) => this.onEvent(e) });
      } catch {
        // no stream here (yet): poll until it is time to try again
      }
      await this.pollUntil(lastTry + STREAM_RETRY_MS);
    }
  }

  onEvent({ type, data }) {
    if (this.mode !== 'stream') {
      this.mode = 'stream';
      this.notify();
    }
    if (type === 'queues') {
      const docs = Array.isArray(data) ? data : data?.queues;
      if (Array.isArray(docs)) {
        this.record(docs, Date.now(), true);
        this.notify();
      }
    } else if (type === 'job' && data && typeof data === 'object') {
      for (const fn of this.jobListeners) fn(data);
    }
  }

  async pollUntil(until) {
    while (Date.now() < until) {
      const started = Date.now();
      if (!document.hidden) await this.pollOnce('polling');
      await sleep(Math.max(0, POLL_MS - (Date.now() - started)));
    }
  }

  async pollOnce(mode = this.mode) {
    try {
      const { queues } = await get('/v1/queues');
      this.mode = mode;
      this.problem = null;
      this.record(queues, Date.now(), true);
    } catch (e) {
      // A token problem is not the server being away: say which it is.
      this.mode = e.status === 401 ? 'signed-out' : e.status === 403 ? 'forbidden' : 'offline';
      this.problem = e.status === 403 ? e.message : null;
    }
    this.notify();
  }

  // Stores a snapshot of `docs` taken at time `t`; with `complete`, a queue
  // missing from it is gone (purged).
  record(docs, t, complete) {
    this.lastSnapshot = t;
    const seen = new Set();
    for (const doc of docs) {
      seen.add(doc.name);
      const entry = this.queues.get(doc.name) ?? { doc: null, history: [], last: null };
      entry.doc = { ...entry.doc, ...doc };
      this.queues.set(doc.name, entry);
      const previous = entry.history.at(-1);
      if (previous && t - previous.t < MIN_SAMPLE_MS) continue;
      entry.history.push(sample(entry.last, doc, t));
      if (entry.history.length > HISTORY) entry.history.shift();
      if (hasTotals(doc)) entry.last = { t, doc };
    }
    if (complete) for (const name of this.queues.keys()) if (!seen.has(name)) this.queues.delete(name);
  }

  notify() {
    for (const fn of this.listeners) fn(this);
  }
}

function hasTotals(doc) {
  return Number.isFinite(doc.enqueued_total) && Number.isFinite(doc.succeeded_total) &&
         Number.isFinite(doc.failed_total);
}

// Jobs in and out per second since the previous snapshot (null when
// unknown), and the lag now. Out counts jobs that finished: succeeded, or
// failed terminally.
function sample(last, doc, t) {
  const point = { t, lag: doc.oldest_queued_ms ?? 0, inRate: null, outRate: null };
  if (!last || !hasTotals(doc)) return point;
  const seconds = (t - last.t) / 1000;
  const delta = (key) => Math.max(0, doc[key] - last.doc[key]);
  point.inRate = delta('enqueued_total') / seconds;
  point.outRate = (delta('succeeded_total') + delta('failed_total')) / seconds;
  return point;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
