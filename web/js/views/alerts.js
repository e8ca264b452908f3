// Alerts: those firing now, then the recently resolved ones (GET /v1/alerts).

import { h, replaceChildren } from '../dom.js';
import { formatDuration, formatTime } from '../format.js';

export function alertsView(root, _params, { alerts }) {
  document.title = 'Alerts · errand';
  const firing = h('div');
  const resolved = h('div');
  root.append(
    h('h1', { tabindex: '-1' }, 'Alerts'),
    h('section', { 'aria-labelledby': 'firing-heading' }, h('h2', { id: 'firing-heading' }, 'Firing'), firing),
    h('section', { 'aria-labelledby': 'resolved-heading' },
      h('h2', { id: 'resolved-heading' }, 'Recently resolved'), resolved),
  );
  const draw = () => {
    replaceChildren(firing, alertList(alerts.firing(), alerts.available, 'Nothing is firing.', alerts.problem));
    replaceChildren(resolved, alertList(alerts.resolved(), alerts.available, 'No alert resolved recently.',
      alerts.problem));
  };
  draw();
  return alerts.subscribe(draw);
}

/** A list of alerts, or a sentence saying why there is none. */
export function alertList(list, available, emptyText, problem = null) {
  if (problem) return h('p', { class: 'error' }, problem);
  if (available === false) {
    return h('p', { class: 'empty' }, 'This server does not report alerts (no GET /v1/alerts).');
  }
  if (available === null) return h('p', { class: 'empty' }, 'Loading alerts…');
  if (list.length === 0) return h('p', { class: 'empty' }, emptyText);
  return h('ul', { class: 'alert-list' }, list.map((a) => h('li', { class: `alert alert-${a.state}` },
    h('p', { class: 'alert-title' },
      h('span', { class: `badge badge-${a.state === 'firing' ? 'failed' : 'succeeded'}` }, a.state),
      ' ', h('strong', {}, a.name), a.queue ? ` on ${a.queue}` : '', ` (${a.kind})`),
    h('p', { class: 'alert-detail' }, describe(a)))));
}

function describe(a) {
  const since = `since ${formatTime(a.since)}`;
  const until = a.resolved_at ? `, resolved ${formatTime(a.resolved_at)}` : '';
  let measure = '';
  if (a.value !== undefined && a.value !== null) {
    if (a.kind === 'lag' || a.kind === 'no_workers') {
      measure = `${formatDuration(a.value)} against a threshold of ${formatDuration(a.threshold)}; `;
    } else if (a.kind === 'dead_letters') {
      measure = `${a.value} failed ${a.value === 1 ? 'job' : 'jobs'} in the dead-letter view; `;
    } else {
      measure = `${Math.round(a.value * 100)}% of attempts failed against a threshold of ` +
        `${Math.round(a.threshold * 100)}%; `;
    }
  }
  return `${measure}${since}${until}`;
}
