// Runs the official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16,
// installed in tests/interop/node_modules) against an MCP server URL and parses its report.
//
// Node 20 workaround (PEERS.md, "Conformance suite"): 0.1.14 and newer import Node 22's
// fs.globSync by name, so on Node 20 the CLI dies at load time with "The requested module
// 'fs' does not provide an export named 'globSync'". Instead of pinning 0.1.13 (which
// lacks scenarios the 2025-11-25 set requires) or patching node_modules, every CLI run
// here is `node --import lib/node20-globsync.mjs .../dist/index.js ...`: that loader hook
// supplies fs.globSync only when Node lacks it, so the same code runs unchanged on Node 22.
// (The suite calls globSync only in `tier-check`; server runs just need the import to link.)
//
// Facts the parsing relies on, read from the suite's dist/index.js and seen in real runs:
// - `server --url U` (no --scenario) runs a suite, default "active" (30 scenarios in 0.1.16;
//   "pending" has json-schema-2020-12 and server-sse-polling), prints
//   "Running <suite> suite (N scenarios) against U", one "=== Running scenario: S ===" per
//   scenario, then "=== SUMMARY ===", one "✓|✗ S: P passed, F failed" line per scenario and
//   "Total: P passed, F failed". A scenario passes when none of its checks is a FAILURE
//   (WARNING and INFO checks are not counted). Exit status 1 if any check failed.
// - `server --url U --scenario S` runs one scenario and prints instead
//   "Passed: P/D, F failed, W warnings" (D = P + F).
// - `list --server` prints every server scenario, pending ones included, as
//   "  - S [spec versions]"; it cannot tell active from pending. The suite's membership is
//   only visible when it runs, so listScenarios({ suite }) does a dry run against a closed
//   port (http://127.0.0.1:0), where every scenario fails at once, and reads the names.
// - Server mode sends no Authorization header and has no option for one (CF-2): the
//   server under test must run without auth (mcpauth serve --no-auth on loopback).
// - dns-rebinding-protection needs the URL's host to be 127.0.0.1, localhost or [::1].

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServe } from '../../lib/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CONFORMANCE_CLI = path.resolve(HERE, '../node_modules/@modelcontextprotocol/conformance/dist/index.js');
export const GLOBSYNC_LOADER = path.join(HERE, 'node20-globsync.mjs');
/** The stdio MCP server with every fixture the suite's server scenarios call. */
export const CONFORMANCE_FIXTURE = path.resolve(HERE, '../fixtures/conformance-server.mjs');

// A full active run against the SDK server takes about 5 s here; leave room for slow,
// shared machines and for servers that time out.
const DEFAULT_TIMEOUT_MS = 300000;

/**
 * Run the suite's CLI with `args` under the Node 20 loader. Never rejects on a non-zero
 * exit; rejects only if node cannot be started. On timeout the CLI is killed (SIGKILL)
 * and exitCode is null.
 * @returns {Promise<{exitCode: number|null, stdout: string, stderr: string, timedOut: boolean}>}
 */
export function runConformanceCli(args, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const argv = ['--import', pathToFileURL(GLOBSYNC_LOADER).href, CONFORMANCE_CLI, ...args];
  return new Promise((resolve, reject) => {
    // NO_COLOR/FORCE_COLOR=0: plain text to parse (the suite colours some lines).
    const child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run the conformance suite: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout, stderr, timedOut });
    });
  });
}

// Escape codes, in case a terminal-minded version colours the lines we parse.
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** The SUMMARY block of a suite run → [{name, passed, failed}] and the Total line. */
function parseSuiteReport(stdout) {
  const scenarios = [];
  for (const m of stdout.matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed/gm)) {
    scenarios.push({ name: m[1], passed: Number(m[2]), failed: Number(m[3]) });
  }
  const t = stdout.match(/^Total: (\d+) passed, (\d+) failed/m);
  return { scenarios, total: t ? { passed: Number(t[1]), failed: Number(t[2]) } : null };
}

/** A one-scenario run's "Passed: P/D, F failed, W warnings" line. */
function parseScenarioReport(stdout, name) {
  const m = stdout.match(/^Passed: (\d+)\/\d+, (\d+) failed/m);
  if (!m) return { scenarios: [], total: null };
  const counts = { passed: Number(m[1]), failed: Number(m[2]) };
  return { scenarios: [{ name, ...counts }], total: counts };
}

/**
 * The per-scenario checks.json files the suite writes with -o DIR (into
 * DIR/server-<scenario>-<ISO time>/) → Map name → {warnings, failures: [{id, errorMessage}]}.
 * The printed report has only counts; these say which check failed and why.
 */
function readCheckFiles(dir) {
  const details = new Map();
  for (const entry of fs.readdirSync(dir)) {
    const m = entry.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/);
    const file = path.join(dir, entry, 'checks.json');
    if (!m || !fs.existsSync(file)) continue;
    const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    details.set(m[1], {
      warnings: checks.filter((c) => c.status === 'WARNING').length,
      failures: checks.filter((c) => c.status === 'FAILURE').map((c) => ({ id: c.id, errorMessage: c.errorMessage })),
    });
  }
  return details;
}

