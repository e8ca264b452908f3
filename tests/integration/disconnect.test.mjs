// Clients that leave while the server waits for them: a worker whose long
// poll is gone must not be leased a job (it would sit leased to nobody until
// its lease expires, while live workers wait).
//
// The short pauses below only make the interesting order likely (the dead
// poll registered before the live one); the assertions hold in any order.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Api, sleep, uniqueQueue } from './lib/http.mjs';
import { startServer } from './lib/server.mjs';

let srv;
let api;
before(async () => {
  srv = await startServer();
  api = new Api(srv);
});
after(() => srv?.close());

/** Sends a `Prefer: wait` long-poll lease on its own socket; resolves to the socket once sent. */
function rawLongPoll(queue, worker) {
  const body = JSON.stringify({ queues: [queue], worker });
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, '127.0.0.1', () => {
      sock.write(
        `POST /v1/leases HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n` +
          `Prefer: wait=30\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        () => resolve(sock),
      );
    });
    sock.once('error', reject);
  });
}

for (const how of ['closes', 'resets']) {
  test(`a job goes to a live long poll, not to one whose worker ${how} its connection`, async () => {
    const q = uniqueQueue('gone');
    const dead = await rawLongPoll(q, 'dead-worker');
    await sleep(200);
    if (how === 'closes') dead.destroy();
    else dead.resetAndDestroy();
    await sleep(100);
    const live = api.lease([q], { worker: 'live-worker', wait: 30 });
    await sleep(200);
    const job = await api.submitOk(q, { payload: { n: 1 } });
    const res = await live;
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      res.body.jobs.map((j) => j.id),
      [job.id],
    );
    assert.ok(res.ms < 5_000, `the live poll got the job at once (${Math.round(res.ms)} ms)`);
    assert.equal((await api.job(job.id)).worker, 'live-worker');
  });
}
