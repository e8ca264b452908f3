// HTTP requests that know when they were fully sent, for tests that signal
// the server mid-request (shutdown.test.mjs): fetch() cannot say whether a
// request had left before a SIGTERM, node:http's 'finish' event can (the
// whole request was handed to the kernel; on loopback it is then in the
// server's socket buffer).
//
// Each call resolves, never rejects, to a record of what happened:
//   {method, path, startedAt, sentAt (null: never fully sent), status,
//    headers, text, body (parsed JSON or null), complete (the response was
//    read to its end), error (a code such as ECONNRESET, or null), doneAt}

import http from 'node:http';
import net from 'node:net';

/** A keep-alive agent, so that requests reuse connections as real clients do. */
export function keepAliveAgent(maxSockets = 16) {
  return new http.Agent({ keepAlive: true, maxSockets });
}

/**
 * One request to `srv` (a startServer() handle; its port is read now).
 * Options: json (sent as the body), headers, agent, timeoutMs.
 */
export function trackedRequest(srv, method, path, { json, headers = {}, agent, timeoutMs = 60_000 } = {}) {
  const record = {
    method, path, startedAt: Date.now(), sentAt: null, status: null, headers: null,
    text: '', body: null, complete: false, error: null, doneAt: null,
  };
  const payload = json === undefined ? null : Buffer.from(JSON.stringify(json));
  const h = { ...headers };
  if (payload) {
    h['content-type'] = 'application/json';
    h['content-length'] = payload.length;
  }
  return new Promise((resolve) => {
    const done = (error) => {
      if (record.doneAt !== null) return;
      record.doneAt = Date.now();
      if (error) record.error = error.code ?? error.message;
      if (/json/.test(record.headers?.['content-type'] ?? '')) {
        try {
          record.body = JSON.parse(record.text);
        } catch {
          record.body = null;
        }
      }
      resolve(record);
    };
    const req = http.request({
      host: '127.0.0.1', port: srv.port, method, path, headers: h, agent: agent ?? false,
      timeout: timeoutMs,
    });
    req.on('finish', () => {
      record.sentAt = Date.now();
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', done);
    req.on('response', (res) => {
      record.status = res.statusCode;
      record.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (c) => {
        record.text += c;
      });
      res.on('end', () => {
        record.complete = res.complete;
        done(res.complete ? null : { code: 'INCOMPLETE' });
      });
      res.on('error', done);
      res.on('aborted', () => done({ code: 'ABORTED' }));
    });
    req.end(payload ?? undefined);
  });
}

/**
 * Opens an SSE stream and reads it to its end. Returns {opened (Promise of
 * the status), ended (Promise of the record: complete is true when the
 * server ended the chunked body properly), frames (count so far)}.
 */
export function trackedStream(srv, path, { headers = {} } = {}) {
  const stream = { frames: 0 };
  let markOpened;
  stream.opened = new Promise((resolve) => {
    markOpened = resolve;
  });
  stream.ended = new Promise((resolve) => {
    const record = { path, status: null, complete: false, error: null, doneAt: null, text: '' };
    const done = (error) => {
      if (record.doneAt !== null) return;
      record.doneAt = Date.now();
      if (error) record.error = error.code ?? error.message;
      markOpened(record.status);
      resolve(record);
    };
    const req = http.get({
      host: '127.0.0.1', port: srv.port, path, agent: false,
      headers: { accept: 'text/event-stream', ...headers },
    });
    req.on('error', done);
    req.on('response', (res) => {
      record.status = res.statusCode;
      markOpened(res.statusCode);
      res.setEncoding('utf8');
      res.on('data', (c) => {
        record.text = (record.text + c).slice(-4096);
        stream.frames += (c.match(/\n\n/g) ?? []).length;
      });
      res.on('end', () => {
        record.complete = res.complete;
        done(res.complete ? null : { code: 'INCOMPLETE' });
      });
      res.on('error', done);
      res.on('aborted', () => done({ code: 'ABORTED' }));
    });
  });
  return stream;
}

/**
 * A raw connection that sends `head`, reads until what the server wrote
 * matches `until` (proof that the server is at work on it: a
 * `100 Continue`, a response head), sends `body`, if any, and then neither
 * sends nor reads anything more: a client that keeps a request or a
 * response half-done. Resolves once all that is done; close() destroys it.
 */
export function stalledConnection(port, head, { until, body = '', timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let seen = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the server wrote no ${until} within ${timeoutMs} ms: ${JSON.stringify(seen)}`));
    }, timeoutMs);
    const stall = () => {
      clearTimeout(timer);
      sock.removeAllListeners('data');
      sock.pause(); // never read again: whatever the server writes fills the socket buffers
      const done = () => resolve({ socket: sock, close: () => sock.destroy() });
      if (body) sock.write(body, (err) => (err ? reject(err) : done()));
      else done();
    };
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.once('connect', () => {
      sock.write(head);
      if (!until) {
        stall();
        return;
      }
      sock.setEncoding('latin1');
      sock.on('data', (c) => {
        seen += c;
        if (until.test(seen)) stall();
      });
    });
  });
}
