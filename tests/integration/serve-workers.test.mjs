// Integration tests for `mcpauth serve --workers N`: MCP sessions live in a table the
// worker processes share, so a session created by one worker is known to all. The kernel
// spreads connections across the workers (SO_REUSEPORT), so a client that opens a new
// connection per request reaches them all; with per-worker sessions most of its requests
// would get 404.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-workers.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { startServe, TIMEOUT_FACTOR } from '../lib/harness.mjs';
import { sleep, request as requestOnce } from '../lib/http.mjs';

const WORKERS = 3;
const REQUESTS = 30;
const MCP_ACCEPT = 'application/json, text/event-stream';

/** One request on its own connection (Connection: close), with a timeout that grows under a wrapper. */
const request = (url, { headers = {}, timeoutMs = 10000 * TIMEOUT_FACTOR, ...rest } = {}) =>
  requestOnce(url, { ...rest, timeoutMs, headers: { connection: 'close', ...headers } });

function mcp(serve, method, message, session) {
  const headers = { accept: MCP_ACCEPT, 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' };
  if (session) headers['mcp-session-id'] = session;
  return request(serve.url('/mcp'), { method, headers, body: message && JSON.stringify(message) });
}

const INITIALIZE = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'serve-workers-test', version: '1.0.0' } },
};

/** The follow-up requests a client sends in a session, in turn. */
function followUp(i) {
  const calls = [
    { method: 'ping' },
    { method: 'tools/list' },
    { method: 'tools/call', params: { name: 'hello_world', arguments: {} } },
    { method: 'logging/setLevel', params: { level: 'info' } },
  ];
  return { jsonrpc: '2.0', id: 100 + i, ...calls[i % calls.length] };
}

/** REQUESTS follow-ups at once, each on a new connection; their statuses. */
async function statuses(serve, session) {
  const replies = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => mcp(serve, 'POST', followUp(i), session)));
  return replies.map((r) => r.status);
}

function workerPids(serve) {
  return execFileSync('pgrep', ['-P', String(serve.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
}

/** Sockets listening on port: one per worker (SO_REUSEPORT), from /proc/net/tcp{,6}. */
function listeners(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[1].endsWith(hex) && f[3] === '0A') n++; // 0A: LISTEN
    }
  }
  return n;
}

/** The parent logs "listening" once it has forked the workers, before they all listen:
 * wait for every worker's socket, so that the connections reach all of them. */
async function waitForWorkers(serve) {
  const deadline = Date.now() + 10000 * TIMEOUT_FACTOR;
  while (listeners(serve.port) < WORKERS && Date.now() < deadline) await sleep(50);
  assert.equal(listeners(serve.port), WORKERS, `sockets listening on ${serve.port}`);
}

describe(`mcpauth serve --workers ${WORKERS}: sessions shared by the workers`, () => {
  let serve;
  let session;

  before(async () => {
    // startServe puts --workers 1 first; the later one wins.
    serve = await startServe(['--no-auth', '--workers', String(WORKERS)]);
    await waitForWorkers(serve);
  });

  after(async () => {
    if (serve) await serve.stop('SIGKILL');
  });

  test(`${WORKERS} worker processes run`, () => {
    assert.equal(workerPids(serve).length, WORKERS);
  });

  test('initialize on one connection', async () => {
    const r = await mcp(serve, 'POST', INITIALIZE);
    assert.equal(r.status, 200, r.body);
    session = r.headers['mcp-session-id'];
    assert.match(session ?? '', /^[0-9a-f]{32}$/);
    const n = await mcp(serve, 'POST', { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    assert.equal(n.status, 202, n.body);
  });

  test(`${REQUESTS} follow-ups, each on a new connection: all 200`, async () => {
    assert.deepEqual(await statuses(serve, session), Array(REQUESTS).fill(200));
  });

  test('every worker counts the session in /metrics', async () => {
    const replies = await Promise.all(Array.from({ length: REQUESTS }, () => request(serve.url('/metrics'))));
    for (const r of replies) {
      assert.equal(r.status, 200);
      assert.match(r.body, /^mcpauth_mcp_sessions 1$/m, r.body);
    }
  });

  test('a killed worker is replaced and the session survives it', async () => {
    const [victim] = workerPids(serve);
    process.kill(victim, 'SIGKILL');
    await serve.waitForLog(new RegExp(`worker ${victim} killed by signal 9`));
    let pids = [];
    for (const deadline = Date.now() + 5000 * TIMEOUT_FACTOR; Date.now() < deadline; await sleep(50)) {
      pids = workerPids(serve);
      if (pids.length === WORKERS && !pids.includes(victim)) break;
    }
    assert.equal(pids.length, WORKERS, `workers after the kill: ${pids}`);
    // The new worker, forked after the table was made, gets its share too.
    await waitForWorkers(serve);
    assert.deepEqual(await statuses(serve, session), Array(REQUESTS).fill(200));
  });

  test('DELETE ends it for every worker: then 404 on every connection', async () => {
    const d = await mcp(serve, 'DELETE', undefined, session);
    assert.equal(d.status, 200, d.body);
    assert.deepEqual(await statuses(serve, session), Array(REQUESTS).fill(404));
    const again = await mcp(serve, 'DELETE', undefined, session);
    assert.equal(again.status, 404, again.body);
  });

  test('SIGTERM stops all workers cleanly (exit 0), no sanitizer report', async () => {
    const exit = await serve.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr().slice(-3000));
    assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  });
});

describe('mcpauth serve --workers 2: the parent killed outright', () => {
  let serve;
  let pids = [];

  before(async () => {
    serve = await startServe(['--no-auth', '--workers', '2']);
    pids = workerPids(serve);
  });

  after(async () => {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone, as it should be */ }
    }
    if (serve) await serve.stop('SIGKILL');
  });

  test('SIGKILL on the parent: the workers exit, and the port is free for a restart', async () => {
    assert.equal(pids.length, 2, `workers: ${pids}`);
    process.kill(serve.pid, 'SIGKILL');
    // Not serve.exited: that waits for the log pipe, which live workers hold open.
    const alive = () => pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    for (const deadline = Date.now() + 10000 * TIMEOUT_FACTOR; alive().length && Date.now() < deadline;) await sleep(50);
    assert.deepEqual(alive(), [], 'workers still running after their parent died');
    await serve.exited;
    const again = await startServe(['--no-auth', '--workers', '2'], { port: serve.port });
    try {
      const r = await mcp(again, 'POST', INITIALIZE);
      assert.equal(r.status, 200, r.body);
    } finally {
      await again.stop();
    }
  });
});
