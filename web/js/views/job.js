// One job, live: its state and facts, what it waits on, progress, payload,
// result or error, and its timeline; Retry, Cancel and Discard where they
// apply. Live updates come from the job's own event stream
// (GET /v1/jobs/{id}/events); where the stream is unavailable, or after it
// ended while the job still moves (an admin retry), the view polls.

import { del, get, jobPath, post } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import { formatJson, formatTime } from '../format.js';
import { href } from '../router.js';
import { readEvents } from '../sse.js';
import { errorSummary, stateBadge } from './job_table.js';

const TERMINAL = ['succeeded', 'failed', 'cancelled', 'expired'];
const POLL_MS = 2000;
// At most one reload of the job document in this time, however many events arrive.
const RELOAD_COALESCE_MS = 150;

export function jobView(root, { id }) {
  document.title = `Job ${id} · errand`;
  const body = h('div', { class: 'job', 'aria-busy': 'true' }, 'Loading…');
  root.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: href('jobs') }, 'Jobs'), ' / ', h('span', { class: 'job-id' }, id)),
    h('h1', { tabindex: '-1', class: 'job-title' }, 'Job ', h('span', { class: 'job-id' }, id)),
    body);

  const controller = new AbortController();
  const parts = jobParts(id, { onAction: (action) => act(action) });
  let job = null;
  let events = new Map(); // seq -> event
  let reloadTimer = null;
  let streamEvents = 0; // events seen, so that a reload answered after a newer event is ignored
  let following = false;

  start();
  return () => {
    controller.abort();
    clearTimeout(reloadTimer);
  };

  async function start() {
    try {
      await reload();
      replaceChildren(body, parts.root);
      body.setAttribute('aria-busy', 'false');
      render();
      follow();
    } catch (e) {
      if (e.name === 'AbortError') return;
      body.setAttribute('aria-busy', 'false');
      replaceChildren(body, h('p', { class: 'error', role: 'alert' },
        e.status === 404 ? `There is no job ${id} (it may have been discarded or purged).`
                         : `Could not load the job: ${e.message}`));
    }
  }

  async function reload() {
    const [doc, timeline] = await Promise.all([
      get(jobPath(id), { signal: controller.signal }),
      get(`${jobPath(id)}/events`, { signal: controller.signal }),
    ]);
    job = doc;
    events = new Map((timeline?.events ?? []).map((e) => [e.seq, e]));
  }

  function render() {
    if (job) parts.update(job, [...events.values()].sort((a, b) => a.seq - b.seq));
  }

  // Follows the job until it is terminal and nothing more can happen to it.
  async function follow() {
    if (following) return;
    following = true;
    try {
      while (!controller.signal.aborted && !TERMINAL.includes(job.state)) {
        const lastSeq = Math.max(0, ...events.keys());
        const before = events.size;
        const opened = Date.now();
        try {
          await readEvents(`${jobPath(id)}/events`, {
            signal: controller.signal,
            lastEventId: lastSeq || undefined,
            onEvent: onStreamEvent,
          });
          // A stream that ends at once with nothing new (it had already
          // reported a terminal event before an admin retry) is no better than polling.
          if (events.size === before && Date.now() - opened < POLL_MS) await sleep(POLL_MS, controller.signal);
        } catch {
          await sleep(POLL_MS, controller.signal); // no stream: poll instead
        }
        if (controller.signal.aborted) return;
        await reload();
        render();
      }
    } catch (e) {
      if (e.name !== 'AbortError') announce(`Live updates stopped: ${e.message}`);
    } finally {
      following = false;
    }
  }

  function onStreamEvent({ type, id: seq, data }) {
    streamEvents += 1;
    if (data && typeof data === 'object') {
      const event = { type, seq: Number(seq), ...data };
      if (Number.isFinite(event.seq)) events.set(event.seq, event);
      if (type === 'progress' && job) {
        job = { ...job, progress: { percent: event.percent, message: event.message, data: event.data } };
      }
    }
    render();
    // The event says what happened; the document says where that leaves the job.
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(async () => {
      const asOf = streamEvents;
      try {
        const doc = await get(jobPath(id), { signal: controller.signal });
        // An event that came meanwhile is newer than this answer (and has
        // scheduled its own reload): showing the answer would step back.
        if (asOf !== streamEvents) return;
        job = doc;
        render();
      } catch {
        // the next event or the end of the stream reloads again
      }
    }, RELOAD_COALESCE_MS);
  }

  async function act(action) {
    const verb = { retry: 'Retried', cancel: 'Cancellation requested for', discard: 'Discarded' }[action];
    if (action === 'discard' && !window.confirm('Discard this job for good? This cannot be undone.')) return;
    try {
      if (action === 'discard') {
        await del(jobPath(id));
        announce(`${verb} job ${id}.`);
        location.hash = href('dead');
        return;
      }
      await post(`${jobPath(id)}/${action}`);
      announce(`${verb} job ${id}.`);
      await reload();
      render();
      follow();
    } catch (e) {
      announce(`Could not ${action} the job: ${e.message}`);
    }
  }
}

