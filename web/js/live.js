// A job or a flow followed live: its document and timeline (GET <path> and
// <path>/events as JSON), then its own event stream (<path>/events as SSE,
// from the last event seen) until the document is terminal. Each event joins
// the timeline at once and the document is re-read, at most once per 150 ms.
// Where the stream is not available, or ends while the subject still moves
// (an admin retry of a job), the document is polled every 2 s. poke() re-reads
// it on news from elsewhere (a flow's step job leased).

import { get } from './api.js';
import { announce, h, replaceChildren } from './dom.js';
import { readEvents } from './sse.js';

const POLL_MS = 2000;
// At most one re-read of the document in this time, however many events arrive.
const RELOAD_COALESCE_MS = 150;

export class LiveDocument {
  /**
   * `path` is the document's, e.g. "/v1/jobs/<id>". `isTerminal(doc)` says when
   * nothing more can happen; `onChange()` is called after every change of
   * `doc` or the timeline; `patch(doc, event)`, optional, applies an event to
   * the document at once (a job's progress) and returns the new document.
   */
  constructor(path, { isTerminal, onChange, patch = null }) {
    this.path = path;
    this.isTerminal = isTerminal;
    this.onChange = onChange;
    this.patch = patch;
    this.doc = null;
    this.events = new Map(); // seq -> event
    this.controller = new AbortController();
    this.reloadTimer = null;
    this.following = false;
    // Changes heard of (stream events, pokes) and document reads started and
    // applied, so that a read answered after a newer change, or after a newer
    // read, is dropped: showing it would step back.
    this.seen = 0;
    this.readsStarted = 0;
    this.readApplied = 0;
  }

  /** The timeline, oldest first. */
  timeline() {
    return [...this.events.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Stops following; nothing changes after this. */
  stop() {
    this.controller.abort();
    clearTimeout(this.reloadTimer);
  }

  /** Reads the document and the whole timeline. Throws ApiError (and AbortError). */
  async load() {
    const { signal } = this.controller;
    const [doc, timeline] = await Promise.all([
      this.read(),
      get(`${this.path}/events`, { signal }),
    ]);
    for (const event of timeline?.events ?? []) this.events.set(event.seq, event);
    doc.apply();
    this.onChange();
  }

  /**
   * Follows the event stream until the document is terminal. Calling it while
   * it follows does nothing, so an action that may have revived the subject
   * (a retry) can simply call it again.
   */
  async follow() {
    if (this.following || !this.doc) return;
    this.following = true;
    const { signal } = this.controller;
    try {
      while (!signal.aborted && !this.isTerminal(this.doc)) {
        const lastSeq = Math.max(0, ...this.events.keys());
        const before = this.events.size;
        const opened = Date.now();
        try {
          await readEvents(`${this.path}/events`, {
            signal, lastEventId: lastSeq || undefined, onEvent: (e) => this.onStreamEvent(e),
          });
          // A stream that ends at once with nothing new (it had already
          // reported a terminal event before an admin retry) is no better than polling.
          if (this.events.size === before && Date.now() - opened < POLL_MS) await sleep(POLL_MS, signal);
        } catch {
          await sleep(POLL_MS, signal); // no stream: poll instead
        }
        if (signal.aborted) return;
        await this.load();
      }
    } catch (e) {
      if (e.name !== 'AbortError') announce(`Live updates stopped: ${e.message}`);
    } finally {
      this.following = false;
    }
  }

  onStreamEvent({ type, id: seq, data }) {
    if (data && typeof data === 'object') {
      const event = { type, seq: Number(seq), ...data };
      if (Number.isFinite(event.seq)) this.events.set(event.seq, event);
      if (this.patch && this.doc) this.doc = this.patch(this.doc, event);
    }
    this.onChange();
    // The event says what happened; the document says where that leaves the subject.
    this.poke();
  }

  /**
   * Re-reads the document soon (coalesced): something newer than any read
   * under way has happened, from the stream or from elsewhere (a flow's step
   * job leased, which the flow's own events do not report).
   */
  poke() {
    this.seen += 1;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(async () => {
      try {
        const doc = await this.read();
        if (doc.apply()) this.onChange();
      } catch {
        // the next event or the end of the stream reads it again
      }
    }, RELOAD_COALESCE_MS);
  }

  // GETs the document; the answer's apply() takes it unless something newer
  // came meanwhile (then the newer thing has scheduled its own read), and says
  // whether it did. The first document is always taken.
  async read() {
    const ticket = ++this.readsStarted;
    const asOf = this.seen;
    const doc = await get(this.path, { signal: this.controller.signal });
    return {
      apply: () => {
        if (this.doc && (asOf !== this.seen || ticket < this.readApplied)) return false;
        this.doc = doc;
        this.readApplied = ticket;
        return true;
      },
    };
  }
}

/**
 * Loads `live`, then puts `content` in `body` (which says "Loading…" until
 * then) and follows; or says in `body` why it could not: `notFound` for a
 * 404, else "Could not load the <what>".
 */
export async function showLive(live, body, content, { notFound, what }) {
  try {
    await live.load();
    replaceChildren(body, content);
    body.setAttribute('aria-busy', 'false');
    live.follow();
  } catch (e) {
    if (e.name === 'AbortError') return;
    body.setAttribute('aria-busy', 'false');
    replaceChildren(body, h('p', { class: 'error', role: 'alert' },
      e.status === 404 ? notFound : `Could not load the ${what}: ${e.message}`));
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
