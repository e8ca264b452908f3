// examples/checkout-form in a real browser against the real errand binary.
//
// The page is served from one loopback port and errand listens on another, so
// every call the page makes is cross-origin and goes through errand's CORS
// (`--cors-origin`). The test plays the order worker itself with plain HTTP
// calls (lease, heartbeat with progress, ack or fail), which lets it decide
// whether an order finishes inside the form's 2 s wait (200) or after it
// (202, then live progress over Server-Sent Events).
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM_BIN) driven by npm's
// playwright-core; no browser is downloaded. Run from this folder:
//   npm ci && ERRAND_BIN=/path/to/errand node --test checkout-form.test.mjs

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../integration/lib/server.mjs';

const FORM_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                              '../../examples/checkout-form');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
// Generous: a sanitizer build of errand, or a busy CI machine, is slow.
const UI_TIMEOUT_MS = 10_000;
const GOOD_CARD = '4242 4242 4242 4242';
const DECLINED_CARD = '4000 0000 0000 0002';
// The page's live region, where it says everything about the order.
const STATUS = '#status[role="status"][aria-live="polite"]';
// The page's basket as it loads: 2 mugs at $12 and a tote bag at $18.
const BASKET = { items: [{ sku: 'mug', qty: 2 }, { sku: 'tote', qty: 1 }], amount_cents: 4200 };

// --- a static file server for the example folder (a different origin from errand's) ---

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

