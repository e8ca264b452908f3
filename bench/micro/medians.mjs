#!/usr/bin/env node
// Side by side medians of errand_micro_bench runs, for before/after
// comparisons (Google Benchmark's compare.py is not installed here).
//   node bench/micro/medians.mjs before.json [after.json]
// Each file: errand_micro_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true --benchmark_out=FILE --benchmark_out_format=json
// Prints the median CPU time of each case (CPU rather than wall time: the box
// is shared) and, given two files, after/before.
import fs from 'node:fs';

const files = process.argv.slice(2);
if (files.length < 1 || files.length > 2) {
  console.error('usage: node bench/micro/medians.mjs before.json [after.json]');
  process.exit(2);
}

// name -> median CPU time in ns
function medians(file) {
  const out = new Map();
  for (const b of JSON.parse(fs.readFileSync(file, 'utf8')).benchmarks) {
    if (b.aggregate_name !== 'median') continue;
    const ns = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[b.time_unit] * b.cpu_time;
    out.set(b.run_name, ns);
  }
  return out;
}

const [a, b] = files.map(medians);
const fmt = (ns) => (ns == null ? '–' : ns < 100 ? ns.toFixed(1) : Math.round(ns).toLocaleString('en-US'));
console.log(b ? '| case | before ns | after ns | after/before |' : '| case | CPU ns |');
console.log(b ? '|---|---:|---:|---:|' : '|---|---:|');
for (const [name, ns] of a) {
  if (!b) {
    console.log(`| ${name} | ${fmt(ns)} |`);
    continue;
  }
  const after = b.get(name);
  console.log(`| ${name} | ${fmt(ns)} | ${fmt(after)} | ${after == null ? '–' : (after / ns).toFixed(2)} |`);
}
for (const [name, ns] of b ?? []) {
  if (!a.has(name)) console.log(`| ${name} | – | ${fmt(ns)} | – |`);
}
