// The Markdown section bench/compare writes into docs/benchmarks.md: when,
// which commit, the machine, the fsync probe, the commands and the table of
// issue 7, read from the harness's result files
// (results/<peer>-<setting>-<tag>-<workload>.json, whose `median` objects
// are the ones ../shared/peers/report.mjs reads).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const { execFileSync } = require('node:child_process');

const BEGIN = '<!-- compare:begin -->';
const END = '<!-- compare:end -->';

// Durable: a job is acknowledged only once it is fsync'd. NATS 2.9's
// JetStream file store acknowledges at once and fsyncs every two minutes by
// default (nats-server issue 7564), so it is listed with the non-durable rows.
const SYSTEMS = {
  'errand/fsync': { label: '**errand** (embedded store, fsync)', durable: true },
  'errand/os': { label: 'errand (embedded store, `--durability os`: no fsync)', durable: false },
  'bullmq/always': { label: 'BullMQ (Redis AOF, appendfsync always)', durable: true },
  'beanstalkd/f0': { label: 'beanstalkd (binlog, `-f 0`: fsync every write)', durable: true },
  'rabbitmq/classic': { label: 'RabbitMQ (durable classic queue, persistent, confirms)', durable: true },
  'rabbitmq/quorum': { label: 'RabbitMQ (quorum queue, 1 node, confirms)', durable: true },
  'nats/file': { label: 'NATS (JetStream file store; fsync every 2 min)', durable: false },
  'bullmq/everysec': { label: 'BullMQ (Redis AOF, appendfsync everysec)', durable: false },
  'beanstalkd/default': { label: 'beanstalkd (binlog, fsync at most every 50 ms)', durable: false },
  'celery/everysec': { label: 'Celery (Redis broker, AOF everysec)', durable: false },
  'errand-pg/fsync': { label: '**errand** (PostgreSQL 15 store; errand + PostgreSQL CPU)', durable: true },
  'pgboss/default': { label: 'pg-boss 10 (PostgreSQL 15; PostgreSQL CPU)', durable: true },
};
const ORDER = Object.keys(SYSTEMS);
// A median over runs during which other processes used more than this many
// cores (of 2) is flagged, as report.mjs flags it.
const NOISY_CORES = 0.5;

const int = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const ms = (x) => (x == null ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const cpu = (x) => (x == null ? '–' : x.toFixed(2));
const noisy = (m) => (m && m.foreign_cores_max > NOISY_CORES ? ' ⚠' : '');

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function capture(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

// The Debian package of each peer's server.
const PACKAGES = {
  bullmq: 'redis-server',
  celery: 'redis-server',
  beanstalkd: 'beanstalkd',
  nats: 'nats-server',
  rabbitmq: 'rabbitmq-server',
};

// `peers`: the peers measured, whose server versions are listed.
function machine(peers) {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown CPU';
  const packages = new Set(peers.map((p) => PACKAGES[p]).filter(Boolean));
  const versions = [...packages]
    .map((p) => [p, capture('dpkg-query', ['-W', '-f=${Version}', p])])
    .filter(([, v]) => v)
    .map(([p, v]) => `${p} ${v}`);
  return {
    text:
      `${capture('nproc', []) || os.cpus().length} cores (nproc) of ${model}, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB memory, Linux ${os.release()}, Node.js ${process.version}`,
    versions,
  };
}

function commit(repo) {
  const sha = capture('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']) || 'unknown';
  const dirty = capture('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no']);
  return dirty ? `${sha} plus uncommitted changes` : sha;
}

// Every measured run's fsync probe (100 fsyncs of a 100-byte append just
// before the run) across all result files.
function fsyncProbes(results) {
  const p50 = [];
  const p99 = [];
  const add = (r) => {
    if (r && !r.error && r.noise && Number.isFinite(r.noise.fsync_p50_ms)) {
      p50.push(r.noise.fsync_p50_ms);
      p99.push(r.noise.fsync_p99_ms);
    }
  };
  for (const { files } of results) {
    for (const f of files) {
      for (const run of f.runs) {
        if (f.workload === 'w3') Object.values(run).forEach(add);
        else add(run);
      }
    }
  }
  if (!p50.length) return 'no run recorded a probe';
  const range = `${Math.min(...p50).toFixed(2)}–${Math.max(...p50).toFixed(2)}`;
  return `median p50 ${ms(median(p50))} ms (p50 range ${range} ms over ${p50.length} runs), median p99 ${ms(median(p99))} ms`;
}

