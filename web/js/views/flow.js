// One flow, live: its state, the error that failed it or its result, Cancel
// while it runs, its steps (each with its state, the steps it comes after, its
// job, result or error, compensation, and for a pending step the steps it
// still waits for), a small graph of the steps, and its timeline. Live
// updates come from the flow's own event stream (live.js), and from the
// server-wide stream (queue_feed.js) when one of its jobs changes state in a
// way the flow's events do not report (a step's job leased, or retried).

import { flowPath, post } from '../api.js';
import { announce, h, redraw, replaceChildren } from '../dom.js';
import { formatJson, formatTime } from '../format.js';
import { LiveDocument, showLive } from '../live.js';
import { href, jobHref } from '../router.js';
import { fact } from './job.js';
import { errorSummary, stateBadge } from './job_table.js';
import { stepsDone } from './flows.js';
import { flowGraph } from './flow_graph.js';
import { drawTimeline, timelineList } from './timeline.js';

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

export function flowView(root, { id }, { feed }) {
  document.title = `Flow ${id} · errand`;
  const body = h('div', { class: 'flow', 'aria-busy': 'true' }, 'Loading…');
  root.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: href('flows') }, 'Flows'), ' / ', h('span', { class: 'job-id' }, id)),
    h('h1', { tabindex: '-1', class: 'job-title' }, 'Flow ', h('span', { class: 'job-id' }, id)),
    body);

  const parts = flowParts({ onCancel: cancel });
  let jobs = new Set(); // the ids of the flow's step and compensation jobs
  const live = new LiveDocument(flowPath(id), {
    isTerminal: (flow) => TERMINAL.includes(flow.state),
    onChange: () => {
      jobs = new Set(Object.values(live.doc.steps).flatMap((s) => [s.job, s.compensation?.job]).filter(Boolean));
      parts.update(live.doc, live.timeline());
    },
  });
  const stopJobChanges = feed.onJobChange((change) => {
    if (jobs.has(change.id)) live.poke();
  });

  showLive(live, body, parts.root, { notFound: `There is no flow ${id}.`, what: 'flow' });
  return () => {
    live.stop();
    stopJobChanges();
  };

  async function cancel() {
    if (!window.confirm('Cancel this flow? Steps not started are skipped, running ones are asked to stop, ' +
                        'and the steps done so far are undone.')) return;
    try {
      const flow = await post(`${flowPath(id)}/cancel`);
      announce(flow.state === 'cancelled'
        ? `Cancelled flow ${id}.`
        : `Cancellation requested for flow ${id}: undoing the steps done so far.`);
      await live.load();
    } catch (e) {
      announce(`Could not cancel the flow: ${e.message}`);
    }
  }
}

// The view's elements, built once and updated in place so that focus, open
// results and scroll positions survive live updates.
function flowParts({ onCancel }) {
  const state = h('p', { class: 'job-state' });
  const explanation = h('p', { class: 'callout', hidden: true });
  const cancel = h('button', { type: 'button', class: 'button button-danger', onclick: onCancel }, 'Cancel flow');
  const actions = h('div', { class: 'job-actions', role: 'group', 'aria-label': 'Flow actions' }, cancel);
  const facts = h('dl', { class: 'facts' });
  const outcome = h('section', { class: 'panel', 'aria-labelledby': 'outcome-heading', hidden: true });
  const graph = h('div', { class: 'dag-wrap' });
  const steps = h('ol', { class: 'steps', 'aria-label': 'Steps, in the order submitted' });
  const timeline = timelineList();
  const stepParts = new Map(); // name -> the elements of its entry

  const root = h('div', { class: 'job-layout' },
    h('div', { class: 'job-summary' }, state, explanation, actions, outcome,
      h('section', { class: 'panel', 'aria-labelledby': 'facts-heading' },
        h('h2', { id: 'facts-heading' }, 'Details'), facts),
      h('section', { class: 'panel', 'aria-labelledby': 'graph-heading' },
        h('h2', { id: 'graph-heading' }, 'Graph'), graph)),
    h('div', { class: 'job-data' },
      h('section', { class: 'panel', 'aria-labelledby': 'steps-heading' },
        h('h2', { id: 'steps-heading' }, 'Steps'), steps),
      h('section', { class: 'panel', 'aria-labelledby': 'timeline-heading' },
        h('h2', { id: 'timeline-heading' }, 'Timeline'), timeline)));

  function update(flow, events) {
    replaceChildren(state, 'State: ', stateBadge(flow.state));
    const why = explain(flow, events);
    explanation.hidden = !why;
    explanation.textContent = why ?? '';
    const hadFocus = document.activeElement === cancel;
    cancel.hidden = TERMINAL.includes(flow.state);
    // A keyboard user whose button went away starts again at the heading.
    if (cancel.hidden && hadFocus) root.closest('main')?.querySelector('h1')?.focus();

    replaceChildren(facts,
      fact('Name', flow.name),
      fact('Steps', stepsDone(flow)),
      fact('Created', formatTime(flow.created_at)),
      fact('Finished', formatTime(flow.finished_at)),
      flow.deadline ? fact('Deadline', formatTime(flow.deadline)) : null,
      flow.idempotency_key ? fact('Idempotency key', flow.idempotency_key) : null);

    outcome.hidden = !(flow.state === 'succeeded' || flow.error);
    redraw(outcome, JSON.stringify([flow.state, flow.result, flow.error]), () => outcomeParts(flow));

    const order = stepOrder(flow, events);
    redraw(graph, JSON.stringify(order.map((name) => [name, flow.steps[name].state])),
      () => flowGraph(order, flow.steps));
    for (const name of order) {
      if (!stepParts.has(name)) {
        const entry = stepEntry(name, stepParts.size);
        stepParts.set(name, entry);
        steps.append(entry.root);
      }
      stepParts.get(name).update(flow.steps[name], flow.state);
    }
    drawTimeline(timeline, events, describeEvent);
  }

  return { root, update };
}

