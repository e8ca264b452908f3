// HTTP helpers for the integration tests: a small client bound to a server
// handle (its url follows restarts), the API calls the tests make over and
// over, SSE and raw-socket readers, and assertions on the SPEC's documents.

import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { Readable } from 'node:stream';

export const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|\+00:00)$/;
export const UUIDV7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
export const STATES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'];
export const JOB_FIELDS = ['id', 'queue', 'state', 'payload', 'priority', 'attempt', 'max_attempts',
  'created_at', 'run_at', 'started_at', 'finished_at', 'lease_expires_at', 'worker', 'result',
  'error', 'progress', 'cancel_requested', 'idempotency_key', 'deadline', 'tags', 'flow',
  'waiting_on'];
export const LEASE_FIELDS = ['id', 'queue', 'payload', 'attempt', 'max_attempts', 'lease',
  'lease_expires_at', 'deadline', 'traceparent', 'tags', 'flow'];
export const FLOW_STATES = ['running', 'compensating', 'succeeded', 'failed', 'cancelled'];
export const FLOW_FIELDS = ['id', 'name', 'state', 'created_at', 'finished_at', 'deadline',
  'idempotency_key', 'steps', 'result', 'error'];
export const FLOW_STEP_FIELDS = ['queue', 'after', 'state', 'job', 'result', 'error', 'compensation',
  'waiting_on'];
/** Backoff that retries after 50 ms, for tests that go through retries. */
export const FAST_BACKOFF = { initial_ms: 50, multiplier: 1, max_ms: 50, jitter: 0 };

let queueCounter = 0;
/** A queue name no other test uses. */
export function uniqueQueue(prefix = 'q') {
  queueCounter += 1;
  return `${prefix}-${process.pid}-${queueCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A random, well-formed UUIDv7 that no server will have issued. */
export function randomUuidV7() {
  const hex = [...crypto.getRandomValues(new Uint8Array(16))]
    .map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-a${hex.slice(17, 20)}-` +
         `${hex.slice(20, 32)}`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 20, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await sleep(intervalMs);
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; returns results in order. */
export async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(runners);
  return out;
}

/**
 * fetch() for an https:// server whose certificate the PEM `ca` signs (fetch
 * itself cannot be given a CA). Resolves to what Api and openSse use of a
 * fetch Response: {status, headers (a Headers), text(), body (a ReadableStream)}.
 */
