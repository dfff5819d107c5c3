// scripts/bench's summary of side-by-side runs (tests/bench/pair_statistics.awk)
// against the same statistics worked out here: the geometric mean of the
// ratios, its 95 % interval with Student's t from the printed table, the
// median and the extremes; and the verdict the bench prints on the eras.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { REPO_ROOT } from '../lib/harness.mjs';

const AWK_PROGRAM = path.join(REPO_ROOT, 'tests/bench/pair_statistics.awk');

// Two-sided 95 % quantiles of Student's t (any statistics table).
const T_TABLE = { 7: 2.365, 9: 2.262, 19: 2.093, 39: 2.023 };

function summarize(ratios) {
  const sorted = [...ratios].sort((a, b) => a - b);
  const out = spawnSync('awk', ['-f', AWK_PROGRAM], {
    input: sorted.map((r) => `${r}\n`).join(''),
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout;
}

function expected(ratios) {
  const n = ratios.length;
  const logs = ratios.map(Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (T_TABLE[n - 1] * sd) / Math.sqrt(n);
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return [Math.exp(mean), Math.exp(mean - half), Math.exp(mean + half), median, sorted[0], sorted[n - 1], n];
}

function assertClose(line, want, tolerance) {
  const got = line.trim().split(/\s+/).slice(0, 7).map(Number);
  assert.equal(line.trim().split(/\s+/).length, 8, `eight fields: ${line}`);
  for (let i = 0; i < 6; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tolerance, `field ${i + 1}: ${got[i]} vs ${want[i]} (${line.trim()})`);
  }
  assert.equal(got[6], want[6]);
}

// A spread like the bench's own: ratios around 1 with a tenth's deviation.
function spreadRatios(n, centre, seed) {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: n }, () => Number((centre * Math.exp((next() - 0.5) * 0.35)).toFixed(4)));
}

test('40 pairs: geometric mean, 95 % interval, median and extremes as worked out by hand', () => {
  const ratios = spreadRatios(40, 0.99, 7);
  assertClose(summarize(ratios), expected(ratios), 0.0015);
});

test('an interval from few pairs is still Student\'s, not the normal one', () => {
  for (const n of [8, 10, 20]) {
    const ratios = spreadRatios(n, 1.02, n);
    const line = summarize(ratios);
    assertClose(line, expected(ratios), 0.0025);
    // The normal 1.96 would give a visibly narrower interval for 8 pairs.
    const [, low, high] = line.trim().split(/\s+/).map(Number);
    const [, wantLow, wantHigh] = expected(ratios);
    assert.ok(high - low > (wantHigh - wantLow) * 0.98, `${n} pairs: interval ${low} to ${high}`);
  }
});

test('a ratio and its inverse weigh the same: the mean of 0.8 and 1.25 is 1', () => {
  const [mean, , , median] = summarize([0.8, 1.25]).trim().split(/\s+/).map(Number);
  assert.equal(mean, 1);
  assert.equal(median, 1.025);
});

test('one pair: no spread, so the interval is the ratio itself; no pairs: no line', () => {
  assert.equal(summarize([1.05]), '1.050 1.050 1.050 1.050 1.050 1.050 1 no_slower\n');
  assert.equal(summarize([1.05, 1.05, 1.05]), '1.050 1.050 1.050 1.050 1.050 1.050 3 no_slower\n');
  assert.equal(summarize([]), '');
});

test('the verdict: no slower from a mean of 1 up, slower only when the whole interval is below 1', () => {
  const verdict = (ratios) => summarize(ratios).trim().split(/\s+/)[7];
  assert.equal(verdict([1, 1, 1]), 'no_slower');
  assert.equal(verdict([0.9, 1.2, 1.05, 0.95]), 'no_slower');
  // Below 1 on average, but the spread leaves 1 inside the interval.
  assert.equal(verdict([0.85, 1.1, 0.97, 1.02, 0.93]), 'not_measurably_slower');
  // Below 1 with little spread: slower.
  assert.equal(verdict([0.96, 0.97, 0.98, 0.97, 0.975, 0.965]), 'slower');
  // Read before rounding: a mean of 0.9996 prints as 1.000 and is still below 1.
  const line = summarize([0.9996, 0.9996, 0.9996]).trim().split(/\s+/);
  assert.equal(line[0], '1.000');
  assert.equal(line[7], 'slower');
});
