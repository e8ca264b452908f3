// The dashboard (GET /, web/) in a real browser against the real errand
// binary: the overview's live counts, pause and resume, the dead-letter view
// with its errors, timelines, retry and discard (one by one and in bulk),
// live progress on a job's page, search, flows (the list, a flow's steps
// moving live, what a pending step waits for, failure with compensation,
// cancel, and the way back from a step's job to its flow), keyboard use, and
// the layout at 1280 px and on a 375 px phone.
//
// The test plays the producer and the worker itself with plain HTTP calls
// (submit a job or a flow, lease, heartbeat with progress, fail, ack). Screenshots go to $ERRAND_ARTIFACTS (CTest sets
// it to artifacts/ in the build folder) for people to look at; no test
// compares pixels.
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM_BIN) driven by npm's
// playwright-core; no browser is downloaded. Run from this folder:
//   npm ci && ERRAND_BIN=/path/to/errand node --test dashboard.test.mjs

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from '../integration/lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
// Generous: a sanitizer build of errand, or a busy CI machine, is slow.
const UI_TIMEOUT_MS = 10_000;
const ARTIFACTS = process.env.ERRAND_ARTIFACTS ?? path.join(tmpdir(), 'errand-dashboard-artifacts');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 740 };

// --- errand's HTTP API, as a producer, a worker and an operator would call it ---

let errand;
let queueCounter = 0;
/** A queue name no other test uses. */
const uniqueQueue = (prefix) => `${prefix}-${++queueCounter}`;

async function call(method, urlPath, body, headers = {}) {
  const res = await fetch(errand.url + urlPath, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${urlPath}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const submit = (queue, payload, extra = {}) => call('POST', `/v1/queues/${queue}/jobs`, { payload, ...extra });
const getJob = (id) => call('GET', `/v1/jobs/${id}`);
const getQueue = (queue) => call('GET', `/v1/queues/${queue}`);

/** Leases one job of `queue` (waiting up to `waitS`); null when none came. */
async function lease(queue, waitS = 5) {
  const { jobs } = await call('POST', '/v1/leases', { queues: [queue], worker: 'dashboard-test', max: 1, lease_ms: 60_000 },
                              { prefer: `wait=${waitS}` });
  return jobs[0] ?? null;
}

const heartbeat = (job, percent, message) =>
  call('POST', `/v1/jobs/${job.id}/heartbeat`, { lease: job.lease, progress: { percent, message } });
const ack = (job, result) => call('POST', `/v1/jobs/${job.id}/ack`, { lease: job.lease, result });
const fail = (job, type, message) =>
  call('POST', `/v1/jobs/${job.id}/fail`, { lease: job.lease, error: { type, message, detail: 'at charge()' }, retry: false });

const submitFlow = (steps, extra = {}) => call('POST', '/v1/flows', { steps, ...extra });
const getFlow = (id) => call('GET', `/v1/flows/${id}`);

/** Leases the job of `queue` and checks that it is step `step` of flow `flowId`. */
async function leaseStep(queue, flowId, step) {
  const job = await lease(queue);
  assert.ok(job, `a job of ${queue}`);
  assert.equal(job.flow?.id, flowId);
  assert.equal(job.flow.step, step);
  return job;
}

/** Submits a job to `queue` and fails it for good; returns its id. */
async function deadLetter(queue, message) {
  const { id } = await submit(queue, { order: message });
  const job = await lease(queue);
  assert.equal(job.id, id);
  await fail(job, 'declined', message);
  return id;
}

// --- the browser ---

let browser;
let context;
let page;
let pageLog;

// A dead_letters alert on the alerting-* queues, for the alerts test.
let configDir;
const ALERT_NAME = 'payments-dead-letters';

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  configDir = mkdtempSync(path.join(tmpdir(), 'errand-dashboard-'));
  const config = path.join(configDir, 'errand.toml');
  writeFileSync(config, `[[alerts]]\nname = "${ALERT_NAME}"\nqueue = "alerting-*"\nkind = "dead_letters"\n`);
  errand = await startServer({ durability: 'memory', args: ['--config', config] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await errand?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: DESKTOP });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  pageLog = [];
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`uncaught: ${e.message}`));
  page.on('dialog', (d) => d.accept()); // the confirmation before a discard
});