export function fetchWithCa(url, { method = 'GET', headers = {}, body, signal, ca } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, signal }, (res) => {
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : v);
      resolve({
        status: res.statusCode,
        headers: h,
        async text() {
          const chunks = [];
          for await (const c of res) chunks.push(c);
          return Buffer.concat(chunks).toString('utf8');
        },
        get body() {
          return Readable.toWeb(res);
        },
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** fetch(), or fetchWithCa() when the server handle has a CA (an HTTPS server). */
function fetchFor(srv, url, init) {
  return srv?.ca ? fetchWithCa(url, { ...init, ca: srv.ca }) : fetch(url, init);
}

/** Client bound to a server handle from startServer(). */
export class Api {
  constructor(srv) {
    this.srv = srv;
  }

  /**
   * One request. `json` is sent as application/json; `body` as given.
   * Resolves to {status, headers, body (parsed JSON or null), text, ms}.
   */
  async req(method, path, { json, body, headers = {}, timeoutMs = 30_000 } = {}) {
    const h = { ...headers };
    let payload = body;
    if (json !== undefined) {
      payload = JSON.stringify(json);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
        h['content-type'] = 'application/json';
      }
    }
    const started = performance.now();
    let res;
    let text;
    try {
      res = await fetchFor(this.srv, this.srv.url + path, {
        method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      throw await this.explain(e, `${method} ${path}`);
    }
    const ms = performance.now() - started;
    let parsed = null;
    if (/json/.test(res.headers.get('content-type') ?? '')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    return { status: res.status, headers: res.headers, body: parsed, text, ms };
  }

  /** A request error with its cause and, if the server died, how and its stderr. */
  async explain(e, what) {
    // Give a dying server's exit a moment to be noticed.
    if (this.srv.exited) await Promise.race([this.srv.exited, sleep(200)]);
    const cause = e.cause?.message ?? e.cause?.code ?? '';
    let msg = `${what} failed: ${e.message}${cause ? ` (${cause})` : ''}`;
    const proc = this.srv.proc;
    if (proc && (proc.exitCode !== null || proc.signalCode !== null)) {
      msg += `\nthe server is not running (exit code ${proc.exitCode}, signal ${proc.signalCode})` +
             `\n--- server stderr (tail) ---\n${this.srv.stderr().slice(-4000)}`;
    }
    return new Error(msg, { cause: e });
  }

  // --- producers ---

  /** POST /v1/queues/{queue}/jobs. `wait` adds `Prefer: wait=<wait>`. */
  submit(queue, job, { wait, headers = {}, timeoutMs } = {}) {
    const h = { ...headers };
    if (wait !== undefined) h.prefer = `wait=${wait}`;
    return this.req('POST', `/v1/queues/${encodeURIComponent(queue)}/jobs`,
                    { json: job, headers: h, timeoutMs });
  }

  /** Submits and asserts 202; returns the job document. */
  async submitOk(queue, job = { payload: {} }, opts) {
    const res = await this.submit(queue, job, opts);
    assert.equal(res.status, 202, `submit to ${queue}: ${res.status} ${res.text}`);
    return res.body;
  }

  batch(queue, jobs) {
    return this.req('POST', `/v1/queues/${encodeURIComponent(queue)}/batch`, { json: { jobs } });
  }

  getJob(id, { wait, timeoutMs } = {}) {
    const headers = wait !== undefined ? { prefer: `wait=${wait}` } : {};
    return this.req('GET', `/v1/jobs/${id}`, { headers, timeoutMs });
  }

  /** GET /v1/jobs/{id}, asserting 200; returns the job document. */
  async job(id, opts) {
    const res = await this.getJob(id, opts);
    assert.equal(res.status, 200, `GET job ${id}: ${res.status} ${res.text}`);
    return res.body;
  }

  /** The job's timeline (JSON form), asserting 200. */
  async events(id) {
    const res = await this.req('GET', `/v1/jobs/${id}/events`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200, `GET events ${id}: ${res.status} ${res.text}`);
    return res.body.events;
  }

  cancel(id) {
    return this.req('POST', `/v1/jobs/${id}/cancel`);
  }

  // --- workers ---

  /** POST /v1/leases; `wait` adds `Prefer: wait=<wait>`. */
  lease(queues, { worker = 'test-worker', max = 1, lease_ms = 30_000, wait, timeoutMs } = {}) {
    const headers = wait !== undefined ? { prefer: `wait=${wait}` } : {};
    return this.req('POST', '/v1/leases', { json: { queues, worker, max, lease_ms }, headers, timeoutMs });
  }

  /** Leases, asserting 200; returns the list of leased jobs. */
  async leaseJobs(queues, opts) {
    const res = await this.lease(queues, opts);
    assert.equal(res.status, 200, `lease ${queues}: ${res.status} ${res.text}`);
    assert.ok(Array.isArray(res.body?.jobs), `lease answer without jobs: ${res.text}`);
    return res.body.jobs;
  }

  /** Leases exactly one job (waiting up to `wait` s, default 5); returns it. */
  async leaseOne(queue, opts = {}) {
    const jobs = await this.leaseJobs([queue], { wait: 5, ...opts, max: 1 });
    assert.equal(jobs.length, 1, `expected one job from ${queue}, got ${jobs.length}`);
    return jobs[0];
  }

  ack(id, lease, result = null) {
    return this.req('POST', `/v1/jobs/${id}/ack`, { json: { lease, result } });
  }

  async ackOk(id, lease, result = null) {
    const res = await this.ack(id, lease, result);
    assert.equal(res.status, 200, `ack ${id}: ${res.status} ${res.text}`);
    return res.body;
  }

  fail(id, lease, { error = { message: 'boom', type: 'TestError', detail: 'stack' }, retry, retry_in_ms } = {}) {
    const json = { lease, error };
    if (retry !== undefined) json.retry = retry;
    if (retry_in_ms !== undefined) json.retry_in_ms = retry_in_ms;
    return this.req('POST', `/v1/jobs/${id}/fail`, { json });
  }

  heartbeat(id, lease, { lease_ms, progress } = {}) {
    const json = { lease };
    if (lease_ms !== undefined) json.lease_ms = lease_ms;
    if (progress !== undefined) json.progress = progress;
    return this.req('POST', `/v1/jobs/${id}/heartbeat`, { json });
  }

  /** Submits one job and leases it; returns {job (document), leased (lease entry)}. */
  async submitAndLease(queue, job = { payload: {} }, leaseOpts = {}) {
    const doc = await this.submitOk(queue, job);
    const leased = await this.leaseOne(queue, leaseOpts);
    assert.equal(leased.id, doc.id);
    return { job: doc, leased };
  }

  // --- flows ---

  /** POST /v1/flows. `wait` adds `Prefer: wait=<wait>`. */
  submitFlow(flow, { wait, headers = {}, timeoutMs } = {}) {
    const h = { ...headers };
    if (wait !== undefined) h.prefer = `wait=${wait}`;
    return this.req('POST', '/v1/flows', { json: flow, headers: h, timeoutMs });
  }

  /** Submits a flow and asserts 202; returns the flow document. */
  async submitFlowOk(flow, opts) {
    const res = await this.submitFlow(flow, opts);
    assert.equal(res.status, 202, `submit flow: ${res.status} ${res.text}`);
    return res.body;
  }

  getFlow(id, { wait, timeoutMs } = {}) {
    const headers = wait !== undefined ? { prefer: `wait=${wait}` } : {};
    return this.req('GET', `/v1/flows/${id}`, { headers, timeoutMs });
  }

  /** GET /v1/flows/{id}, asserting 200; returns the flow document. */
  async flow(id, opts) {
    const res = await this.getFlow(id, opts);
    assert.equal(res.status, 200, `GET flow ${id}: ${res.status} ${res.text}`);
    return res.body;
  }

  /** The flow's timeline (JSON form), asserting 200. */
  async flowEvents(id) {
    const res = await this.req('GET', `/v1/flows/${id}/events`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200, `GET flow events ${id}: ${res.status} ${res.text}`);
    return res.body.events;
  }

  cancelFlow(id) {
    return this.req('POST', `/v1/flows/${id}/cancel`);
  }

  /** GET /v1/flows with the given query parameters ({state, limit, cursor}). */
  listFlows(query = {}) {
    const qs = new URLSearchParams(query).toString();
    return this.req('GET', `/v1/flows${qs ? `?${qs}` : ''}`);
  }

  // --- operators ---

  /** GET /v1/queues/{queue}, asserting 200; returns the queue document. */
  async queue(name) {
    const res = await this.req('GET', `/v1/queues/${encodeURIComponent(name)}`);
    assert.equal(res.status, 200, `GET queue ${name}: ${res.status} ${res.text}`);
    return res.body;
  }

  /** The queue document without `oldest_queued_ms` (which changes with time): for before/after checks. */
  async queueState(name) {
    const { oldest_queued_ms, ...rest } = await this.queue(name);
    return rest;
  }

  /** Names of all queues the server reports. */
  async queueNames() {
    const res = await this.req('GET', '/v1/queues');
    assert.equal(res.status, 200, res.text);
    return res.body.queues.map((q) => q.name).sort();
  }

  /** Every job of the queue (GET /v1/jobs?queue=, all pages), newest first. */
  async allJobs(queue) {
    const jobs = [];
    let cursor = null;
    for (;;) {
      const qs = `queue=${encodeURIComponent(queue)}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await this.req('GET', `/v1/jobs?${qs}`);
      assert.equal(res.status, 200, `GET /v1/jobs?${qs}: ${res.status} ${res.text}`);
      jobs.push(...res.body.jobs);
      cursor = res.body.next ?? null;
      if (!cursor) return jobs;
    }
  }
}

// --- assertions ---

export function assertTimestamp(v, what = 'timestamp') {
  assert.equal(typeof v, 'string', `${what} should be an RFC 3339 string, got ${JSON.stringify(v)}`);
  assert.match(v, TIMESTAMP_RE, `${what} should be RFC 3339 UTC with milliseconds`);
}

export function assertTimestampOrNull(v, what) {
  if (v !== null) assertTimestamp(v, what);
}

/** Every field of "The job document" is present (null when absent) and well-typed. */
export function assertJobDoc(doc) {
  assert.ok(doc && typeof doc === 'object', `job document expected, got ${JSON.stringify(doc)}`);
  for (const f of JOB_FIELDS) {
    assert.ok(Object.hasOwn(doc, f), `job document lacks "${f}": ${JSON.stringify(doc)}`);
    assert.notEqual(doc[f], undefined, `job field ${f} is undefined`);
  }
  assert.match(doc.id, UUIDV7_RE, 'job id is a UUIDv7');
  assert.equal(typeof doc.queue, 'string');
  assert.ok(STATES.includes(doc.state), `state ${doc.state}`);
  assert.ok(Number.isInteger(doc.priority), 'priority is an integer');
  assert.ok(Number.isInteger(doc.attempt), 'attempt is an integer');
  assert.ok(Number.isInteger(doc.max_attempts), 'max_attempts is an integer');
  assertTimestamp(doc.created_at, 'created_at');
  for (const f of ['run_at', 'started_at', 'finished_at', 'lease_expires_at', 'deadline']) {
    assertTimestampOrNull(doc[f], f);
  }
  assert.ok(doc.worker === null || typeof doc.worker === 'string', 'worker');
  const terminal = ['succeeded', 'failed', 'cancelled', 'expired'].includes(doc.state);
  if (terminal) assert.equal(doc.waiting_on, null, 'a terminal job waits on nothing');
  else assert.equal(typeof doc.waiting_on?.message, 'string', `waiting_on: ${JSON.stringify(doc.waiting_on)}`);
  if (doc.error !== null) {
    for (const f of ['message', 'type', 'detail', 'attempt']) {
      assert.ok(Object.hasOwn(doc.error, f), `error lacks "${f}": ${JSON.stringify(doc.error)}`);
    }
  }
  if (doc.progress !== null) {
    for (const f of ['percent', 'message', 'data']) {
      assert.ok(Object.hasOwn(doc.progress, f), `progress lacks "${f}": ${JSON.stringify(doc.progress)}`);
    }
  }
  assert.equal(typeof doc.cancel_requested, 'boolean', 'cancel_requested is a boolean');
  assert.ok(doc.idempotency_key === null || typeof doc.idempotency_key === 'string');
  assert.ok(doc.tags === null || Array.isArray(doc.tags), 'tags is null or an array');
  assert.ok(doc.flow === null || typeof doc.flow === 'object', 'flow is null or an object');
}

/** Every lease field of SPEC "POST /v1/leases" is present. */
export function assertLeaseEntry(entry) {
  for (const f of LEASE_FIELDS) {
    assert.ok(Object.hasOwn(entry, f), `leased job lacks "${f}": ${JSON.stringify(entry)}`);
  }
  assert.match(entry.id, UUIDV7_RE);
  assert.equal(typeof entry.lease, 'string');
  assert.ok(entry.lease.length > 0, 'lease token is non-empty');
  assert.ok(Number.isInteger(entry.attempt) && entry.attempt >= 1, 'attempt >= 1');
  assertTimestamp(entry.lease_expires_at, 'lease_expires_at');
  assertTimestampOrNull(entry.deadline, 'deadline');
  if (entry.flow !== null) {
    assert.ok(typeof entry.flow === 'object', `flow is null or an object: ${JSON.stringify(entry.flow)}`);
    assert.match(entry.flow.id, UUIDV7_RE, 'flow.id is a flow id');
    assert.ok(typeof entry.flow.step === 'string' || typeof entry.flow.compensating === 'string',
              `flow names its step or the step it compensates: ${JSON.stringify(entry.flow)}`);
    assert.ok(entry.flow.inputs && typeof entry.flow.inputs === 'object', 'flow.inputs is an object');
  }
}

/** Every field of the flow document (docs/api.md "Flows") is present and well-typed. */
export function assertFlowDoc(doc) {
  assert.ok(doc && typeof doc === 'object', `flow document expected, got ${JSON.stringify(doc)}`);
  for (const f of FLOW_FIELDS) {
    assert.ok(Object.hasOwn(doc, f), `flow document lacks "${f}": ${JSON.stringify(doc)}`);
  }
  assert.match(doc.id, UUIDV7_RE, 'flow id is a UUIDv7');
  assert.ok(FLOW_STATES.includes(doc.state), `flow state ${doc.state}`);
  assertTimestamp(doc.created_at, 'created_at');
  assertTimestampOrNull(doc.finished_at, 'finished_at');
  assertTimestampOrNull(doc.deadline, 'deadline');
  const terminal = ['succeeded', 'failed', 'cancelled'].includes(doc.state);
  assert.equal(doc.finished_at !== null, terminal, 'finished_at is set exactly when the flow is terminal');
  assert.ok(doc.steps && typeof doc.steps === 'object' && !Array.isArray(doc.steps), 'steps is an object');
  for (const [name, step] of Object.entries(doc.steps)) {
    for (const f of FLOW_STEP_FIELDS) {
      assert.ok(Object.hasOwn(step, f), `step ${name} lacks "${f}": ${JSON.stringify(step)}`);
    }
    assert.ok(Array.isArray(step.after), `step ${name}: after is an array`);
    assert.ok(step.job === null || UUIDV7_RE.test(step.job), `step ${name}: job`);
    if (step.state === 'pending') {
      assert.equal(step.job, null, `pending step ${name} has no job yet`);
      assert.equal(step.waiting_on?.reason, 'flow', `pending step ${name}: waiting_on`);
      assert.ok(Array.isArray(step.waiting_on.steps), `step ${name}: waiting_on.steps`);
      assert.equal(typeof step.waiting_on.message, 'string');
    } else {
      assert.equal(step.waiting_on, null, `step ${name} (${step.state}) waits on no step`);
    }
    if (step.compensation !== null) {
      assert.ok(Object.hasOwn(step.compensation, 'job') && Object.hasOwn(step.compensation, 'state'),
                `step ${name}: compensation ${JSON.stringify(step.compensation)}`);
    }
  }
  if (doc.state === 'succeeded') assert.notEqual(doc.result, null, 'a succeeded flow has a result');
  if (doc.error !== null) {
    for (const f of ['step', 'message', 'type']) {
      assert.ok(Object.hasOwn(doc.error, f), `flow error lacks "${f}": ${JSON.stringify(doc.error)}`);
    }
  }
}

/** An RFC 9457 problem with the given status. Returns the problem body. */
export function assertProblem(res, status, what = '') {
  const label = what ? `${what}: ` : '';
  if (Array.isArray(status)) {
    assert.ok(status.includes(res.status), `${label}status ${res.status} not in ${status}: ${res.text}`);
  } else {
    assert.equal(res.status, status, `${label}expected ${status}, got ${res.status}: ${res.text}`);
  }
  const ct = res.headers.get('content-type') ?? '';
  assert.match(ct, /^application\/problem\+json/, `${label}content-type ${ct}`);
  const p = res.body;
  assert.ok(p && typeof p === 'object', `${label}problem body: ${res.text}`);
  for (const f of ['type', 'title', 'detail']) {
    assert.equal(typeof p[f], 'string', `${label}problem.${f} is a string: ${res.text}`);
  }
  assert.equal(p.status, res.status, `${label}problem.status equals the HTTP status`);
  return p;
}

/** Milliseconds from now until the RFC 3339 time `ts`. */
export function msUntil(ts) {
  return Date.parse(ts) - Date.now();
}

// --- SSE ---

/**
 * Opens an SSE stream. Returns {status, headers, next(timeoutMs), close()}:
 * next() resolves to the next frame {id, event, data (parsed JSON)} or null
 * when the server ended the stream. `ca`: for an https:// server (see fetchWithCa).
 */
export async function openSse(url, headers = {}, { ca } = {}) {
  const ctrl = new AbortController();
  const res = await fetchFor({ ca }, url, {
    headers: { accept: 'text/event-stream', ...headers }, signal: ctrl.signal,
  });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let done = false;
  const parseFrame = (raw) => {
    const frame = { id: null, event: 'message', data: null };
    const data = [];
    for (const line of raw.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'id') frame.id = value;
      else if (field === 'event') frame.event = value;
    }
    if (data.length === 0) return null;
    frame.rawData = data.join('\n');
    try {
      frame.data = JSON.parse(frame.rawData);
    } catch {
      frame.data = undefined;
    }
    return frame;
  };
  return {
    status: res.status,
    headers: res.headers,
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = /\r?\n\r?\n/.exec(buf);
        if (m) {
          const raw = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          const frame = parseFrame(raw);
          if (frame) return frame;
          continue;
        }
        if (done) return null;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no SSE frame within ${timeoutMs} ms`);
        let timer;
        const r = await Promise.race([
          reader.read(),
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`no SSE frame within ${timeoutMs} ms`)), left);
          }),
        ]).finally(() => clearTimeout(timer));
        if (r.done) done = true;
        else buf += decoder.decode(r.value, { stream: true });
      }
    },
    /** Reads frames until the server ends the stream; returns them. */
    async rest(timeoutMs = 5000) {
      const frames = [];
      for (;;) {
        const f = await this.next(timeoutMs);
        if (f === null) return frames;
        frames.push(f);
      }
    },
    close() {
      ctrl.abort();
    },
  };
}

// --- raw sockets ---

/**
 * Sends `data` on a fresh TCP connection and collects everything the server
 * writes until it closes the connection or `timeoutMs` passes. Resolves to
 * {text, status, closed}.
 */
export function rawExchange(port, data, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let finished = false;
    const finish = (closed) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : null, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', () => {
      sock.write(data, () => {});
    });
  });
}
