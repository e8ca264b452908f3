// The crash loop (docs/reliability.md "Crash loop"): producers and workers
// run while the server is killed with SIGKILL at random moments (some in
// bursts of submits, some right after an ack left) and started again on the
// same data dir and port; then everything drains and lib/crash_loop.mjs
// checks the ledger of answers against the SPEC's guarantees. Nothing
// acknowledged may be lost, no acked job delivered again, no job delivered
// twice while its lease was open.
//
// ERRAND_CRASH_LOOP_KILLS (default 12), ERRAND_CRASH_LOOP_SEED (default:
// random, printed), ERRAND_CRASH_LOOP_GAP_MS ("300-1500": the pause before
// each kill) make long runs:
//   ERRAND_CRASH_LOOP_KILLS=200 ERRAND_BIN=$PWD/build/debug/src/server/errand \
//     node --test tests/integration/crash-loop.test.mjs

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCrashLoop } from './lib/crash_loop.mjs';

const kills = Number(process.env.ERRAND_CRASH_LOOP_KILLS ?? 12);
const seed = Number(process.env.ERRAND_CRASH_LOOP_SEED ?? Math.floor(Math.random() * 1_000_000));
const gapMs = (process.env.ERRAND_CRASH_LOOP_GAP_MS ?? '300-1500').split('-').map(Number);

test(`kill -9 at ${kills} random moments loses nothing acknowledged (seed ${seed})`, async (t) => {
  assert.ok(Number.isInteger(kills) && kills > 0, 'ERRAND_CRASH_LOOP_KILLS is a positive integer');
  assert.ok(gapMs.length === 2 && gapMs[0] <= gapMs[1], 'ERRAND_CRASH_LOOP_GAP_MS is MIN-MAX');
  t.diagnostic(`crash loop seed ${seed} (ERRAND_CRASH_LOOP_SEED=${seed} repeats the schedule)`);
  const { figures, violations } = await runCrashLoop({
    kills, seed, gapMs, log: process.env.ERRAND_TEST_VERBOSE ? (line) => t.diagnostic(line) : undefined,
  });
  t.diagnostic(`crash loop figures: ${JSON.stringify(figures)}`);
  assert.deepEqual(violations.slice(0, 50), [], `${violations.length} violations (seed ${seed})`);
  // The run exercised what it claims to.
  assert.equal(figures.kills, kills);
  assert.ok(figures.jobs > 0 && figures.flows > 0 && figures.leases > 0, JSON.stringify(figures));
});
