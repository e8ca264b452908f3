// The overview: one card per queue with its counts by state, throughput and
// lag (number and sparkline) and a Pause/Resume button; then the alerts that
// are firing. Updates live from the QueueFeed.

import { ApiError, post, queuePath } from '../api.js';
import { announce, h, replaceChildren } from '../dom.js';
import { formatCount, formatDuration, formatRate } from '../format.js';
import { href } from '../router.js';
import { sparkline } from '../sparkline.js';
import { alertList } from './alerts.js';

// Counts in the order a job moves through them; `failed` links to the dead letters.
const STATES = ['scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'expired'];

export function overviewView(root, _params, { feed, alerts }) {
  document.title = 'Overview · errand';
  const list = h('div', { class: 'queue-grid', id: 'queue-list' });
  const empty = h('p', { class: 'empty', hidden: true },
    'No queues yet. A queue appears when the first job is submitted to it.');
  const forbidden = h('p', { class: 'error', id: 'queues-forbidden', role: 'alert', hidden: true });
  const alertBox = h('div', { id: 'overview-alerts' });
  root.append(
    h('h1', { tabindex: '-1' }, 'Overview'),
    h('section', { 'aria-labelledby': 'queues-heading' },
      h('h2', { id: 'queues-heading' }, 'Queues'), forbidden, empty, list),
    h('section', { 'aria-labelledby': 'alerts-heading' },
      h('h2', { id: 'alerts-heading' }, 'Active alerts'), alertBox),
  );

  const cards = new Map(); // queue name -> card element
  const draw = () => {
    const names = feed.names();
    const refused = feed.mode === 'forbidden' || feed.mode === 'signed-out';
    empty.hidden = names.length > 0 || feed.mode === 'starting' || refused;
    forbidden.hidden = feed.mode !== 'forbidden';
    if (forbidden.textContent !== (feed.problem ?? '')) forbidden.textContent = feed.problem ?? '';
    for (const [name, card] of cards) {
      if (!feed.queues.has(name)) {
        card.remove();
        cards.delete(name);
      }
    }
    names.forEach((name, i) => {
      let card = cards.get(name);
      if (!card) {
        card = queueCard(name, feed);
        cards.set(name, card);
      }
      fillCard(card, feed.queues.get(name));
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] ?? null);
    });
  };
  const drawAlerts = () => {
    replaceChildren(alertBox, alertList(alerts.firing(), alerts.available,
      'Nothing is firing.', alerts.problem), h('p', {}, h('a', { href: href('alerts') }, 'All alerts, with recently resolved ones')));
  };
  draw();
  drawAlerts();
  const stopQueues = feed.subscribe(draw);
  const stopAlerts = alerts.subscribe(drawAlerts);
  return () => {
    stopQueues();
    stopAlerts();
  };
}

// The parts of a card that stay put, so that focus on its button survives updates.
function queueCard(name, feed) {
  const headingId = `queue-${name}`;
  const toggle = h('button', { type: 'button', class: 'button' });
  toggle.addEventListener('click', () => togglePause(name, toggle, feed));
  const card = h('article', { class: 'queue-card', 'aria-labelledby': headingId, 'data-queue': name },
    h('header', { class: 'queue-card-head' },
      h('h3', { id: headingId }, h('a', { href: href('jobs', { queue: name }) }, name)),
      h('span', { class: 'badge badge-paused', hidden: true }, 'Paused'),
      toggle),
    h('dl', { class: 'counts' }),
    h('div', { class: 'trends' }));
  card.toggle = toggle;
  return card;
}

function fillCard(card, { doc, history }) {
  const paused = Boolean(doc.paused);
  card.classList.toggle('is-paused', paused);
  card.querySelector('.badge-paused').hidden = !paused;
  if (card.toggle.getAttribute('aria-busy') !== 'true') {
    card.toggle.textContent = paused ? 'Resume' : 'Pause';
    card.toggle.setAttribute('aria-label', `${paused ? 'Resume' : 'Pause'} queue ${doc.name}`);
  }
  const counts = doc.counts ?? {};
  replaceChildren(card.querySelector('.counts'), STATES.map((state) => h('div', { class: `count count-${state}` },
    h('dt', {}, state),
    h('dd', {}, h('a', {
      href: state === 'failed' ? href('dead', { queue: doc.name }) : href('jobs', { queue: doc.name, state }),
      'aria-label': `${formatCount(counts[state] ?? 0)} ${state} in ${doc.name}`,
    }, formatCount(counts[state] ?? 0))))));

  const latest = history.at(-1);
  replaceChildren(card.querySelector('.trends'),
    trend('Throughput', `${formatRate(latest?.outRate)} finished`,
      `· ${formatRate(latest?.inRate)} submitted`, sparkline(history.map((p) => p.outRate), { kind: 'rate' })),
    trend('Lag', formatDuration(doc.oldest_queued_ms ?? 0), 'oldest queued job',
      sparkline(history.map((p) => p.lag), { kind: 'lag' })));
}

function trend(title, value, note, chart) {
  return h('div', { class: 'trend' },
    h('p', { class: 'trend-title' }, title),
    h('p', { class: 'trend-value' }, value, h('span', { class: 'trend-note' }, ` ${note}`)),
    chart);
}

async function togglePause(name, button, feed) {
  const pausing = button.textContent === 'Pause';
  button.setAttribute('aria-busy', 'true');
  button.disabled = true;
  try {
    const doc = await post(`${queuePath(name)}/${pausing ? 'pause' : 'resume'}`);
    feed.update(doc);
    announce(`Queue ${name} ${doc.paused ? 'paused: no job is leased from it' : 'resumed'}.`);
  } catch (e) {
    announce(`Could not ${pausing ? 'pause' : 'resume'} ${name}: ${e instanceof ApiError ? e.message : e}`);
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    feed.notify();
    button.focus();
  }
}
