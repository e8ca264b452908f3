// One job, live: its state and facts, what it waits on, progress, payload,
// result or error, and its timeline; Retry, Cancel and Discard where they
// apply; for a flow's step (or compensation) job, a link to its flow. Live
// updates come from the job's own event stream (live.js); where the stream is
// unavailable, or after it ended while the job still moves (an admin retry),
// the view polls.

import { del, jobPath, post } from '../api.js';
import { announce, h, redraw, replaceChildren } from '../dom.js';
import { formatJson, formatTime } from '../format.js';
import { LiveDocument, showLive } from '../live.js';
import { flowHref, href } from '../router.js';
import { errorSummary, stateBadge } from './job_table.js';
import { drawTimeline, timelineList } from './timeline.js';

const TERMINAL = ['succeeded', 'failed', 'cancelled', 'expired'];

export function jobView(root, { id }) {
  document.title = `Job ${id} · errand`;
  const body = h('div', { class: 'job', 'aria-busy': 'true' }, 'Loading…');
  root.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: href('jobs') }, 'Jobs'), ' / ', h('span', { class: 'job-id' }, id)),
    h('h1', { tabindex: '-1', class: 'job-title' }, 'Job ', h('span', { class: 'job-id' }, id)),
    body);

  const parts = jobParts(id, { onAction: (action) => act(action) });
  const live = new LiveDocument(jobPath(id), {
    isTerminal: (job) => TERMINAL.includes(job.state),
    onChange: () => parts.update(live.doc, live.timeline()),
    // Progress is shown from the event at once, before the document is re-read.
    patch: (job, e) => (e.type === 'progress'
      ? { ...job, progress: { percent: e.percent, message: e.message, data: e.data } }
      : job),
  });

  showLive(live, body, parts.root,
    { notFound: `There is no job ${id} (it may have been discarded or purged).`, what: 'job' });
  return () => live.stop();

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
      await live.load();
      live.follow();
    } catch (e) {
      announce(`Could not ${action} the job: ${e.message}`);
    }
  }
}

// The view's elements, built once and updated in place so that focus and
// scroll positions survive live updates.
function jobParts(id, { onAction }) {
  const state = h('p', { class: 'job-state' });
  const flowLine = h('p', { class: 'job-flow', hidden: true });
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
  const timeline = timelineList();

  const root = h('div', { class: 'job-layout' },
    h('div', { class: 'job-summary' }, state, flowLine, waiting, actions, progress,
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
    drawFlowLine(flowLine, job.flow);
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
      job.tags?.length ? fact('Tags', job.tags.join(', ')) : null);

    replaceChildren(outcome, ...outcomeParts(job));
    const text = formatJson(job.payload);
    if (payload.textContent !== text) payload.textContent = text;
    drawTimeline(timeline, timelineEvents, describeEvent);
  }

  return { root, update };
}

// "Step charge of flow <link>", or "Compensation of step charge of flow <link>".
function drawFlowLine(line, flow) {
  line.hidden = !flow;
  redraw(line, flow ? `${flow.id}/${flow.step}/${Boolean(flow.compensating)}` : '', () => (flow ? [
    flow.compensating ? 'Compensation of step ' : 'Step ', h('strong', {}, flow.step), ' of flow ',
    h('a', { href: flowHref(flow.id), class: 'job-id' }, flow.id),
  ] : null));
}

/** A term and its value in a <dl class="facts">; "—" when the value is null. */
export function fact(term, value) {
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
