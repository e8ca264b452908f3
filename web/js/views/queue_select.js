// A <select> of the known queues ("All queues" first) that grows as the
// QueueFeed learns of more queues, so that a view opened before the first
// snapshot still offers every queue.

import { h } from '../dom.js';

/** Returns {element, stop}: the select, and the function that stops following the feed. */
export function queueSelect(id, current, feed) {
  const select = h('select', { id, name: 'queue' }, h('option', { value: '' }, 'All queues'));
  const sync = () => {
    const have = new Set([...select.options].map((o) => o.value));
    const names = [...new Set([...feed.names(), current].filter(Boolean))].sort();
    for (const name of names) {
      if (have.has(name)) continue;
      const before = [...select.options].find((o) => o.value && o.value > name) ?? null;
      select.insertBefore(h('option', { value: name, selected: name === current }, name), before);
    }
  };
  sync();
  return { element: select, stop: feed.subscribe(sync) };
}