// The view's elements, built once and updated in place so that focus and
// scroll positions survive live updates.
function jobParts(id, { onAction }) {
  const state = h('p', { class: 'job-state' });
  const waiting = h('p', { class: 'callout callout-waiting', hidden: true });
  const progressBar = h('progress', { max: 100, 'aria-label': 'Job progress' });
  const progressText = h('p', { class: 'progress-text', 'aria-live': 'polite' });
  const progress = h('section', { class: 'panel', 'aria-labelledby': 'progress-heading' },
    h('h2', { id: 'progress-heading' }, 'Progress'), progressBar, progressText);
  const actions = h('div', { class: 'job-actions', role: 'group', 'aria-label': 'Job actions' });
  const buttons = {
    retry: h('button', { type: 'button', class: 'button', onclick: () => onAction('retry') }, 'Retry'),
    cancel: h('button', { type: 'button', class: 'button', onclick: () => onAction('cancel') }, 'Cancel'),
    discard: h('button', { type: 'button', class: 'button button-danger', onclick: () => onAction('discard') },
      'Discard'),
  };
  actions.append(buttons.retry, buttons.cancel, buttons.discard);
  const facts = h('dl', { class: 'facts' });
  const outcome = h('section', { class: 'panel', 'aria-labelledby': 'outcome-heading' });
  const payload = h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Payload as JSON' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline, oldest first' });

  const root = h('div', { class: 'job-layout' },
    h('div', { class: 'job-summary' }, state, waiting, actions, progress,
      h('section', { class: 'panel', 'aria-labelledby': 'facts-heading' },
        h('h2', { id: 'facts-heading' }, 'Details'), facts)),
    h('div', { class: 'job-data' }, outcome,
      h('section', { class: 'panel', 'aria-labelledby': 'payload-heading' },
        h('h2', { id: 'payload-heading' }, 'Payload'), payload),
      h('section', { class: 'panel', 'aria-labelledby': 'timeline-heading' },
        h('h2', { id: 'timeline-heading' }, 'Timeline'), timeline)));

  function update(job, timelineEvents) {
    replaceChildren(state, 'State: ', stateBadge(job.state),
      job.cancel_requested && !TERMINAL.includes(job.state) ? ' (cancellation requested)' : '');
    const waitingOn = !TERMINAL.includes(job.state) ? job.waiting_on : null;
    waiting.hidden = !waitingOn?.message;
    waiting.textContent = waitingOn?.message ? `Waiting: ${waitingOn.message}` : '';

    buttons.retry.hidden = !['failed', 'cancelled', 'expired'].includes(job.state);
    buttons.cancel.hidden = TERMINAL.includes(job.state);
    buttons.discard.hidden = !TERMINAL.includes(job.state);

    const percent = job.progress?.percent;
    progress.hidden = percent === undefined || percent === null;
    if (!progress.hidden) {
      progressBar.value = percent;
      progressBar.textContent = `${percent}%`;
      progressText.textContent = `${percent}%${job.progress.message ? ` — ${job.progress.message}` : ''}`;
    }

    replaceChildren(facts, fact('Queue', h('a', { href: href('jobs', { queue: job.queue }) }, job.queue)),
      fact('Attempt', `${job.attempt} of ${job.max_attempts}`),
      fact('Priority', job.priority),
      fact('Created', formatTime(job.created_at)),
      fact('Runs at', formatTime(job.run_at)),
      fact('Started', formatTime(job.started_at)),
      fact('Finished', formatTime(job.finished_at)),
      job.worker ? fact('Worker', job.worker) : null,
      job.lease_expires_at && job.state === 'running' ? fact('Lease expires', formatTime(job.lease_expires_at)) : null,
      job.deadline ? fact('Deadline', formatTime(job.deadline)) : null,
      job.idempotency_key ? fact('Idempotency key', job.idempotency_key) : null,
      job.tags?.length ? fact('Tags', job.tags.join(', ')) : null,
      job.flow ? fact('Flow', `${job.flow.id} (step ${job.flow.step})`) : null);

    replaceChildren(outcome, ...outcomeParts(job));
    const text = formatJson(job.payload);
    if (payload.textContent !== text) payload.textContent = text;
    replaceChildren(timeline, timelineEvents.map(timelineItem));
  }

  return { root, update };
}