function tableRow({ peer, setting, files }) {
  const by = Object.fromEntries(files.map((f) => [f.workload, f.median]));
  const { label } = SYSTEMS[`${peer}/${setting}`] ?? { label: `${peer} (${setting})` };
  const tput = (m) => (m ? `${int(m.jobs_per_s)} (${cpu(m.server_cpu_per_10k)})${noisy(m)}` : '–');
  const c1 = by.w3?.c1;
  const c32 = by.w3?.c32;
  return (
    `| ${label} | ${tput(by.w1)} | ${tput(by.w2)} | ` +
    `${c1 ? `${ms(c1.p50_ms)} / ${ms(c1.p99_ms)}${noisy(c1)}` : '–'} | ` +
    `${c32 ? `${int(c32.rt_per_s)}${noisy(c32)}` : '–'} |`
  );
}

function table(results) {
  const rank = (r) => {
    const i = ORDER.indexOf(`${r.peer}/${r.setting}`);
    return i < 0 ? ORDER.length : i;
  };
  const durable = (r) => SYSTEMS[`${r.peer}/${r.setting}`]?.durable ?? false;
  const sorted = [...results].sort((a, b) => rank(a) - rank(b));
  const errand = sorted.filter((r) => r.peer === 'errand');
  const peers = sorted.filter((r) => r.peer !== 'errand');
  const lines = [
    '| system | W1 enqueue jobs/s (cpu/10k) | W2 drain jobs/s (cpu/10k) | W3 C=1 p50 / p99 ms | W3 C=32 round trips/s |',
    '|---|---:|---:|---:|---:|',
    ...errand.map(tableRow),
    ...peers.filter(durable).map(tableRow),
  ];
  const loose = peers.filter((r) => !durable(r));
  if (loose.length) {
    lines.push('| *not durable: acknowledged before fsync* | | | | |', ...loose.map(tableRow));
  }
  return lines.join('\n');
}

// `h`: the harness options (runs, duration, jobs, warmup, quick).
function renderSection({ results, commands, notes, h, started, scratch, repo }) {
  const m = machine(results.map((r) => r.peer));
  const out = [
    BEGIN,
    `Generated by \`bench/compare\` on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `commit ${commit(repo)}.` +
      (h.quick ? ' **Quick run** (fewer jobs, short windows): a smoke test, not figures to compare.' : ''),
    '',
    `- Machine: ${m.text}.`,
    m.versions.length ? `- Peers: ${m.versions.join(', ')} (Debian packages).` : null,
    `- fsync probe before each measured run: ${fsyncProbes(results)}.`,
    `- Each workload ${h.runs} run(s), a fresh server each, medians; ${int(h.jobs)} jobs in W1 and W2; ` +
      `W3 measured for ${h.duration} s after a ${h.warmup} s warm-up.`,
    ...notes.map((n) => `- ${n}.`),
    '',
    `Commands (run by \`bench/compare\` in a copy of the harness, ${scratch}):`,
    '',
    '```sh',
    ...commands,
    '```',
    '',
    table(results),
    '',
    `cpu/10k: the server's CPU seconds per 10 000 jobs. ⚠: other processes used more than ` +
      `${NOISY_CORES} cores during a run behind that median.`,
    END,
  ];
  return out.filter((l) => l !== null).join('\n');
}

// `doc` with the text between the markers (markers included) replaced by
// `section`; the rest of the file is kept byte for byte.
// `section` (which carries the compare markers) in place of what is between
// the `name` markers: `compare` for the main table, `postgres` for the
// PostgreSQL store's.
function replaceBetweenMarkers(doc, section, name = 'compare') {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md lacks the ${begin} / ${end} markers`);
  return doc.slice(0, a) + section.replace(BEGIN, begin).replace(END, end) + doc.slice(b + end.length);
}

module.exports = { renderSection, replaceBetweenMarkers };
