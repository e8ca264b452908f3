// Small inline SVG line charts, no library: a series of numbers drawn as a
// polyline scaled to its own maximum. Decorative beside the number they
// illustrate, so they are hidden from screen readers.

import { h } from './dom.js';

const WIDTH = 120;
const HEIGHT = 28;

/** An <svg> sparkline of `values` (null values are drawn as 0). */
export function sparkline(values, { label = '', kind = 'rate' } = {}) {
  const points = values.map((v) => (Number.isFinite(v) ? v : 0));
  const max = Math.max(...points, kind === 'lag' ? 1000 : 1);
  const step = points.length > 1 ? WIDTH / (points.length - 1) : WIDTH;
  const coords = points.map((v, i) => {
    const x = points.length > 1 ? i * step : WIDTH;
    const y = HEIGHT - 2 - (v / max) * (HEIGHT - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const svg = h('svg:svg', {
    class: `sparkline sparkline-${kind}`, viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH, height: HEIGHT, 'aria-hidden': 'true', focusable: 'false', 'data-label': label,
  });
  svg.append(h('svg:line', { class: 'baseline', x1: 0, y1: HEIGHT - 1, x2: WIDTH, y2: HEIGHT - 1 }));
  if (coords.length > 0) {
    const line = coords.length === 1 ? [`0,${coords[0].split(',')[1]}`, coords[0]] : coords;
    svg.append(h('svg:polyline', { class: 'line', points: line.join(' ') }));
  }
  return svg;
}
