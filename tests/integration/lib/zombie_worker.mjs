// A worker that leases one job and then goes quiet: the "zombie" of
// zombie.test.mjs. Run as a child process:
//
//   node zombie_worker.mjs URL QUEUE LEASE_MS
//
// It leases one job from QUEUE (long poll) and prints one JSON line,
// {"leased": <the lease entry>}. Then it waits for a line on stdin. The test
// stops it with SIGSTOP meanwhile (a GC pause, a frozen VM), lets its lease
// run out, writes the line and sends SIGCONT. It then does what a worker
// that does not know it was frozen does: ack, fail and heartbeat with its
// old token, printing {"op", "status", "body"} for each answer, and exits 0.

import readline from 'node:readline';

const [url, queue, leaseMs] = process.argv.slice(2);

async function call(path, json, headers = {}) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(json),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

function print(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const leased = await call('/v1/leases',
                          { queues: [queue], worker: `zombie-${process.pid}`, max: 1, lease_ms: Number(leaseMs) },
                          { prefer: 'wait=30' });
const job = leased.body?.jobs?.[0];
if (leased.status !== 200 || !job) {
  print({ error: `lease answered ${leased.status}: ${JSON.stringify(leased.body)}` });
  process.exit(1);
}
print({ leased: job });

const input = readline.createInterface({ input: process.stdin });
await new Promise((resolve) => input.once('line', resolve));
input.close();

const zombie = { zombie: process.pid, attempt: job.attempt };
const ack = await call(`/v1/jobs/${job.id}/ack`, { lease: job.lease, result: zombie });
print({ op: 'ack', ...ack });
const fail = await call(`/v1/jobs/${job.id}/fail`, {
  lease: job.lease, error: { message: 'zombie failure', type: 'Zombie', detail: '' }, retry: true,
});
print({ op: 'fail', ...fail });
const heartbeat = await call(`/v1/jobs/${job.id}/heartbeat`, {
  lease: job.lease, lease_ms: 600_000, progress: { percent: 99, message: 'zombie', data: zombie },
});
print({ op: 'heartbeat', ...heartbeat });
