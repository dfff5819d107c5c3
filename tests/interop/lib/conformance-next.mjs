// Runs the MCP conformance suite of the 2026-07-28 era, @modelcontextprotocol/conformance
// 0.2.0-alpha.12 (installed beside 0.1.16 under the npm alias `conformance-next`), against a
// server URL with `--requirements REVISION`, and parses its report. lib/conformance.mjs is
// the 0.1.16 runner; this one differs where the suite does:
//
// - `server --url U --requirements R` runs exactly the scenarios revision R requires, frozen
//   in the package's requirements/R.yaml (`server:` list), plus its `not_scored` server
//   scenarios (extensions such as tasks-*, pending ones), which run and are reported but do
//   not count. The report: one "=== Running scenario: S ===" per scenario, "=== SUMMARY ===",
//   one "✓|✗ S: P passed, F failed" line per scenario (scored and not scored alike), "Total:
//   P passed, F failed", then "Not scored for R: N scenario(s) run, K failing. ..." with one
//   "  ✓|✗ S (reason)" line each. P and F count checks. The exit status is 0 when every
//   scored scenario passed, whatever the not-scored ones did.
// - Node 20: like 0.1.16 it imports fs.globSync, so it runs under the same loader hook
//   (lib/node20-globsync.mjs; PEERS.md).
// - Scenarios at 2026-07-28 speak the stateless wire (per-request _meta, MCP-Protocol-Version,
//   Mcp-Method/Mcp-Name headers), at 2025-11-25 the initialize handshake; the same URL can
//   serve both when the server is dual-era.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServe } from '../../lib/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CONFORMANCE_NEXT_DIR = path.resolve(HERE, '../node_modules/conformance-next');
export const CONFORMANCE_NEXT_CLI = path.join(CONFORMANCE_NEXT_DIR, 'dist/index.js');
export const GLOBSYNC_LOADER = path.join(HERE, 'node20-globsync.mjs');
/** The SDK v2 fixture for the 2026-07-28 scenarios (and the 2025-11-25 ones: dual era). */
export const MODERN_FIXTURE = path.resolve(HERE, '../fixtures/modern-server.mjs');

const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

/**
 * The server side of the suite's frozen requirements for `revision` (requirements/R.yaml):
 * { scored: [names], notScored: [{ name, reason }] }. The file is small and regular: the
 * top-level keys `server:`, `client:` and `not_scored:`; list items "  - name" under
 * `server:`; "  - scenario: S" / "    leg: server|client" / "    reason: R" entries under
 * `not_scored:`.
 */
