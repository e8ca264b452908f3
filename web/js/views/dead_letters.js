// The dead-letter view: jobs in `failed`, newest first, with their errors.
// Each can be retried (back to queued, with a fresh attempt budget) or
// discarded (deleted), one by one or all those selected on the page.

import { del, jobPath, post, get, withQuery } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import { href } from '../router.js';
import { columns, jobTable } from './job_table.js';
import { pager } from './jobs.js';
import { queueSelect } from './queue_select.js';

const PAGE_SIZE = 50;

export function deadLettersView(root, params, { feed }) {
  document.title = 'Dead letters · errand';
  const { queue = '', cursor = '' } = params;
  const results = h('div', { class: 'results', 'aria-busy': 'true' }, 'Loading…');
  const retrySelected = h('button', { type: 'button', class: 'button', disabled: true }, 'Retry selected');
  const discardSelected = h('button', { type: 'button', class: 'button button-danger', disabled: true },
    'Discard selected');
  const queues = queueSelect('dead-queue', queue, feed);
  const selectedCount = h('span', { class: 'selected-count', 'aria-live': 'polite' }, '');
  root.append(
    h('h1', { tabindex: '-1' }, 'Dead letters'),
    h('p', { class: 'lead' }, 'Jobs that failed for good: their attempts ran out, or the worker said retrying ' +
      'would not help. Retry puts a job back in its queue with a fresh attempt budget; Discard deletes it.'),
    queueFilter(queues.element),
    h('div', { class: 'bulk-actions', role: 'group', 'aria-label': 'Selected jobs' },
      retrySelected, discardSelected, selectedCount),
    results);

  const controller = new AbortController();
  let jobs = [];
  const checkboxes = () => [...results.querySelectorAll('input[name="select-job"]')];
  const selected = () => checkboxes().filter((c) => c.checked).map((c) => c.value);
  const syncSelection = () => {
    const ids = selected();
    const all = checkboxes();
    retrySelected.disabled = ids.length === 0;
    discardSelected.disabled = ids.length === 0;
    retrySelected.textContent = ids.length ? `Retry ${ids.length} selected` : 'Retry selected';
    discardSelected.textContent = ids.length ? `Discard ${ids.length} selected` : 'Discard selected';
    selectedCount.textContent = all.length ? `${ids.length} of ${all.length} selected` : '';
    const selectAll = results.querySelector('#select-all');
    if (selectAll) {
      selectAll.checked = ids.length > 0 && ids.length === all.length;
      selectAll.indeterminate = ids.length > 0 && ids.length < all.length;
    }
  };

  retrySelected.addEventListener('click', () => act('retry', selected()));
  discardSelected.addEventListener('click', () => act('discard', selected()));
  load();
  return () => {
    controller.abort();
    queues.stop();
  };

  async function load() {
    results.setAttribute('aria-busy', 'true');
    try {
      const page = await get(withQuery('/v1/jobs', { state: 'failed', queue, cursor, limit: PAGE_SIZE }),
                             { signal: controller.signal });
      jobs = page.jobs;
      const actions = {
        label: 'Actions', class: 'col-actions',
        cell: (j) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'button button-small', 'aria-label': `Retry job ${j.id}`,
            onclick: () => act('retry', [j.id]) }, 'Retry'),
          h('button', { type: 'button', class: 'button button-small button-danger',
            'aria-label': `Discard job ${j.id}`, onclick: () => act('discard', [j.id]) }, 'Discard')),
      };
      const lead = {
        header: h('label', { class: 'select-all' },
          h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all jobs on this page',
            onchange: (e) => {
              for (const c of checkboxes()) c.checked = e.target.checked;
              syncSelection();
            } }),
          h('span', { class: 'select-all-text', 'aria-hidden': 'true' }, 'All on this page')),
        cell: (j) => h('input', { type: 'checkbox', name: 'select-job', value: j.id,
          'aria-label': `Select job ${j.id}`, onchange: syncSelection }),
      };
      replaceChildren(results,
        jobs.length === 0
          ? h('p', { class: 'empty' }, `No dead letters${queue ? ` in ${queue}` : ''}. Nothing has failed for good.`)
          : jobTable(jobs, [columns.id, columns.queue, columns.error, columns.attempt, columns.finished, actions],
                     { caption: 'Failed jobs, newest first', lead }),
        pager(page.next, cursor, { queue }, 'dead'));
    } catch (e) {
      if (e.name === 'AbortError') return;
      replaceChildren(results, h('p', { class: 'error', role: 'alert' }, `Could not list failed jobs: ${e.message}`));
    }
    results.setAttribute('aria-busy', 'false');
    syncSelection();
  }

  // Retries or discards `ids`, one request each, then says how it went and reloads the page.
  async function act(action, ids) {
    if (ids.length === 0) return;
    const noun = ids.length === 1 ? 'job' : `${ids.length} jobs`;
    if (action === 'discard' && !window.confirm(`Discard ${noun} for good? This cannot be undone.`)) return;
    const failures = [];
    for (const id of ids) {
      try {
        if (action === 'retry') await post(`${jobPath(id)}/retry`);
        else await del(jobPath(id));
      } catch (e) {
        failures.push(`${id}: ${e.message}`);
      }
    }
    const done = ids.length - failures.length;
    const verb = action === 'retry' ? 'Retried' : 'Discarded';
    announce(failures.length === 0
      ? `${verb} ${noun}.`
      : `${verb} ${done} of ${ids.length}; ${failures.length} could not be: ${failures.join('; ')}`);
    await load();
    root.querySelector('h1').focus();
  }
}

function queueFilter(queues) {
  const form = h('form', { class: 'filters', 'aria-label': 'Filter dead letters' },
    h('div', { class: 'field' },
      h('label', { for: 'dead-queue' }, 'Queue'), queues),
    h('button', { type: 'submit', class: 'button' }, 'Show'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = href('dead', { queue: new FormData(form).get('queue') });
  });
  return form;
}