async function serveFolder(root) {
  const server = http.createServer(async (req, res) => {
    let file;
    try {
      let rel = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      if (rel.endsWith('/')) rel += 'index.html';
      file = path.join(root, path.normalize(rel));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const type = CONTENT_TYPES[path.extname(file)];
    if (!file.startsWith(root + path.sep) || !type) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** A loopback port nothing listens on. */
async function closedPort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

// --- the worker, played over errand's HTTP API ---

class TestWorker {
  constructor(errand) {
    this.errand = errand;
  }

  async call(method, urlPath, body, headers = {}) {
    const res = await fetch(this.errand.url + urlPath, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${method} ${urlPath}: ${res.status} ${text}`);
    return JSON.parse(text);
  }

  /** Long-polls the `orders` queue for one job (up to 10 s); returns the leased job. */
  async lease() {
    const { jobs } = await this.call('POST', '/v1/leases',
      { queues: ['orders'], worker: 'browser-test', max: 1, lease_ms: 30_000 }, { prefer: 'wait=10' });
    assert.equal(jobs.length, 1, 'the page submitted no order within 10 s');
    return jobs[0];
  }

  heartbeat(job, percent, message) {
    return this.call('POST', `/v1/jobs/${job.id}/heartbeat`, { lease: job.lease, progress: { percent, message } });
  }

  ack(job, result) {
    return this.call('POST', `/v1/jobs/${job.id}/ack`, { lease: job.lease, result });
  }

  fail(job, type, message) {
    return this.call('POST', `/v1/jobs/${job.id}/fail`,
      { lease: job.lease, error: { message, type }, retry: false });
  }
}

// --- the browser ---

let site;
let errand;
let worker;
let browser;
let context;
let page;
let pageLog;

before(async () => {
  site = await serveFolder(FORM_DIR);
  errand = await startServer({ args: ['--cors-origin', site.origin] });
  worker = new TestWorker(errand);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await errand?.close();
  site?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  pageLog = [];
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`uncaught: ${e.message}`));
});

afterEach(async () => {
  const uncaught = pageLog.filter((l) => l.startsWith('uncaught'));
  await context?.close();
  assert.deepEqual(uncaught, [], 'the page threw');
});

/** Opens the form talking to `server` (errand's URL by default). */
async function openForm(server = errand.url) {
  await page.goto(`${site.origin}/index.html?server=${encodeURIComponent(server)}`);
  await page.getByRole('heading', { name: 'Checkout' }).waitFor();
}

async function fillCard(number) {
  await page.getByLabel('Name on card').fill('Ada Lovelace');
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiry date').fill('04/39');
}

/** Waits until the status region shows `text` (a string or RegExp). */
async function shows(text) {
  const status = page.locator(STATUS);
  try {
    await status.getByText(text).first().waitFor({ timeout: UI_TIMEOUT_MS });
  } catch (e) {
    const now = await status.innerText().catch(() => '?');
    throw new Error(`the page never showed ${text}; its status says ${JSON.stringify(now)}\n` +
                    `${pageLog.join('\n')}\n${e.message}`);
  }
}

/** The page's order POST to errand (not its preflight). */
function orderResponse() {
  return page.waitForResponse((r) => r.request().method() === 'POST' &&
                                     r.url() === `${errand.url}/v1/queues/orders/jobs`,
                              { timeout: UI_TIMEOUT_MS });
}

describe('checkout form', () => {
  test('an order the worker finishes at once is confirmed from the 200 answer (keyboard only)', async () => {
    await openForm();
    await fillCard(GOOD_CARD);
    const answer = orderResponse();
    const leased = worker.lease();
    await page.getByLabel('Expiry date').press('Enter');

    const job = await leased;
    assert.deepEqual(job.payload.items, BASKET.items);
    assert.equal(job.payload.amount_cents, BASKET.amount_cents);
    assert.equal(job.payload.card.number, '4242424242424242');
    await worker.ack(job, { confirmation: 'C-fast0001', charged_cents: 4200 });

    assert.equal((await answer).status(), 200);
    await shows('Order confirmed');
    await shows('C-fast0001');
    await shows('We charged $42.00 to your card ending 4242');
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    assert.equal(focused, 'Order confirmed', 'the confirmation takes the keyboard focus');
  });

  test('a slow order answers 202, then shows live progress and the confirmation', async () => {
    await openForm();
    await fillCard(GOOD_CARD);
    const answer = orderResponse();
    const leased = worker.lease();
    await page.getByRole('button', { name: 'Pay $42.00' }).click();
    await shows('Placing your order…');
    assert.ok(await page.locator(STATUS).locator('.spinner').isVisible(), 'a spinner while waiting');

    const job = await leased;
    const stream = page.waitForRequest((r) => r.url() === `${errand.url}/v1/jobs/${job.id}/events`,
                                       { timeout: UI_TIMEOUT_MS });
    await worker.heartbeat(job, 10, 'reserving stock');
    assert.equal((await answer).status(), 202, 'errand answers 202 once the 2 s wait is over');
    await stream;
    await worker.heartbeat(job, 50, 'charging the card');
    await shows('50% — Charging the card');
    const bar = page.getByRole('progressbar', { name: 'Order progress' });
    assert.equal(await bar.getAttribute('value'), '50');

    await worker.heartbeat(job, 90, 'confirming');
    await shows('90% — Confirming');
    await worker.ack(job, { confirmation: 'C-slow0002', charged_cents: 4200 });
    await shows('Order confirmed');
    await shows('C-slow0002');
  });

  test('a declined card is explained, and another card can be tried at once', async () => {
    await openForm();
    await fillCard(DECLINED_CARD);
    const leased = worker.lease();
    await page.getByRole('button', { name: 'Pay $42.00' }).click();
    const declined = await leased;
    assert.equal(declined.payload.card.number, '4000000000000002');
    await worker.fail(declined, 'declined', 'the card was declined');

    await shows('Your card was declined.');
    await shows('No money was taken. Try another card.');
    const focusedId = await page.evaluate(() => document.activeElement?.id);
    assert.equal(focusedId, 'card-number', 'the card number is ready for another card');

    await page.keyboard.type(GOOD_CARD); // replaces the selected number
    const retried = worker.lease();
    await page.getByRole('button', { name: 'Pay $42.00' }).click();
    const second = await retried;
    assert.notEqual(second.id, declined.id, 'a new card is a new order');
    assert.equal(second.payload.card.number, '4242424242424242');
    await worker.ack(second, { confirmation: 'C-again003', charged_cents: 4200 });
    await shows('C-again003');
  });

  test('a sold-out item is named, and the basket is ready to change', async () => {
    await openForm();
    await page.getByLabel('Quantity of limited-edition posters').fill('1');
    await fillCard(GOOD_CARD);
    const leased = worker.lease();
    await page.getByRole('button', { name: 'Pay $67.00' }).click();
    const job = await leased;
    assert.deepEqual(job.payload.items.at(-1), { sku: 'sold-out-poster', qty: 1 });
    assert.equal(job.payload.amount_cents, 6700);
    await worker.fail(job, 'out_of_stock', 'out of stock: sold-out-poster');

    await shows('Sorry, the limited-edition poster has just sold out.');
    await shows('No money was taken.');
    const focusedId = await page.evaluate(() => document.activeElement?.id);
    assert.equal(focusedId, 'qty-poster');
  });

  test('any other failure gets a calm message with the order reference', async () => {
    await openForm();
    await fillCard(GOOD_CARD);
    const leased = worker.lease();
    await page.getByRole('button', { name: 'Pay $42.00' }).click();
    const job = await leased;
    await worker.fail(job, 'gateway_timeout', 'the payment gateway did not answer');

    await shows(/couldn.t complete your order/);
    await shows(job.id);
    assert.equal(await page.locator(STATUS).getByText('gateway').count(), 0,
                 'no technical error text for the shopper');
  });

  test('an unreachable server is said so in plain words', async () => {
    await openForm(`http://127.0.0.1:${await closedPort()}`);
    await fillCard(GOOD_CARD);
    await page.getByRole('button', { name: 'Pay $42.00' }).click();
    await shows(/couldn.t reach the shop right now/);
    assert.equal(await page.getByRole('button', { name: 'Pay $42.00' }).getAttribute('aria-disabled'),
                 'false', 'the shopper can try again');
  });

  test('an incomplete form says what to fix, next to each field, and sends nothing', async () => {
    await openForm();
    const posts = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(r.url()));
    await page.getByLabel('Card number').fill('4242');
    await page.getByRole('button', { name: 'Pay $42.00' }).click();

    const name = page.getByLabel('Name on card');
    await page.getByText('Enter the name shown on your card.').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByText('Enter the 12 to 19 digits on the front of your card.').waitFor();
    assert.equal(await name.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'card-name',
                 'the first field to fix takes the focus');
    assert.match(await page.getByLabel('Card number').getAttribute('aria-describedby'), /card-number-error/);
    assert.deepEqual(posts, []);
  });

  test('basket and payment sit side by side at 1280 px and stack on a phone', async () => {
    await openForm();
    const basket = page.getByRole('region', { name: 'Your basket' });
    const payment = page.getByRole('region', { name: 'Payment' });
    let [b, p] = [await basket.boundingBox(), await payment.boundingBox()];
    assert.equal(b.y, p.y, 'side by side on a desktop');
    assert.ok(b.x + b.width <= p.x, 'basket left of payment');

    await page.setViewportSize({ width: 375, height: 740 });
    [b, p] = [await basket.boundingBox(), await payment.boundingBox()];
    assert.ok(b.y + b.height <= p.y, 'stacked on a phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow} px too wide)`);
  });
});