// The steps in the order they were submitted: the `started` event lists them
// (an object's keys would put names such as "1" and "2" first).
function stepOrder(flow, events) {
  const names = Object.keys(flow.steps);
  const started = events.find((e) => e.type === 'started')?.steps;
  if (!Array.isArray(started)) return names;
  return [...started.filter((n) => n in flow.steps), ...names.filter((n) => !started.includes(n))];
}

// In plain words, what the flow is doing when its state alone does not say it.
function explain(flow, events) {
  if (flow.state !== 'compensating') return null;
  const unwinding = [...events].reverse().find((e) => e.type === 'compensating');
  const cause = unwinding?.step ? `Step ${unwinding.step} failed` : 'The flow was cancelled';
  return `${cause}: the steps not started are skipped, and those that succeeded are being undone, ` +
    'the last one done first.';
}

function outcomeParts(flow) {
  if (flow.state === 'succeeded') {
    return [h('h2', { id: 'outcome-heading' }, 'Result'),
      h('p', { class: 'muted' }, 'The results of the steps no other step waits for.'),
      h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Flow result as JSON' }, formatJson(flow.result))];
  }
  if (!flow.error) return null;
  return [h('h2', { id: 'outcome-heading' }, 'Error'),
    h('p', { class: 'error-message' }, `Step ${flow.error.step} failed: `, errorSummary(flow.error))];
}

// One step's entry in the list of steps.
function stepEntry(name, index) {
  const headingId = `step-${index}`;
  const badge = h('span');
  const facts = h('dl', { class: 'facts' });
  const waiting = h('p', { class: 'callout callout-waiting', hidden: true });
  const error = h('p', { class: 'error-message', hidden: true });
  const resultText = h('pre', { class: 'json', tabindex: '0', 'aria-label': `Result of step ${name} as JSON` });
  const result = h('details', { class: 'step-result', hidden: true }, h('summary', {}, 'Result'), resultText);
  const root = h('li', { class: 'step', 'data-step': name, 'aria-labelledby': headingId },
    h('div', { class: 'step-head' }, h('h3', { id: headingId }, name), badge),
    waiting, error, facts, result);

  function update(step, flowState) {
    redraw(badge, step.state, () => stateBadge(step.state));
    const waitingOn = step.state === 'pending' ? step.waiting_on : null;
    waiting.hidden = !waitingOn;
    waiting.textContent = waitingOn ? waitingMessage(waitingOn) : '';
    error.hidden = !step.error || step.state === 'succeeded';
    error.textContent = step.error ? errorSummary(step.error) : '';
    redraw(facts, JSON.stringify([step.queue, step.after, step.job, step.compensation, flowState]), () => [
      fact('Queue', h('a', { href: href('jobs', { queue: step.queue }) }, step.queue)),
      fact('After', step.after.length ? step.after.join(', ') : 'nothing: starts at once'),
      fact('Job', step.job ? h('a', { href: jobHref(step.job), class: 'job-id' }, step.job) : noJob(step.state)),
      step.compensation ? fact('Compensation', compensation(step.compensation, flowState)) : null,
    ]);
    result.hidden = step.state !== 'succeeded';
    const text = step.state === 'succeeded' ? formatJson(step.result) : '';
    if (resultText.textContent !== text) resultText.textContent = text;
  }

  return { root, update };
}

// The server's sentence ("waiting for flow steps reserve, charge") as a
// sentence, or one made from the step names when a server gives none.
function waitingMessage(waitingOn) {
  const text = waitingOn.message || `waiting for steps ${(waitingOn.steps ?? []).join(', ')}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function noJob(state) {
  return state === 'skipped' ? 'none: the step never started' : 'none yet';
}

function compensation({ job, state }, flowState) {
  if (job) {
    return [h('a', { href: jobHref(job), class: 'job-id', 'aria-label': `Compensation job ${job}` }, job), ' ',
      stateBadge(state)];
  }
  return ['running', 'succeeded'].includes(flowState)
    ? 'declared; it runs only if the flow fails or is cancelled'
    : 'not run';
}

// The fields of a flow event worth reading, in words; jobs as links.
function describeEvent(e) {
  const job = e.job ? [' (job ', h('a', { href: jobHref(e.job), class: 'job-id' }, e.job), ')'] : null;
  switch (e.type) {
    case 'started': return `${e.name ? `${e.name}: ` : ''}steps ${(e.steps ?? []).join(', ')}`;
    case 'step_started':
    case 'step_succeeded':
    case 'step_cancel_requested':
    case 'compensation_started':
    case 'compensation_succeeded':
    case 'compensation_failed':
      return [`step ${e.step}`, job];
    case 'step_failed':
      return [`step ${e.step}`, job, `: ${e.state}${e.error ? `, ${errorSummary(e.error)}` : ''}`];
    case 'step_skipped': return `step ${e.step}`;
    case 'compensating': return e.step ? `step ${e.step} failed` : 'after a cancel';
    case 'failed': return e.error ? `step ${e.error.step}: ${errorSummary(e.error)}` : '';
    default: return '';
  }
}
