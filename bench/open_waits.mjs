// Usage: node bench/open_waits.mjs PORT PID [N]
// W4: N concurrent open waits (GET with Prefer: wait) on one queued job; reports server RSS
// growth and whether the server burns CPU while they wait.
import net from 'node:net';
import fs from 'node:fs';
const [port, pid, N = 10000] = process.argv.slice(2).map(Number);
const rss = () => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
const cpu = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
const r = await fetch(`http://127.0.0.1:${port}/v1/queues/w4/jobs`, { method: 'POST', body: '{"payload":1}' });
const id = (await r.json()).id;
const r0 = rss();
const socks = [];
let opened = 0;
await new Promise((resolve) => {
  const open = () => {
    if (socks.length >= N) return;
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET /v1/jobs/${id} HTTP/1.1\r\nHost: x\r\nPrefer: wait=60\r\n\r\n`);
      if (++opened === N) resolve();
      else open();
    });
    s.on('error', (e) => { console.error('socket error', e.message); process.exit(1); });
    socks.push(s);
  };
  for (let i = 0; i < 64; i++) open();
});
await new Promise((res) => setTimeout(res, 2000)); // let the server take every request in
const r1 = rss();
const c0 = cpu();
await new Promise((res) => setTimeout(res, 5000));
const c1 = cpu();
console.log(JSON.stringify({ waits: N, rss_before_mb: +(r0 / 1e6).toFixed(1), rss_with_waits_mb: +(r1 / 1e6).toFixed(1), extra_mb: +((r1 - r0) / 1e6).toFixed(1), bytes_per_wait: Math.round((r1 - r0) / N), idle_cpu_s_over_5s: +(c1 - c0).toFixed(2) }));
for (const s of socks) s.destroy();
process.exit(0);
