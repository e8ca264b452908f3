// Jobs by queue and state, newest first, a page at a time (the `next`
// cursor), and a search box that opens a job by its id.

import { get, withQuery } from '../api.js';
import { h, replaceChildren } from '../dom.js';
import { href, jobHref } from '../router.js';
import { columns, jobTable } from './job_table.js';
import { queueSelect } from './queue_select.js';

export const STATES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'];
const PAGE_SIZE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function jobsView(root, params, { feed }) {
  document.title = 'Jobs · errand';
  const { queue = '', state = '', cursor = '' } = params;
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' }, 'Loading…');
  const queues = queueSelect('filter-queue', queue, feed);
  root.append(
    h('h1', { tabindex: '-1' }, 'Jobs'),
    searchForm(),
    filterForm(queues.element, state),
    results);

  const controller = new AbortController();
  load();
  return () => {
    controller.abort();
    queues.stop();
  };

  async function load() {
    try {
      const page = await get(withQuery('/v1/jobs', { queue, state, cursor, limit: PAGE_SIZE }),
                             { signal: controller.signal });
      const what = [state || 'all', 'jobs', queue ? `in ${queue}` : ''].filter(Boolean).join(' ');
      replaceChildren(results,
        page.jobs.length === 0
          ? h('p', { class: 'empty' }, `No ${state || ''} jobs${queue ? ` in ${queue}` : ''}${cursor ? ' on this page' : ''}.`)
          : jobTable(page.jobs, [columns.id, columns.queue, columns.state, columns.attempt, columns.created,
                                 columns.progress], { caption: `${what}, newest first` }),
        pager(page.next, cursor, { queue, state }));
    } catch (e) {
      if (e.name === 'AbortError') return;
      replaceChildren(results, h('p', { class: 'error', role: 'alert' }, `Could not list jobs: ${e.message}`));
    }
    results.setAttribute('aria-busy', 'false');
  }
}

function searchForm() {
  const input = h('input', { id: 'job-search', type: 'search', name: 'id', autocomplete: 'off',
    spellcheck: 'false', placeholder: '0190c1e2-…', 'aria-describedby': 'job-search-error' });
  const error = h('p', { id: 'job-search-error', class: 'field-error', hidden: true });
  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Find a job by id' },
    h('label', { for: 'job-search' }, 'Job id'),
    h('div', { class: 'inline' }, input, h('button', { type: 'submit', class: 'button' }, 'Open job')),
    error);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = input.value.trim();
    if (!UUID.test(id)) {
      error.textContent = 'A job id is a UUID such as 0190c1e2-7a3b-7c4d-8e5f-123456789abc.';
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    location.hash = jobHref(id.toLowerCase());
  });
  return form;
}

function filterForm(queues, state) {
  const form = h('form', { class: 'filters', 'aria-label': 'Filter jobs' },
    h('div', { class: 'field' },
      h('label', { for: 'filter-queue' }, 'Queue'), queues),
    stateField('filter-state', STATES, state),
    h('button', { type: 'submit', class: 'button' }, 'Show jobs'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    location.hash = href('jobs', { queue: data.get('queue'), state: data.get('state') });
  });
  return form;
}

/** A labelled <select name="state"> of `states`, "All states" first. */
export function stateField(id, states, current) {
  return h('div', { class: 'field' },
    h('label', { for: id }, 'State'),
    h('select', { id, name: 'state' },
      h('option', { value: '' }, 'All states'),
      states.map((s) => h('option', { value: s, selected: s === current }, s))));
}

/** Links to the first page and to the next (older) one. */
export function pager(next, cursor, params, view = 'jobs') {
  if (!next && !cursor) return null;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    cursor ? h('a', { href: href(view, params) }, 'First page') : null,
    next ? h('a', { href: href(view, { ...params, cursor: next }), rel: 'next' }, 'Next page (older)') : null);
}