afterEach(async () => {
  // A request the server answers 404 (an endpoint this server lacks) is logged
  // by Chromium and is fine; a script error or a blocked resource is not.
  const bad = pageLog.filter((l) => l.startsWith('uncaught') || /Refused to|Content Security Policy/.test(l));
  await context?.close();
  assert.deepEqual(bad, [], `the page misbehaved:\n${pageLog.join('\n')}`);
});

async function screenshot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function open(fragment = '#/') {
  await page.goto(`${errand.url}/${fragment}`);
  await page.locator('main h1').waitFor();
}

/** The overview's card of `queue`. */
const card = (queue) => page.getByRole('article', { name: queue, exact: true });

/** The number the card of `queue` shows for `state`. */
async function shownCount(queue, state) {
  return page.evaluate(({ queue, state }) =>
    document.querySelector(`[data-queue="${queue}"] .count-${state} dd`)?.textContent, { queue, state });
}

async function waitForCount(queue, state, expected) {
  await page.waitForFunction(({ queue, state, expected }) =>
    document.querySelector(`[data-queue="${queue}"] .count-${state} dd`)?.textContent === expected,
  { queue, state, expected }, { timeout: UI_TIMEOUT_MS }).catch(async (e) => {
    throw new Error(`${queue} never showed ${expected} ${state}; it shows ` +
                    `${await shownCount(queue, state)}\n${pageLog.join('\n')}\n${e.message}`);
  });
}

/** A step's entry on a flow's page. */
const stepEntry = (name) => page.locator(`li.step[data-step="${name}"]`);

/** Waits until the flow's page shows step `name` in `state`. */
async function waitForStep(name, state) {
  await stepEntry(name).locator('.step-head').getByText(state, { exact: true }).waitFor().catch(async (e) => {
    throw new Error(`step ${name} never showed ${state}; it shows ` +
                    `${await stepEntry(name).locator('.step-head').innerText().catch(() => '(nothing)')}\n${e.message}`);
  });
}

/** Waits until the page's state line (a job's or a flow's) shows `state`. */
const waitForState = (state) => page.locator('.job-state').getByText(state, { exact: true }).waitFor();

