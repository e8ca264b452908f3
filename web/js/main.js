// The dashboard's entry point: starts the live feeds, draws the view the URL
// fragment names (router.js) and keeps the header current.
//
// Modules, in reading order: api.js (every request), sign_in.js (the token
// form a server with tokens needs), sse.js (event streams),
// queue_feed.js and alert_feed.js (live data), live.js (one job or flow
// followed live), router.js, then views/*.js (one per view), with dom.js,
// format.js and sparkline.js as helpers.

import { h, replaceChildren } from './dom.js';
import { AlertFeed } from './alert_feed.js';
import { QueueFeed } from './queue_feed.js';
import { currentRoute, href } from './router.js';
import { startSignIn } from './sign_in.js';
import { alertsView } from './views/alerts.js';
import { deadLettersView } from './views/dead_letters.js';
import { flowView } from './views/flow.js';
import { flowsView } from './views/flows.js';
import { jobView } from './views/job.js';
import { jobsView } from './views/jobs.js';
import { overviewView } from './views/overview.js';

const VIEWS = {
  overview: overviewView,
  jobs: jobsView,
  job: jobView,
  flows: flowsView,
  flow: flowView,
  dead: deadLettersView,
  alerts: alertsView,
  notFound: notFoundView,
};
// Which navigation link is current for each view.
const NAV_OF_VIEW = {
  overview: 'overview', jobs: 'jobs', job: 'jobs', flows: 'flows', flow: 'flows', dead: 'dead', alerts: 'alerts',
};
const MODE_TEXT = {
  starting: 'Connecting…',
  stream: 'Live',
  polling: 'Live (polling every second)',
  offline: 'Server unreachable, retrying',
  'signed-out': 'Not signed in',
  forbidden: 'Signed in; this token may not see the queues',
};

const feed = new QueueFeed();
const alerts = new AlertFeed();
const main = document.getElementById('main');
let leaveView = null;
let firstRender = true;

function render() {
  leaveView?.();
  main.replaceChildren();
  const route = currentRoute();
  leaveView = VIEWS[route.view](main, route.params, { feed, alerts }) ?? null;
  for (const link of document.querySelectorAll('.nav a')) {
    if (link.dataset.view === NAV_OF_VIEW[route.view]) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // After navigating, keyboard and screen-reader users start at the new heading.
  if (!firstRender) main.querySelector('h1')?.focus();
  firstRender = false;
}

function drawHeader() {
  const mode = document.getElementById('connection');
  mode.textContent = MODE_TEXT[feed.mode] ?? feed.mode;
  mode.dataset.mode = feed.mode;
  let failed = 0;
  for (const { doc } of feed.queues.values()) failed += doc.counts?.failed ?? 0;
  badge(document.getElementById('dead-count'), failed, `${failed} failed`);
}

function drawAlertBadge() {
  const firing = alerts.firing().length;
  badge(document.getElementById('alert-count'), firing, `${firing} firing`);
  const banner = document.getElementById('alert-banner');
  banner.hidden = firing === 0;
  replaceChildren(banner, firing === 0 ? null : [
    `${firing === 1 ? 'An alert is' : `${firing} alerts are`} firing: `,
    alerts.firing().map((a) => a.name).join(', '), '. ',
    h('a', { href: href('alerts') }, 'See alerts'),
  ]);
}

function badge(el, count, label) {
  el.hidden = count === 0;
  el.textContent = String(count);
  el.setAttribute('aria-label', label);
}

function notFoundView(root) {
  document.title = 'Not found · errand';
  root.append(h('h1', { tabindex: '-1' }, 'Nothing here'),
    h('p', {}, 'This address names no view of the dashboard. ', h('a', { href: href('overview') }, 'Go to the overview'), '.'));
}

startSignIn(); // before the first request, so that its 401 shows the form
feed.subscribe(drawHeader);
alerts.subscribe(drawAlertBadge);
window.addEventListener('hashchange', render);
feed.start();
alerts.start();
render();