export function readRequirements(revision) {
  const file = path.join(CONFORMANCE_NEXT_DIR, 'requirements', `${revision}.yaml`);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const scored = [];
  const notScored = [];
  let section = null;
  let entry = null;
  const flush = () => {
    if (entry?.leg === 'server') notScored.push({ name: entry.scenario, reason: entry.reason });
    entry = null;
  };
  for (const line of lines) {
    if (/^\s*(#|$)/.test(line)) continue;
    const top = line.match(/^([a-z_]+):\s*$/);
    if (top) { flush(); section = top[1]; continue; }
    if (section === 'server') {
      const m = line.match(/^ {2}- (\S+)\s*$/);
      if (m) scored.push(m[1]);
    } else if (section === 'not_scored') {
      const start = line.match(/^ {2}- scenario: (\S+)/);
      if (start) { flush(); entry = { scenario: start[1] }; continue; }
      const field = line.match(/^ {4}(leg|reason): (\S+)/);
      if (field && entry) entry[field[1]] = field[2];
    }
  }
  flush();
  if (scored.length === 0) throw new Error(`${file}: no server scenarios found`);
  return { scored, notScored };
}

/** Run the 0.2.0-alpha.12 CLI under the Node 20 loader; never rejects on a non-zero exit. */
export function runConformanceNextCli(args, { timeoutMs = 300000 } = {}) {
  const argv = ['--import', pathToFileURL(GLOBSYNC_LOADER).href, CONFORMANCE_NEXT_CLI, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run conformance-next: ${err.message}`)); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ exitCode: code, stdout: stripAnsi(stdout), stderr, timedOut }); });
  });
}

/** The per-scenario checks.json files written with -o DIR → Map name → {warnings, failures}. */
function readCheckFiles(dir) {
  const details = new Map();
  for (const entry of fs.readdirSync(dir)) {
    const m = entry.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/);
    const file = path.join(dir, entry, 'checks.json');
    if (!m || !fs.existsSync(file)) continue;
    const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
    details.set(m[1], {
      warnings: checks.filter((c) => c.status === 'WARNING').map((c) => ({ id: c.id, errorMessage: c.errorMessage })),
      failures: checks.filter((c) => c.status === 'FAILURE').map((c) => ({ id: c.id, errorMessage: c.errorMessage })),
    });
  }
  return details;
}

/**
 * `conformance server --url URL --requirements REVISION` (or `--scenario S`), parsed:
 * scenarios [{ name, passed, failed, scored, reason?, warnings, failures }], total, exitCode.
 */
export async function runRequirements({ url, revision, scenario, timeoutMs } = {}) {
  if (!url || !revision) throw new Error('runRequirements: url and revision are required');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-conformance-next-'));
  try {
    const args = ['server', '--url', url, '--output-dir', dir];
    if (scenario) args.push('--scenario', scenario, '--spec-version', revision);
    else args.push('--requirements', revision);
    const result = await runConformanceNextCli(args, { timeoutMs });
    const notScored = new Map();
    const block = result.stdout.split(/^Not scored for /m)[1] ?? '';
    for (const m of block.matchAll(/^ {2}[✓✗] (\S+) \(([^)]*)\)/gm)) notScored.set(m[1], m[2]);
    const details = readCheckFiles(dir);
    const scenarios = [];
    if (scenario) {
      const m = result.stdout.match(/^Passed: (\d+)\/\d+, (\d+) failed/m);
      if (m) scenarios.push({ name: scenario, passed: Number(m[1]), failed: Number(m[2]), scored: true });
    } else {
      const summary = result.stdout.split(/^=== SUMMARY ===$/m)[1] ?? '';
      for (const m of summary.matchAll(/^[✓✗] (\S+): (\d+) passed, (\d+) failed/gm)) {
        scenarios.push({
          name: m[1], passed: Number(m[2]), failed: Number(m[3]),
          scored: !notScored.has(m[1]), ...(notScored.has(m[1]) ? { reason: notScored.get(m[1]) } : {}),
        });
      }
    }
    for (const s of scenarios) Object.assign(s, details.get(s.name) ?? { warnings: [], failures: [] });
    const t = result.stdout.match(/^Total: (\d+) passed, (\d+) failed/m);
    return { ...result, scenarios, total: t ? { passed: Number(t[1]), failed: Number(t[2]) } : null };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Why a scenario failed, for assertion messages. */
export function describeFailures(s) {
  return (s.failures ?? []).map((f) => `\n  ${f.id}: ${f.errorMessage ?? ''}`).join('');
}

/**
 * One node:test subtest per name in `expected`, each asserting the scenario ran with no failed
 * check (and at least one passed: a scenario whose checks were all skipped proves nothing,
 * except where `allowEmpty` names it).
 */
export async function assertScenariosPass(t, result, expected, { allowEmpty = [] } = {}) {
  const byName = new Map(result.scenarios.map((s) => [s.name, s]));
  const tail = () => `\n--- conformance stdout (tail)\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-1500)}`;
  for (const name of expected) {
    await t.test(name, () => {
      const s = byName.get(name);
      assert.ok(s, `scenario ${name} is missing from the report${tail()}`);
      assert.equal(s.failed, 0, `${name}: ${s.failed} check(s) failed${describeFailures(s)}`);
      if (!allowEmpty.includes(name)) assert.ok(s.passed > 0, `${name}: no check passed${tail()}`);
    });
  }
}

/**
 * `node fixtures/modern-server.mjs http --port 0` as a child process (Streamable HTTP on
 * 127.0.0.1, both eras). Resolves once it printed its URL:
 * { url, pid, stop(), stderr() }; stop() sends SIGTERM to that PID and waits for the exit.
 */
export async function startModernFixture({ timeoutMs = 10000 } = {}) {
  const child = spawn(process.execPath, [MODERN_FIXTURE, 'http', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`modern fixture did not print its URL in ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
        const m = out.match(/^modern fixture: listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)$/m);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`modern fixture exited (${code ?? signal}) before listening\n${stderr}`)); });
    });
    return { url, pid: child.pid, stop, stderr: () => stderr };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * For the lead's acceptance tests through mcpauth (issue 11), mirroring lib/conformance.mjs:
 * `mcpauth serve --no-auth ...serveArgs -- node fixtures/modern-server.mjs stdio` (through the
 * harness's startServe; the caller stops it). Then e.g.
 *
 *   const { scored } = readRequirements('2026-07-28');
 *   const serve = await startBridgedModernFixture();
 *   try { await assertScenariosPass(t, await runRequirements({ url: serve.resource, revision: '2026-07-28' }), scored); }
 *   finally { await serve.stop(); }
 */
export function startBridgedModernFixture(serveArgs = [], options = {}) {
  return startServe(['--no-auth', ...serveArgs, '--', process.execPath, MODERN_FIXTURE, 'stdio'], options);
}

/**
 * `mcpauth serve --no-auth --upstream <fixture URL> ...serveArgs`, the fixture started first
 * (startModernFixture). Resolves with { serve, fixture, stop() }; stop() stops both.
 */
export async function startUpstreamModernFixture(serveArgs = [], options = {}) {
  const fixture = await startModernFixture();
  try {
    const serve = await startServe(['--no-auth', '--upstream', fixture.url, ...serveArgs], options);
    return { serve, fixture, stop: async () => { await serve.stop(); await fixture.stop(); } };
  } catch (err) {
    await fixture.stop();
    throw err;
  }
}