/** Whether the page scrolls sideways. */
function sidewaysOverflow() {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

describe('dashboard', () => {
  test('the overview shows each queue with live counts, throughput and lag', async () => {
    const queue = uniqueQueue('emails');
    await submit(queue, { to: 'ada@example.com' });
    await submit(queue, { to: 'grace@example.com' });
    await open();
    await card(queue).waitFor();
    await waitForCount(queue, 'queued', '2');

    // Without reloading: a new job, a leased one, a finished one.
    const marker = await page.evaluate(() => (window.__notReloaded = Math.random()));
    await submit(queue, { to: 'alan@example.com' });
    await waitForCount(queue, 'queued', '3');
    const job = await lease(queue);
    await waitForCount(queue, 'running', '1');
    await waitForCount(queue, 'queued', '2');
    await ack(job, { sent: true });
    await waitForCount(queue, 'succeeded', '1');
    assert.equal(await page.evaluate(() => window.__notReloaded), marker, 'the page was not reloaded');

    const text = await card(queue).innerText();
    assert.match(text, /Throughput/);
    assert.match(text, /Lag\s+\d/);
    assert.ok(await card(queue).locator('svg.sparkline').count() >= 2, 'sparklines for throughput and lag');
    await page.getByRole('link', { name: '2 queued in ' + queue }).waitFor();
    await screenshot('overview-desktop');
  });

  test('pause and resume a queue (by keyboard)', async () => {
    const queue = uniqueQueue('reports');
    await submit(queue, { month: '2025-10' });
    await open();
    const pause = page.getByRole('button', { name: `Pause queue ${queue}` });
    await pause.focus();
    await page.keyboard.press('Enter');
    await card(queue).getByText('Paused', { exact: true }).waitFor();
    await page.getByRole('status').getByText(`Queue ${queue} paused`).waitFor();
    assert.equal((await getQueue(queue)).paused, true);
    assert.equal(await lease(queue, 0), null, 'a paused queue leases nothing');
    await screenshot('overview-paused');

    const resume = page.getByRole('button', { name: `Resume queue ${queue}` });
    assert.ok(await resume.evaluate((b) => b === document.activeElement), 'the focus stays on the button');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: `Pause queue ${queue}` }).waitFor();
    assert.equal(await card(queue).getByText('Paused', { exact: true }).isVisible(), false);
    assert.equal((await getQueue(queue)).paused, false);
    assert.ok(await lease(queue, 0), 'a resumed queue leases again');
  });

  test('a failed job is in the dead-letter view with its error and timeline; Retry puts it back in queued', async () => {
    const queue = uniqueQueue('payments');
    const id = await deadLetter(queue, 'the card was declined');
    await open();
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: /Dead letters/ }).click();
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /declined: the card was declined/);
    assert.match(await row.innerText(), new RegExp(queue));
    await screenshot('dead-letters-desktop');

    await row.getByRole('link', { name: id }).click();
    await page.getByRole('heading', { name: 'Error' }).waitFor();
    await page.getByText('declined: the card was declined', { exact: true }).waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline, oldest first' });
    const types = await timeline.locator('.event-type').allInnerTexts();
    assert.deepEqual(types, ['enqueued', 'leased', 'failed attempt', 'failed'], 'the whole story of the job');
    assert.match(await timeline.innerText(), /attempt 1 by dashboard-test/);
    await screenshot('job-failed');

    await page.getByRole('button', { name: 'Retry' }).click();
    await page.locator('.job-state').getByText('queued', { exact: true }).waitFor();
    await timeline.getByText('retried by admin').waitFor();
    assert.equal((await getJob(id)).state, 'queued');
    await page.getByRole('status').getByText(`Retried job ${id}`).waitFor();
  });

  test('an alert firing shows on every page and in the alerts view, then resolves', async () => {
    // The alert loop samples once a second and the page polls /v1/alerts every 5 s.
    const ALERT_TIMEOUT_MS = 20_000;
    const queue = uniqueQueue('alerting');
    await open();
    const id = await deadLetter(queue, 'fraud check timed out');
    const banner = page.locator('#alert-banner');
    await banner.getByText(ALERT_NAME).waitFor({ timeout: ALERT_TIMEOUT_MS });
    assert.match(await banner.innerText(), /An alert is firing: payments-dead-letters/);
    await screenshot('alert-firing');
    await banner.getByRole('link', { name: 'See alerts' }).click();
    const firing = page.getByRole('region', { name: 'Firing' });
    await firing.getByText(ALERT_NAME).waitFor();
    assert.match(await firing.innerText(), new RegExp(`firing\\s+${ALERT_NAME} on ${queue} \\(dead_letters\\)`));
    assert.match(await firing.innerText(), /1 failed job in the dead-letter view/);

    await call('DELETE', `/v1/jobs/${id}`); // the queue has no dead letters left: resolved
    const resolved = page.getByRole('region', { name: 'Recently resolved' });
    await resolved.getByText(ALERT_NAME).waitFor({ timeout: ALERT_TIMEOUT_MS });
    assert.match(await resolved.innerText(), /resolved/);
    await firing.getByText('Nothing is firing.').waitFor();
    assert.equal(await banner.isHidden(), true);
    await screenshot('alert-resolved');
  });

  test('retry and discard in bulk: select all on the page, or some', async () => {
    const queue = uniqueQueue('bulk');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await deadLetter(queue, `failure ${i}`));
    await open(`#/dead?queue=${queue}`);
    await page.locator('tr[data-job]').nth(2).waitFor();
    await page.getByRole('checkbox', { name: 'Select all jobs on this page' }).check();
    await page.getByText('3 of 3 selected').waitFor();
    await page.getByRole('button', { name: 'Retry 3 selected' }).click();
    await page.getByText('No dead letters in').waitFor();
    for (const id of ids) assert.equal((await getJob(id)).state, 'queued');

    // Fail them again, then discard two of the three, and one more on its own.
    for (let i = 0; i < 3; i++) {
      const job = await lease(queue);
      await fail(job, 'declined', `again ${i}`);
    }
    await page.reload();
    await page.locator('tr[data-job]').nth(2).waitFor();
    await page.getByRole('checkbox', { name: `Select job ${ids[0]}` }).check();
    await page.getByRole('checkbox', { name: `Select job ${ids[1]}` }).check();
    assert.equal(await page.getByRole('checkbox', { name: 'Select all jobs on this page' })
      .evaluate((c) => c.indeterminate), true, 'two of three: the select-all box is mixed');
    await page.getByRole('button', { name: 'Discard 2 selected' }).click();
    await page.getByRole('status').getByText('Discarded 2 jobs.').waitFor();
    await page.getByRole('button', { name: `Discard job ${ids[2]}` }).click();
    await page.getByText('No dead letters in').waitFor();
    for (const id of ids) {
      const res = await fetch(`${errand.url}/v1/jobs/${id}`);
      assert.equal(res.status, 404, `${id} is gone`);
    }
  });

  test("a running job's progress, then its result, show up without a reload", async () => {
    const queue = uniqueQueue('thumbnails');
    const { id } = await submit(queue, { image: 'cat.png' });
    const job = await lease(queue);
    await open(`#/jobs/${id}`);
    await page.locator('.job-state').getByText('running', { exact: true }).waitFor();
    const marker = await page.evaluate(() => (window.__notReloaded = Math.random()));
    const bar = page.getByRole('progressbar', { name: 'Job progress' });

    await heartbeat(job, 30, 'resizing');
    await page.locator('.progress-text').getByText('30% — resizing').waitFor();
    assert.equal(await bar.evaluate((b) => b.value), 30);
    await heartbeat(job, 80, 'uploading');
    await page.locator('.progress-text').getByText('80% — uploading').waitFor();
    assert.equal(await bar.evaluate((b) => b.value), 80);
    await screenshot('job-running');

    await ack(job, { url: '/thumbs/cat.png' });
    await page.locator('.job-state').getByText('succeeded', { exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Result' }).waitFor();
    assert.match(await page.getByLabel('Result as JSON').innerText(), /"url": "\/thumbs\/cat.png"/);
    const types = await page.locator('.timeline .event-type').allInnerTexts();
    assert.deepEqual(types, ['enqueued', 'leased', 'progress', 'progress', 'succeeded']);
    assert.equal(await page.evaluate(() => window.__notReloaded), marker, 'the page was not reloaded');
  });

  test('a fan-out/fan-in flow: listed, its pending step names the steps it waits for, steps move live to the result', async () => {
    const q = { inv: uniqueQueue('inventory'), pay: uniqueQueue('charges'), fraud: uniqueQueue('fraud'),
      orders: uniqueQueue('orders') };
    const flow = await submitFlow({
      reserve: { queue: q.inv, payload: { sku: 'A1' } },
      charge: { queue: q.pay, payload: { amount: 1999 } },
      fraud: { queue: q.fraud, payload: { user: 7 } },
      confirm: { queue: q.orders, payload: { order: 42 }, after: ['reserve', 'charge', 'fraud'] },
    }, { name: 'checkout' });
    await open();
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Flows' }).click();
    const row = page.locator(`tr[data-flow="${flow.id}"]`);
    await row.waitFor();
    const rowText = await row.innerText();
    assert.match(rowText, /checkout/);
    assert.match(rowText, /running/);
    assert.match(rowText, /0 of 4 done/);
    await screenshot('flows-running');

    await row.getByRole('link', { name: flow.id }).click();
    await page.getByRole('heading', { name: `Flow ${flow.id}` }).waitFor();
    await waitForState('running');
    const confirm = stepEntry('confirm');
    await confirm.getByText('Waiting for flow steps reserve, charge, fraud', { exact: true }).waitFor();
    assert.match(await confirm.innerText(), /After\s+reserve, charge, fraud/);
    await waitForStep('confirm', 'pending');
    for (const root of ['reserve', 'charge', 'fraud']) await waitForStep(root, 'queued');
    assert.match(await page.getByRole('img', { name: /^Graph of the steps/ }).getAttribute('aria-label'),
                 /confirm \(pending\) after reserve, charge, fraud/);
    await screenshot('flow-pending');

    // From here on the page follows the flow by itself.
    const marker = await page.evaluate(() => (window.__notReloaded = Math.random()));
    await ack(await leaseStep(q.inv, flow.id, 'reserve'), { hold: 'h-1' });
    await waitForStep('reserve', 'succeeded');
    await confirm.getByText('Waiting for flow steps charge, fraud', { exact: true }).waitFor();
    const charge = await leaseStep(q.pay, flow.id, 'charge');
    await waitForStep('charge', 'running');
    await ack(charge, { charge: 'ch-9' });
    await waitForStep('charge', 'succeeded');
    await confirm.getByText('Waiting for flow step fraud', { exact: true }).waitFor();
    await ack(await leaseStep(q.fraud, flow.id, 'fraud'), { score: 0.1 });
    await waitForStep('confirm', 'queued');
    assert.equal(await confirm.locator('.callout-waiting').isHidden(), true, 'a started step waits on no step');
    const last = await leaseStep(q.orders, flow.id, 'confirm');
    await waitForStep('confirm', 'running');
    await screenshot('flow-running');
    await ack(last, { order: 42, status: 'confirmed' });

    await waitForState('succeeded');
    await waitForStep('confirm', 'succeeded');
    assert.match(await page.getByLabel('Flow result as JSON').innerText(), /"confirm": \{\s*"order": 42,\s*"status": "confirmed"/);
    assert.equal(await page.getByRole('button', { name: 'Cancel flow' }).isHidden(), true);
    // A step's result is there, folded away until asked for.
    const reserveResult = stepEntry('reserve').getByLabel('Result of step reserve as JSON');
    assert.equal(await reserveResult.isVisible(), false);
    await stepEntry('reserve').getByText('Result', { exact: true }).click();
    assert.match(await reserveResult.innerText(), /"hold": "h-1"/);
    const types = await page.locator('.timeline .event-type').allInnerTexts();
    assert.equal(types[0], 'started');
    assert.equal(types.at(-1), 'succeeded');
    assert.equal(types.filter((t) => t === 'step succeeded').length, 4, types.join(', '));
    assert.equal(await page.evaluate(() => window.__notReloaded), marker, 'the page was not reloaded');
    await screenshot('flow-succeeded');
  });

  test('a failing step: the flow compensates, then fails naming the step; the compensation job is linked', async () => {
    const q = { inv: uniqueQueue('stock'), undo: uniqueQueue('stock-undo'), pay: uniqueQueue('cards') };
    const flow = await submitFlow({
      reserve: { queue: q.inv, payload: { sku: 'B2' }, compensate: { queue: q.undo, payload: { release: 'B2' } } },
      charge: { queue: q.pay, payload: { amount: 500 }, after: ['reserve'] },
    }, { name: 'checkout' });
    await open(`#/flows/${flow.id}`);
    await waitForStep('reserve', 'queued');
    assert.match(await stepEntry('reserve').innerText(), /Compensation\s+declared; it runs only if the flow fails/);
    await ack(await leaseStep(q.inv, flow.id, 'reserve'), { hold: 'h-2' });
    await waitForStep('charge', 'queued');
    await fail(await leaseStep(q.pay, flow.id, 'charge'), 'declined', 'the card was declined');

    // The compensation job waits for a worker: the flow stays compensating.
    await waitForState('compensating');
    await waitForStep('charge', 'failed');
    await page.locator('.callout').getByText(/^Step charge failed: .* being undone/).waitFor();
    await stepEntry('charge').getByText('declined: the card was declined', { exact: true }).waitFor();
    const compensationLink = stepEntry('reserve').getByRole('link', { name: /^Compensation job / });
    await compensationLink.waitFor();
    await screenshot('flow-compensating');

    const undo = await lease(q.undo);
    assert.deepEqual({ id: undo.flow.id, compensating: undo.flow.compensating }, { id: flow.id, compensating: 'reserve' });
    assert.equal(await compensationLink.getAttribute('href'), `#/jobs/${undo.id}`);
    await ack(undo, { released: true });
    await waitForState('failed');
    await page.getByRole('heading', { name: 'Error' }).waitFor();
    assert.equal(await page.locator('.job-summary .error-message').innerText(),
                 'Step charge failed: declined: the card was declined');
    await stepEntry('reserve').locator('dd').getByText('succeeded', { exact: true }).waitFor(); // the compensation
    assert.equal((await getFlow(flow.id)).error.step, 'charge');
    const types = await page.locator('.timeline .event-type').allInnerTexts();
    for (const t of ['step failed', 'compensating', 'compensation started', 'compensation succeeded', 'failed']) {
      assert.ok(types.includes(t), `the timeline has ${t}: ${types.join(', ')}`);
    }
    await screenshot('flow-failed');

    // The compensation job's page says what it undoes.
    await compensationLink.click();
    await page.getByRole('heading', { name: `Job ${undo.id}` }).waitFor();
    assert.equal(await page.locator('.job-flow').innerText(), `Compensation of step reserve of flow ${flow.id}`);
  });

  test('Cancel on the flow page cancels a running flow', async () => {
    const q = { a: uniqueQueue('cancel-a'), b: uniqueQueue('cancel-b') };
    const flow = await submitFlow({
      first: { queue: q.a, payload: {} },
      second: { queue: q.b, payload: {}, after: ['first'] },
    });
    await open(`#/flows/${flow.id}`);
    await waitForState('running');
    await page.getByRole('button', { name: 'Cancel flow' }).click(); // the confirmation is accepted
    await page.getByRole('status').getByText(new RegExp(`flow ${flow.id}`)).waitFor();
    await waitForState('cancelled');
    await waitForStep('first', 'cancelled');
    await waitForStep('second', 'skipped');
    assert.equal(await page.getByRole('button', { name: 'Cancel flow' }).isHidden(), true);
    assert.equal((await getFlow(flow.id)).state, 'cancelled');
    await screenshot('flow-cancelled');

    await open('#/flows?state=cancelled');
    await page.locator(`tr[data-flow="${flow.id}"]`).waitFor();
    assert.equal(await page.getByLabel('State', { exact: true }).inputValue(), 'cancelled');
    for (const state of await page.locator('tr[data-flow] .badge').allInnerTexts()) assert.equal(state, 'cancelled');
  });

  test("a step's job page links back to its flow", async () => {
    const queue = uniqueQueue('single-step');
    const flow = await submitFlow({ only: { queue, payload: { n: 1 } } });
    const jobId = flow.steps.only.job;
    await open(`#/flows/${flow.id}`);
    await stepEntry('only').getByRole('link', { name: jobId }).click();
    await page.getByRole('heading', { name: `Job ${jobId}` }).waitFor();
    assert.equal(await page.locator('.job-flow').innerText(), `Step only of flow ${flow.id}`);
    await screenshot('job-of-flow');
    await page.locator('.job-flow').getByRole('link', { name: flow.id }).click();
    await page.getByRole('heading', { name: `Flow ${flow.id}` }).waitFor();
    await waitForStep('only', 'queued');
  });

  test('jobs by queue and state, and a job found by its id', async () => {
    const queue = uniqueQueue('search');
    const first = await submit(queue, { n: 1 });
    const second = await submit(queue, { n: 2 });
    await lease(queue); // the older one runs
    await open('#/jobs');
    await page.getByLabel('Queue', { exact: true }).selectOption(queue);
    await page.getByLabel('State', { exact: true }).selectOption('queued');
    await page.getByRole('button', { name: 'Show jobs' }).click();
    await page.waitForURL(new RegExp(`#/jobs\\?queue=${queue}&state=queued$`));
    await page.locator('.results[aria-busy="false"]').waitFor();
    assert.deepEqual(await page.locator('tr[data-job]').evaluateAll((rows) => rows.map((r) => r.dataset.job)),
                     [second.id], 'only the queued job');

    await page.getByLabel('Job id').fill('not-a-job');
    await page.getByRole('button', { name: 'Open job' }).click();
    await page.getByText('A job id is a UUID').waitFor();
    await page.getByLabel('Job id').fill(first.id);
    await page.getByLabel('Job id').press('Enter');
    await page.getByRole('heading', { name: `Job ${first.id}` }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1', 'the focus moves to the new view');
    await page.locator('.job-state').getByText('running', { exact: true }).waitFor();
  });

  test('the keyboard reaches everything, and the focus is visible', async () => {
    await open();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const names = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      const info = await page.evaluate(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { text: el.textContent.trim(), outline: style.outlineStyle, width: style.outlineWidth };
      });
      names.push(info.text);
      assert.notEqual(info.outline, 'none', `the focus on "${info.text}" is visible`);
    }
    assert.deepEqual(names.slice(1, 6).map((n) => n.replace(/\s*\d+$/, '')),
      ['Overview', 'Jobs', 'Flows', 'Dead letters', 'Alerts']);
    await page.keyboard.press('Enter'); // on Alerts
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1');
  });

  test('every view fits 1280 px and a 375 px phone without sideways scrolling', async () => {
    const queue = uniqueQueue('a-rather-long-queue-name-for-layout');
    const id = await deadLetter(queue, 'a long error message that must wrap rather than widen the page '.repeat(3));
    await submit(queue, { text: 'x'.repeat(400) });
    // A flow with long names, a big result, a long error and a compensation.
    const flowQueue = uniqueQueue('a-rather-long-queue-name-for-the-layout-of-flows');
    const longStep = 'a-step-with-a-rather-long-name-that-must-wrap-not-widen-the-page';
    const [two, end] = [`${longStep.slice(0, 60)}-two`, `${longStep.slice(0, 60)}-end`];
    const flow = await submitFlow({
      [longStep]: { queue: flowQueue, payload: {}, compensate: { queue: flowQueue, payload: {} } },
      [two]: { queue: flowQueue, payload: {}, after: [longStep] },
      [end]: { queue: flowQueue, payload: {}, after: [two] },
    }, { name: 'a-flow-name-that-is-long-too-'.repeat(3) });
    await ack(await leaseStep(flowQueue, flow.id, longStep), { text: 'y'.repeat(400) });
    await fail(await leaseStep(flowQueue, flow.id, two), 'declined',
               'a long error message that must wrap rather than widen the page '.repeat(3));
    await ack(await lease(flowQueue), { undone: true }); // the compensation of the first step
    const views = { overview: '#/', jobs: '#/jobs', flows: '#/flows', flow: `#/flows/${flow.id}`, dead: '#/dead',
      job: `#/jobs/${id}`, alerts: '#/alerts' };
    for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      await page.setViewportSize(size);
      for (const [name, fragment] of Object.entries(views)) {
        await open(fragment);
        await page.waitForFunction(() => !document.querySelector('main [aria-busy="true"]') &&
                                         !/^Loading/.test(document.querySelector('main').innerText.split('\n').at(-1)));
        if (name === 'overview') await card(queue).waitFor();
        const overflow = await sidewaysOverflow();
        assert.ok(overflow <= 0, `${name} at ${size.width} px scrolls sideways by ${overflow} px`);
        await screenshot(`${name}-${label}`);
      }
    }
  });
});