/**
 * Run the suite against `url`: the whole `suite` ('active' by default, or 'all',
 * 'pending', 'core'), or only `scenario`. The suite's per-scenario checks.json files go
 * to `outputDir` if given (an empty directory: one run per directory), else to a
 * temporary directory removed afterwards; they add `warnings` and `failures` (which
 * checks failed, with the suite's message) to each scenario. total is null when the
 * report has no totals (the CLI crashed or timed out): look at stdout/stderr then.
 * @returns {Promise<{exitCode: number|null, stdout: string, stderr: string, timedOut: boolean,
 *   scenarios: {name: string, passed: number, failed: number, warnings?: number,
 *     failures?: {id: string, errorMessage?: string}[]}[],
 *   total: {passed: number, failed: number}|null}>}
 */
export async function runConformance({ url, scenario, suite, outputDir, timeoutMs } = {}) {
  if (!url) throw new Error('runConformance: url is required');
  const checksDir = outputDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-conformance-'));
  try {
    const args = ['server', '--url', url, '--output-dir', checksDir];
    if (scenario) args.push('--scenario', scenario);
    else if (suite) args.push('--suite', suite);
    const result = await runConformanceCli(args, { timeoutMs });
    const stdout = stripAnsi(result.stdout);
    const report = scenario ? parseScenarioReport(stdout, scenario) : parseSuiteReport(stdout);
    const details = readCheckFiles(checksDir);
    const scenarios = report.scenarios.map((s) => ({ ...s, ...details.get(s.name) }));
    return { ...result, stdout, scenarios, total: report.total };
  } finally {
    if (!outputDir) fs.rmSync(checksDir, { recursive: true, force: true });
  }
}

/**
 * The server scenarios of `suite`: 'all' (from `list --server`), or 'active' / 'pending'
 * (from a dry run, see the header). Rejects if the CLI's output does not parse.
 * @returns {Promise<string[]>}
 */
export async function listScenarios({ suite = 'active' } = {}) {
  if (suite === 'all') {
    const { stdout, stderr } = await runConformanceCli(['list', '--server'], { timeoutMs: 60000 });
    const names = [...stripAnsi(stdout).matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1]);
    if (names.length === 0) throw new Error(`conformance list --server: no scenarios in\n${stdout}${stderr}`);
    return names;
  }
  const { stdout, stderr } = await runConformanceCli(
    ['server', '--suite', suite, '--url', 'http://127.0.0.1:0/mcp'], { timeoutMs: 60000 });
  const plain = stripAnsi(stdout);
  const count = plain.match(/^Running \S+ suite \((\d+) scenarios\)/m);
  const names = [...plain.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
  if (!count || names.length !== Number(count[1])) {
    throw new Error(`conformance server --suite ${suite}: cannot read its scenarios from\n${stdout}${stderr}`);
  }
  return names;
}

/**
 * One node:test subtest per scenario in `expected` (names), each asserting that the
 * scenario ran and had no failed check, so a failure names its scenario; then one that
 * the run covered exactly `expected` and its totals agree. Call from inside a test:
 *   await assertScenariosPassed(t, await runConformance({ url }), await listScenarios());
 */
export async function assertScenariosPassed(t, result, expected) {
  const byName = new Map(result.scenarios.map((s) => [s.name, s]));
  const why = () => `\n--- conformance stdout (tail)\n${result.stdout.slice(-6000)}\n--- stderr\n${result.stderr.slice(-2000)}`;
  for (const name of expected) {
    await t.test(name, () => {
      const s = byName.get(name);
      assert.ok(s, `scenario ${name} is missing from the report${why()}`);
      const failures = (s.failures ?? []).map((f) => `\n  ${f.id}: ${f.errorMessage ?? ''}`).join('');
      assert.equal(s.failed, 0, `${name}: ${s.failed} check(s) failed${failures}${why()}`);
      assert.ok(s.passed > 0, `${name}: no check passed${why()}`);
    });
  }
  await t.test('the report covers exactly these scenarios', () => {
    assert.equal(result.timedOut, false, `the suite timed out${why()}`);
    assert.deepEqual(result.scenarios.map((s) => s.name).sort(), [...expected].sort(), why());
    assert.ok(result.total, `no Total line${why()}`);
    assert.equal(result.total.failed, 0, why());
    assert.equal(result.total.passed, result.scenarios.reduce((n, s) => n + s.passed, 0));
    assert.equal(result.exitCode, 0, why());
  });
}

/**
 * Start `mcpauth serve --no-auth ...serveArgs -- node <conformance fixture>` (through
 * the harness's startServe: a free port, --listen 127.0.0.1:PORT, --resource
 * http://127.0.0.1:PORT/mcp) for the conformance run through the stdio bridge. The caller
 * stops it (await serve.stop()). For the lead's acceptance test, e.g.:
 *
 *   test('MCP conformance through mcpauth serve -- stdio server', { timeout: 600000 }, async (t) => {
 *     const expected = await listScenarios();
 *     const serve = await startBridgedConformanceFixture();
 *     try {
 *       await assertScenariosPassed(t, await runConformance({ url: serve.resource }), expected);
 *     } finally {
 *       await serve.stop();
 *     }
 *   });
 */
export function startBridgedConformanceFixture(serveArgs = [], options = {}) {
  return startServe(['--no-auth', ...serveArgs, '--', process.execPath, CONFORMANCE_FIXTURE], options);
}
