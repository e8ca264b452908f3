// pg-boss 10 on PostgreSQL 15 (bench/peers-postgres, copied into the harness
// by errand's bench/compare). pg-boss is a library: its "server" is
// PostgreSQL, and its work happens in these client processes.
// W1: boss.send(), `window` in flight. W2: four fetch loops (up to 64 jobs a
// fetch) completing each batch at once. W3: a worker fetch loop completing
// each job with its result; callers send() and then poll getJobById() every
// 2 ms until it completed (pg-boss has no wait for a job's result).
import PgBoss from 'pg-boss';
import { POSTGRES_URL } from '../lib/servers.mjs';
import { PAYLOAD_STR, RESULT_STR, emit, now, runWindow, closedLoop, clientCpu, sleep } from '../lib/common.mjs';

const DATA = { p: PAYLOAD_STR };

async function startBoss(max = 16) {
  const boss = new PgBoss({ connectionString: POSTGRES_URL, max, supervise: false, schedule: false });
  boss.on('error', (e) => console.error('pg-boss error', e));
  await boss.start();
  return boss;
}

async function ensureQueue(boss, queue) {
  if (!(await boss.getQueue(queue))) await boss.createQueue(queue);
}

export async function produce({ queue, n, window, preload }) {
  const boss = await startBoss(Math.max(16, typeof window === 'number' ? window : 16));
  await ensureQueue(boss, queue);
  const cpu0 = process.cpuUsage();
  emit({ ev: 'start' });
  const t0 = now();
  let mode;
  if (preload) {
    mode = 'insert() of 1000';
    for (let i = 0; i < n; i += 1000) {
      await boss.insert(Array.from({ length: Math.min(1000, n - i) }, () => ({ name: queue, data: DATA })));
    }
  } else {
    mode = `send(), ${window} in flight`;
    await runWindow(n, window, () => boss.send(queue, DATA));
  }
  const secs = (now() - t0) / 1000;
  const cpu = clientCpu(cpu0);
  const size = await boss.getQueueSize(queue);
  await boss.stop({ graceful: false });
  if (size !== n) throw new Error(`expected ${n} queued, found ${size}`);
  return { n, secs, jobs_per_s: n / secs, mode, client_cpu_s: cpu };
}

export async function drain({ queue, n }) {
  const boss = await startBoss();
  await ensureQueue(boss, queue);
  let count = 0;
  let stop = false;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const cpu0 = process.cpuUsage();
  emit({ ev: 'start' });
  const t0 = now();
  const loop = async () => {
    while (!stop) {
      const jobs = await boss.fetch(queue, { batchSize: 64 });
      if (!jobs || jobs.length === 0) {
        await sleep(5);
        continue;
      }
      await boss.complete(queue, jobs.map((j) => j.id));
      count += jobs.length;
      if (count >= n) resolveDone();
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  await Promise.race([done, Promise.all(loops)]);
  const secs = (now() - t0) / 1000;
  const cpu = clientCpu(cpu0);
  stop = true;
  await Promise.allSettled(loops);
  const left = await boss.getQueueSize(queue);
  await boss.stop({ graceful: false });
  return { n, secs, jobs_per_s: n / secs, left: { queued: left }, client_cpu_s: cpu, mode: '4 fetch loops (up to 64 a fetch), batch complete' };
}

export async function rtWorker({ queue }) {
  const boss = await startBoss();
  await ensureQueue(boss, queue);
  let stop = false;
  process.once('SIGTERM', () => {
    stop = true;
  });
  emit({ ev: 'ready' });
  const loop = async () => {
    while (!stop) {
      const jobs = await boss.fetch(queue, { batchSize: 16 }).catch(() => []);
      if (!jobs || jobs.length === 0) {
        await sleep(2);
        continue;
      }
      await Promise.all(jobs.map((j) => boss.complete(queue, j.id, { r: RESULT_STR })));
    }
  };
  await Promise.all(Array.from({ length: 4 }, loop));
  await boss.stop({ graceful: false });
}

export async function rtClient({ queue, c, duration, warmup }) {
  const boss = await startBoss(Math.max(16, c + 4));
  await ensureQueue(boss, queue);
  const res = await closedLoop(c, duration, warmup, async () => {
    const id = await boss.send(queue, DATA);
    for (;;) {
      const job = await boss.getJobById(queue, id);
      if (job && job.state === 'completed') {
        if (job.output?.r !== RESULT_STR) throw new Error(`round trip: output ${JSON.stringify(job.output)}`);
        return;
      }
      if (job && job.state === 'failed') throw new Error('round trip: the job failed');
      await sleep(2);
    }
  });
  await boss.stop({ graceful: false });
  return { ...res, mode: 'send(), then getJobById() every 2 ms until completed' };
}
