// Flows by state, newest first, a page at a time (the `next` cursor): each
// with its name, state and how many of its steps are done.

import { get, withQuery } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { formatTime } from '../format.js';
import { flowHref, href } from '../router.js';
import { jobTable, stateBadge } from './job_table.js';
import { pager, stateField } from './jobs.js';

export const FLOW_STATES = ['running', 'compensating', 'succeeded', 'failed', 'cancelled'];
const PAGE_SIZE = 50;

/** "2 of 4 done": how many steps of `flow` succeeded. */
export function stepsDone(flow) {
  const steps = Object.values(flow.steps ?? {});
  return `${steps.filter((s) => s.state === 'succeeded').length} of ${steps.length} done`;
}

const COLUMNS = [
  { label: 'Flow', class: 'col-id', cell: (f) => h('a', { href: flowHref(f.id), class: 'job-id' }, f.id) },
  { label: 'Name', cell: (f) => f.name ?? '—' },
  { label: 'State', cell: (f) => stateBadge(f.state) },
  { label: 'Steps', cell: stepsDone },
  { label: 'Created', cell: (f) => formatTime(f.created_at) },
  { label: 'Finished', cell: (f) => formatTime(f.finished_at) },
];

export function flowsView(root, params) {
  document.title = 'Flows · errand';
  const { state = '', cursor = '' } = params;
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' }, 'Loading…');
  root.append(
    h('h1', { tabindex: '-1' }, 'Flows'),
    h('p', { class: 'lead' }, 'A flow is a small graph of steps, each a job on its own queue: steps start when ' +
      'the steps they come after succeeded, and a failure undoes the steps done so far (compensation).'),
    filterForm(state),
    results);

  const controller = new AbortController();
  load();
  return () => controller.abort();

  async function load() {
    try {
      const page = await get(withQuery('/v1/flows', { state, cursor, limit: PAGE_SIZE }),
                             { signal: controller.signal });
      replaceChildren(results,
        page.flows.length === 0
          ? h('p', { class: 'empty' }, `No ${state ? `${state} ` : ''}flows${cursor ? ' on this page' : ''}.`)
          : jobTable(page.flows, COLUMNS, { caption: `${state || 'all'} flows, newest first`, kind: 'flow' }),
        pager(page.next, cursor, { state }, 'flows'));
    } catch (e) {
      if (e.name === 'AbortError') return;
      replaceChildren(results, h('p', { class: 'error', role: 'alert' },
        e.status === 404 ? 'This server has no flows API (GET /v1/flows).' : `Could not list flows: ${e.message}`));
    }
    results.setAttribute('aria-busy', 'false');
  }
}

function filterForm(state) {
  const form = h('form', { class: 'filters', 'aria-label': 'Filter flows' },
    stateField('flow-state', FLOW_STATES, state),
    h('button', { type: 'submit', class: 'button' }, 'Show flows'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = href('flows', { state: new FormData(form).get('state') });
  });
  return form;
}
