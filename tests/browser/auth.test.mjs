// The dashboard against a server with tokens (docs/security.md, "The
// dashboard"): the page asks for a token when the server answers 401, says
// so when a token is wrong, works normally with a right one (kept across a
// reload, forgotten by "Sign out"), and says in words when a token may not
// see a view. The Content-Security-Policy forbids inline code, so a blocked
// script or style fails the test.
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM_BIN) driven by npm's
// playwright-core; no browser is downloaded. Run from this folder:
//   npm ci && ERRAND_BIN=/path/to/errand node --test auth.test.mjs

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
const UI_TIMEOUT_MS = 10_000;
const ARTIFACTS = process.env.ERRAND_ARTIFACTS ?? path.join(tmpdir(), 'errand-dashboard-artifacts');

const ADMIN = 'dashboard-admin-secret-3f9a';
const SUBMIT_ONLY = 'dashboard-submit-secret-81c2';
const QUEUE = 'signed-in-orders';

let errand;
let jobId;
let configDir;
let browser;
let context;
let page;
let pageLog;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  configDir = mkdtempSync(path.join(tmpdir(), 'errand-dashboard-auth-'));
  const config = path.join(configDir, 'errand.toml');
  writeFileSync(config, `[[tokens]]\nname = "checkout"\nsecret = "${SUBMIT_ONLY}"\nroles = ["submit"]\n`);
  errand = await startServer({ durability: 'memory', args: ['--config', config], env: { ERRAND_ADMIN_TOKEN: ADMIN } });
  const res = await fetch(`${errand.url}/v1/queues/${QUEUE}/jobs`, {
    method: 'POST', body: JSON.stringify({ payload: { order: 1 } }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(res.status, 202);
  jobId = (await res.json()).id;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await errand?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  pageLog = [];
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`uncaught: ${e.message}`));
});

afterEach(async () => {
  // The 401s and 403s the page is meant to get are logged by Chromium and are
  // fine; a script error or a blocked resource is not.
  const bad = pageLog.filter((l) => l.startsWith('uncaught') || /Refused to|Content Security Policy/.test(l));
  await context?.close();
  assert.deepEqual(bad, [], `the page misbehaved:\n${pageLog.join('\n')}`);
});

const tokenField = () => page.getByLabel('Token', { exact: true });

async function signIn(token) {
  await tokenField().fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Opens the dashboard and waits for the sign-in form. */
async function openSignedOut() {
  await page.goto(`${errand.url}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.ok(await tokenField().isVisible(), 'the token field is shown');
  assert.equal(await page.locator('main').isVisible(), false, 'the view is hidden behind the form');
}

describe('signing in to the dashboard', () => {
  test('the page asks for a token; a wrong one is refused, the right one loads the overview', async () => {
    await openSignedOut();
    await page.screenshot({ path: path.join(ARTIFACTS, 'sign-in.png'), fullPage: true });

    await signIn('not-the-token');
    await page.getByRole('alert').getByText('That token is not valid on this server.').waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Sign in' }).isVisible(), true);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('errand.token')), null,
                 'a refused token is not kept');

    await signIn(ADMIN);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('article', { name: QUEUE, exact: true }).waitFor();
    await page.waitForFunction((q) =>
      document.querySelector(`[data-queue="${q}"] .count-queued dd`)?.textContent === '1', QUEUE);
    assert.equal(await page.getByRole('heading', { name: 'Sign in' }).isVisible(), false);
    await page.screenshot({ path: path.join(ARTIFACTS, 'signed-in-overview.png'), fullPage: true });

    // Other views work too, and the token survives a reload of the tab.
    await page.goto(`${errand.url}/#/jobs?queue=${QUEUE}`);
    await page.reload();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    await page.locator('table.jobs tbody tr').first().waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Sign in' }).isVisible(), false);
  });

  test('sign out forgets the token and asks again', async () => {
    await openSignedOut();
    await signIn(ADMIN);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('errand.token')), null);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), false);
  });

  test('a token that may not see the queues gets a clear message, not an empty page', async () => {
    await openSignedOut();
    await signIn(SUBMIT_ONLY);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const message = page.locator('#queues-forbidden');
    await message.getByText(/This token may not see this: token 'checkout'.*admin/).waitFor();
    assert.equal(await page.getByText('No queues yet').isVisible(), false, 'not mistaken for an empty server');
    assert.match(await page.locator('#connection').innerText(), /may not see the queues/);
    await page.locator('#overview-alerts').getByText(/This token may not see this/).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'signed-in-forbidden.png'), fullPage: true });

    // A list view says the same in its own place.
    await page.goto(`${errand.url}/#/jobs`);
    await page.getByRole('alert').getByText(/This token may not see this/).first().waitFor();

    // What the token may read, it sees as usual: a job, followed live.
    await page.goto(`${errand.url}/#/jobs/${jobId}`);
    await page.locator('.job-state').getByText('queued', { exact: true }).waitFor();
  });
});
