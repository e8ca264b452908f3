// examples/order-worker (a C++ worker on the client library) against a real
// server: confirmed orders, a declined card, a sold-out item and a malformed
// order each end as its README says, with progress on the timeline, and
// SIGTERM stops the worker cleanly. $ERRAND_ORDER_WORKER is the built example.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { Api, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

const workerBin = process.env.ERRAND_ORDER_WORKER;
const card = (number) => ({ items: [{ sku: 'mug', qty: 2 }], amount_cents: 2400, card: { number } });

let srv;
let api;
let worker;
let workerLog = '';
const queue = uniqueQueue('orders');

before(async () => {
  assert.ok(workerBin, 'set ERRAND_ORDER_WORKER to the built examples/order-worker binary');
  srv = await startServer();
  api = new Api(srv);
  worker = spawn(workerBin, ['--server', srv.url, '--queue', queue, '--concurrency', '2',
                             '--max-delay-ms', '100'], { stdio: ['ignore', 'ignore', 'pipe'] });
  worker.stderr.on('data', (d) => { workerLog += d; });
});
after(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await srv?.close();
});

async function order(payload) {
  const res = await api.submit(queue, { payload }, { wait: 20 });
  assert.equal(res.status, 200, `${res.status} ${res.text}\n${workerLog}`);
  return res.body;
}

test('a good order is confirmed, with progress on its timeline', async () => {
  const job = await order(card('4242 4242 4242 4242'));
  assert.equal(job.state, 'succeeded', JSON.stringify(job));
  assert.match(job.result.confirmation, /^C-[0-9a-f]{8}$/);
  assert.equal(job.result.charged_cents, 2400);
  const messages = (await api.events(job.id)).filter((e) => e.type === 'progress')
    .map((e) => e.progress?.message ?? e.message);
  assert.deepEqual(messages, ['reserving stock', 'charging the card', 'confirming']);
});

test('a declined card fails at once, without retries', async () => {
  const job = await order(card('4000 0000 0000 0002'));
  assert.equal(job.state, 'failed');
  assert.equal(job.attempt, 1);
  assert.equal(job.error.type, 'declined');
  assert.equal(job.error.message, 'the card was declined');
});

test('a sold-out item and a malformed order fail with their own types', async () => {
  const soldOut = await order({ ...card('4242'), items: [{ sku: 'sold-out-poster', qty: 1 }] });
  assert.equal(soldOut.state, 'failed');
  assert.equal(soldOut.error.type, 'out_of_stock');
  assert.match(soldOut.error.message, /sold-out-poster/);
  const malformed = await order({ items: 'none' });
  assert.equal(malformed.state, 'failed');
  assert.equal(malformed.error.type, 'invalid_order');
});

test('SIGTERM stops the worker with exit code 0', async () => {
  worker.kill('SIGTERM');
  const [code] = await once(worker, 'exit');
  assert.equal(code, 0, workerLog);
  assert.match(workerLog, /stopped after \d+ orders done/);
});
