// Server memory per queued job: RSS growth over N queued 100-byte jobs
// (submitted in batches of 1000). Usage: node bench/queued_memory.mjs PORT PID [N]
const [port, pid, argN] = process.argv.slice(2);
const U = `http://127.0.0.1:${port}`;
import fs from 'node:fs';
const rss=()=>Number(fs.readFileSync(`/proc/${pid}/status`,'utf8').match(/VmRSS:\s+(\d+)/)[1])*1024;
const post=(p,b)=>fetch(U+p,{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify(b)}).then(r=>r.json());
await post('/v1/queues/m/batch',{jobs:[{payload:'x'.repeat(100)}]});
const r0=rss();
const N=Number(argN || 200000);
for(let i=0;i<N/1000;i++){ await post('/v1/queues/m/batch',{jobs:Array.from({length:1000},()=>({payload:'x'.repeat(100)}))}); }
const r1=rss();
console.log('bytes per queued job', ((r1-r0)/N).toFixed(1), 'rss MB', (r1/1e6).toFixed(1));
