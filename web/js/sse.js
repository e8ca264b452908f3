// Server-Sent Events read with fetch rather than EventSource, because
// EventSource cannot send an Authorization header (see api.js).

import { ApiError, authHeaders, errorOf } from './api.js';

/**
 * Opens the event stream at `path` and calls onEvent({type, id, data}) for
 * each event, `data` parsed as JSON (or the raw text when it is not JSON).
 * Resolves when the server ends the stream or `signal` aborts it; rejects
 * with ApiError when the server answers with anything but an event stream
 * (e.g. 404 where a server does not have the stream yet) or the connection
 * breaks.
 */
export async function readEvents(path, { onEvent, signal, lastEventId } = {}) {
  const headers = { accept: 'text/event-stream', ...authHeaders() };
  if (lastEventId !== undefined && lastEventId !== null) headers['last-event-id'] = String(lastEventId);
  let res;
  try {
    res = await fetch(path, { headers, signal, cache: 'no-store' });
  } catch (e) {
    if (signal?.aborted) return;
    throw new ApiError(0, `cannot open ${path}: ${e.message}`);
  }
  const type = res.headers.get('content-type') || '';
  if (res.status === 401 || res.status === 403) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      // not a problem document: errorOf falls back on the status
    }
    throw errorOf(res, data);
  }
  if (!res.ok || !type.startsWith('text/event-stream')) {
    res.body?.cancel().catch(() => {});
    throw new ApiError(res.status, `${path} is not an event stream here (${res.status})`);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = newEvent();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        if (newline === buffer.length - 1 && buffer.endsWith('\r')) break; // maybe \r\n split
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (event.data.length > 0) onEvent(finish(event));
          event = newEvent();
        } else {
          addField(event, line);
        }
      }
    }
  } catch (e) {
    if (signal?.aborted) return;
    throw new ApiError(0, `the stream ${path} broke: ${e.message}`);
  }
}

function newEvent() {
  return { type: 'message', id: null, data: [] };
}

// One "field: value" line (https://html.spec.whatwg.org/#event-stream-interpretation).
function addField(event, line) {
  if (line.startsWith(':')) return; // a comment, e.g. a keep-alive
  const colon = line.indexOf(':');
  const field = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? '' : line.slice(colon + 1);
  if (value.startsWith(' ')) value = value.slice(1);
  if (field === 'event') event.type = value;
  else if (field === 'data') event.data.push(value);
  else if (field === 'id') event.id = value;
}

function finish(event) {
  const text = event.data.join('\n');
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { type: event.type, id: event.id, data };
}
