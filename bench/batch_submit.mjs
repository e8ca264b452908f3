// Durable batch submits: N jobs of 100 bytes in batches of B with W batches in
// flight, against a running server. Usage:
//   node bench/batch_submit.mjs PORT [N=100000] [B=100] [W=16]
// undici comes from the peers harness (../shared/peers, after npm install);
// set UNDICI=/path/to/node_modules/undici/index.js.
const [port, N = 100000, B = 100, W = 16] = process.argv.slice(2).map(Number);
const { Pool } = await import(process.env.UNDICI || '/tmp/peers/node_modules/undici/index.js');
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: W });
const body = JSON.stringify({ jobs: Array.from({ length: B }, () => ({ payload: 'x'.repeat(100) })) });
let sent = 0;
const t0 = performance.now();
async function loop() {
  while (sent < N) {
    sent += B;
    const r = await pool.request({ method: 'POST', path: '/v1/queues/batch/batch', headers: { 'content-type': 'application/json' }, body });
    await r.body.text();
    if (r.statusCode !== 202) throw new Error(`batch: ${r.statusCode}`);
  }
}
await Promise.all(Array.from({ length: W }, loop));
const secs = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ jobs: sent, batch: B, in_flight: W, secs: +secs.toFixed(2), jobs_per_s: Math.round(sent / secs) }));
process.exit(0);
