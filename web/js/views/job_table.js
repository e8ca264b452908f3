// The table of jobs shared by the jobs and dead-letter views (and, with its
// own columns, the flows view). On a phone each row becomes a small card
// (app.css), labelled from data-label.

import { h } from '../dom.js';
import { formatTime } from '../format.js';
import { jobHref } from '../router.js';

/** A state as a coloured badge, in words. */
export function stateBadge(state) {
  return h('span', { class: `badge badge-${state}` }, state);
}

/** "type: message" of a job's last error, or "". */
export function errorSummary(error) {
  if (!error) return '';
  return [error.type, error.message].filter(Boolean).join(': ');
}

/**
 * A <table> of `jobs`. `columns` are {label, cell(job) -> node|string, class?};
 * `lead(job)` optionally adds a first cell (a checkbox). Each row carries
 * data-<kind>="<id>" (data-job, or data-flow for a table of flows).
 */
export function jobTable(jobs, columns, { caption, lead, kind = 'job' } = {}) {
  return h('table', { class: 'jobs' },
    caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
    h('thead', {}, h('tr', {},
      lead ? h('th', { scope: 'col', class: 'col-select' }, lead.header) : null,
      columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    h('tbody', {}, jobs.map((job) => h('tr', { [`data-${kind}`]: job.id },
      lead ? h('td', { class: 'col-select' }, lead.cell(job)) : null,
      columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(job)))))));
}

export const columns = {
  id: { label: 'Job', class: 'col-id', cell: (j) => h('a', { href: jobHref(j.id), class: 'job-id' }, j.id) },
  queue: { label: 'Queue', cell: (j) => j.queue },
  state: { label: 'State', cell: (j) => stateBadge(j.state) },
  attempt: { label: 'Attempts', cell: (j) => `${j.attempt} of ${j.max_attempts}` },
  created: { label: 'Created', cell: (j) => formatTime(j.created_at) },
  finished: { label: 'Failed at', cell: (j) => formatTime(j.finished_at) },
  error: { label: 'Error', class: 'col-error', cell: (j) => errorSummary(j.error) || '—' },
  progress: {
    label: 'Progress',
    cell: (j) => (j.progress?.percent !== undefined && j.progress?.percent !== null
      ? `${j.progress.percent}%${j.progress.message ? ` — ${j.progress.message}` : ''}`
      : '—'),
  },
};
