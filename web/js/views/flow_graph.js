// A flow's steps as a small graph (SVG): one column per depth (the steps
// without `after` first, then the steps after them, ...), an arrow from each
// step to the steps that come after it, each step outlined in its state's
// colour and labelled with its name and state. The list of steps says the
// same in words; the graph's label sums it up for screen readers.

import { h } from '../dom.js';

const NODE_W = 140;
const NODE_H = 44;
const GAP_X = 44;
const GAP_Y = 12;
const PAD = 2;
const MAX_NAME = 16; // characters of a name shown in a node; the tooltip has all
const MAX_STEPS = 40; // more would be unreadable: the list shows them

/** The graph of `steps` (name -> step document), drawn in `order`. */
export function flowGraph(order, steps) {
  if (order.length > MAX_STEPS) {
    return h('p', { class: 'muted' }, `${order.length} steps are too many to draw; the list shows them all.`);
  }
  const depth = depths(order, steps);
  const columns = [];
  for (const name of order) (columns[depth.get(name)] ??= []).push(name);
  const at = new Map();
  columns.forEach((names, col) => names.forEach((name, row) => at.set(name, {
    x: PAD + col * (NODE_W + GAP_X), y: PAD + row * (NODE_H + GAP_Y),
  })));
  const rows = Math.max(...columns.map((c) => c.length));
  const width = 2 * PAD + columns.length * NODE_W + (columns.length - 1) * GAP_X;
  const height = 2 * PAD + rows * NODE_H + (rows - 1) * GAP_Y;

  const edges = order.flatMap((name) => (steps[name].after ?? []).filter((a) => at.has(a)).map((from) => {
    const a = at.get(from);
    const b = at.get(name);
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x - 4;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    return h('svg:path', { class: 'dag-edge', 'marker-end': 'url(#dag-arrow)', d: `M${x1} ${y1} C${mid} ${y1} ${mid} ${y2} ${x2} ${y2}` });
  }));
  const nodes = order.map((name) => {
    const { x, y } = at.get(name);
    const state = steps[name].state;
    const shown = name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name;
    return h('svg:g', { class: `dag-node dag-${state}`, transform: `translate(${x} ${y})` },
      h('svg:title', {}, `${name}: ${state}`),
      h('svg:rect', { width: NODE_W, height: NODE_H, rx: 6 }),
      h('svg:text', { x: 8, y: 18, class: 'dag-name' }, shown),
      h('svg:text', { x: 8, y: 35, class: 'dag-state' }, state));
  });
  const summary = order.map((name) => {
    const after = steps[name].after ?? [];
    return `${name} (${steps[name].state}) ${after.length ? `after ${after.join(', ')}` : 'starts at once'}`;
  }).join('; ');
  return h('svg:svg', {
    class: 'dag', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `Graph of the steps: ${summary}.`,
  },
  h('svg:defs', {}, h('svg:marker', { id: 'dag-arrow', viewBox: '0 0 8 8', refX: 7, refY: 4,
    markerWidth: 7, markerHeight: 7, orient: 'auto' }, h('svg:path', { d: 'M0 0 L8 4 L0 8 z', class: 'dag-arrow' }))),
  edges, nodes);
}

// Each step's column: 0 without `after`, else one more than its deepest `after`.
function depths(order, steps) {
  const depth = new Map();
  const visit = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name) || !steps[name]) return 0; // a cycle or an unknown name: the server refuses both
    seen.add(name);
    const after = steps[name].after ?? [];
    const d = after.length ? 1 + Math.max(...after.map((a) => visit(a, seen))) : 0;
    depth.set(name, d);
    return d;
  };
  for (const name of order) visit(name, new Set());
  return depth;
}
