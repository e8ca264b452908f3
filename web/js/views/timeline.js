// A timeline (a job's or a flow's events), oldest first: each event's type,
// time and the fields worth reading, in words.

import { h, replaceChildren } from '../dom.js';
import { formatTime } from '../format.js';

/** The empty list, labelled for assistive technology. */
export function timelineList() {
  return h('ol', { class: 'timeline', 'aria-label': 'Timeline, oldest first' });
}

/**
 * Shows `events` (oldest first) in `list`; `describe(event)` gives the detail
 * (text or nodes). Events already shown stay as they are (a link in them
 * keeps the focus); only new ones are added.
 */
export function drawTimeline(list, events, describe) {
  const shown = [...list.children].map((li) => li.dataset.seq);
  const isPrefix = shown.length <= events.length && shown.every((seq, i) => seq === String(events[i].seq));
  if (!isPrefix) replaceChildren(list);
  list.append(...events.slice(isPrefix ? shown.length : 0).map((event) =>
    h('li', { class: `event event-${event.type}`, 'data-seq': event.seq },
      h('span', { class: 'event-type' }, event.type.replaceAll('_', ' ')),
      h('time', { datetime: event.at }, formatTime(event.at)),
      h('span', { class: 'event-detail' }, describe(event)))));
}
