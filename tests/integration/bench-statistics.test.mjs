// scripts/bench's summary of side-by-side runs (tests/bench/pair_statistics.awk)
// against the same statistics worked out here: the geometric mean of the
// ratios, its 95 % interval with Student's t from the printed table, the
// median and the extremes; the verdict the bench prints on the eras; and the
// ratio of two such means with its interval (tests/bench/net_ratio.awk).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { REPO_ROOT } from '../lib/harness.mjs';

const T_QUANTILE = path.join(REPO_ROOT, 'tests/bench/t_quantile.awk');
const PAIR_STATISTICS = path.join(REPO_ROOT, 'tests/bench/pair_statistics.awk');
const NET_RATIO = path.join(REPO_ROOT, 'tests/bench/net_ratio.awk');

// Two-sided 95 % quantiles of Student's t (any statistics table).
const T_TABLE = { 7: 2.365, 9: 2.262, 18: 2.101, 19: 2.093, 39: 2.023, 78: 1.991 };

function runAwk(program, input) {
  return spawnSync('awk', ['-f', T_QUANTILE, '-f', program], { input, encoding: 'utf8' });
}

function summarize(ratios) {
  const sorted = [...ratios].sort((a, b) => a - b);
  const out = runAwk(PAIR_STATISTICS, sorted.map((r) => `${r}\n`).join(''));
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
  assert.equal(line.trim().split(/\s+/).length, 10, `ten fields: ${line}`);
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
  assert.equal(summarize([1.05]), '1.050 1.050 1.050 1.050 1.050 1.050 1 no_slower 0.048790 0.000000\n');
  assert.equal(
    summarize([1.05, 1.05, 1.05]),
    '1.050 1.050 1.050 1.050 1.050 1.050 3 no_slower 0.048790 0.000000\n',
  );
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

// The mean of the log ratios and its standard error, as net_ratio.awk reads them.
function logStatistics(ratios) {
  const n = ratios.length;
  const logs = ratios.map(Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(logs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { mean, se: sd / Math.sqrt(n), n };
}

function net(first, second) {
  const out = runAwk(NET_RATIO, summarize(first) + summarize(second));
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim().split(/\s+/).map(Number);
}

test('the summary ends with the mean of the log ratios and its standard error, unrounded', () => {
  const ratios = spreadRatios(40, 0.99, 11);
  const fields = summarize(ratios).trim().split(/\s+/);
  const want = logStatistics(ratios);
  assert.ok(Math.abs(Number(fields[8]) - want.mean) < 2e-6, `${fields[8]} vs ${want.mean}`);
  assert.ok(Math.abs(Number(fields[9]) - want.se) < 2e-6, `${fields[9]} vs ${want.se}`);
});

test('net ratio: one mean over the other, the errors in quadrature, Welch\'s degrees of freedom', () => {
  // Equal spreads and counts make Welch's degrees of freedom 2 (n - 1)
  // exactly, so the printed table gives t: 78 for 40 pairs each, 18 for 10.
  for (const [n, df] of [[40, 78], [10, 18]]) {
    const first = spreadRatios(n, 1.01, 5);
    const second = first.map((r) => Number((r * 0.98).toFixed(6)));
    const a = logStatistics(first);
    const b = logStatistics(second);
    const se = Math.sqrt(a.se ** 2 + b.se ** 2);
    const m = a.mean - b.mean;
    const want = [Math.exp(m), Math.exp(m - T_TABLE[df] * se), Math.exp(m + T_TABLE[df] * se)];
    const got = net(first, second);
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(got[i] - want[i]) <= 0.0015, `${n} pairs, field ${i + 1}: ${got[i]} vs ${want[i]}`);
    }
    // The first set over the second is about 1 / 0.98, and the interval is
    // wider than either set's own (errors add, they do not cancel).
    assert.ok(Math.abs(got[0] - 1 / 0.98) < 0.002, `net ${got[0]}`);
    const own = summarize(first).trim().split(/\s+/).map(Number);
    assert.ok(got[2] / got[1] > own[2] / own[1], `net ${got[1]} to ${got[2]}, own ${own[1]} to ${own[2]}`);
  }
});

test('net ratio: Welch\'s degrees of freedom follow the noisier set when the spreads differ', () => {
  const steady = spreadRatios(40, 1, 3).map((r) => Number((1 + (r - 1) / 10).toFixed(6)));
  const noisy = spreadRatios(5, 1, 9);
  const a = logStatistics(steady);
  const b = logStatistics(noisy);
  const se = Math.sqrt(a.se ** 2 + b.se ** 2);
  const df = se ** 4 / (a.se ** 4 / (a.n - 1) + b.se ** 4 / (b.n - 1));
  // Close to the noisy set's own n - 1 = 4, where t is 2.776; the normal
  // 1.96 or t for 43 degrees of freedom would make the interval far narrower.
  assert.ok(df > 4 && df < 5, `df ${df}`);
  const [, low, high] = net(steady, noisy);
  const half = Math.log(high / low) / 2;
  assert.ok(half / se > 2.5 && half / se < 2.8, `t ${half / se}`);
});

test('net ratio: anything but two summaries gives no line and status 1', () => {
  const one = summarize([1, 1.1, 0.9]);
  for (const input of ['', one, one + one + one]) {
    const out = runAwk(NET_RATIO, input);
    assert.equal(out.status, 1);
    assert.equal(out.stdout, '');
  }
});