function fact(term, value) {
  return h('div', { class: 'fact' }, h('dt', {}, term), h('dd', {}, value ?? '—'));
}

function outcomeParts(job) {
  if (job.state === 'succeeded') {
    return [h('h2', { id: 'outcome-heading' }, 'Result'),
      h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Result as JSON' }, formatJson(job.result))];
  }
  if (job.error) {
    const e = job.error;
    return [h('h2', { id: 'outcome-heading' }, job.state === 'failed' ? 'Error' : 'Last error'),
      h('p', { class: 'error-message' }, errorSummary(e)),
      e.attempt ? h('p', { class: 'muted' }, `On attempt ${e.attempt}.`) : null,
      e.detail ? h('pre', { class: 'error-detail', tabindex: '0', 'aria-label': 'Error detail' }, e.detail) : null];
  }
  return [h('h2', { id: 'outcome-heading' }, 'Result'),
    h('p', { class: 'muted' }, TERMINAL.includes(job.state) ? 'None.' : 'Not finished yet.')];
}

function timelineItem(event) {
  return h('li', { class: `event event-${event.type}` },
    h('span', { class: 'event-type' }, event.type.replaceAll('_', ' ')),
    h('time', { datetime: event.at }, formatTime(event.at)),
    h('span', { class: 'event-detail' }, describeEvent(event)));
}

// The fields of a timeline event worth reading, in words.
function describeEvent(e) {
  switch (e.type) {
    case 'leased': return `attempt ${e.attempt} by ${e.worker}`;
    case 'progress': return [e.percent !== undefined && e.percent !== null ? `${e.percent}%` : '', e.message]
      .filter(Boolean).join(' — ');
    case 'failed_attempt': return `attempt ${e.attempt}${e.worker ? ` by ${e.worker}` : ''}: ${errorSummary(e.error)}`;
    case 'failed': return `after attempt ${e.attempt}: ${errorSummary(e.error)}`;
    case 'succeeded': return `attempt ${e.attempt}${e.worker ? ` by ${e.worker}` : ''}`;
    case 'scheduled': return `to run at ${formatTime(e.run_at)}`;
    case 'enqueued': return e.queue ? `on ${e.queue}` : '';
    case 'expired': return e.deadline ? `deadline ${formatTime(e.deadline)}` : '';
    default: return '';
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
