// Integration tests for the MCP session limits of `mcpauth serve`, with the real binary and
// a stdio backend: one identity (subject and client id) holds at most
// --max-sessions-per-identity sessions and so starts at most that many children, however
// fast it calls initialize, while another identity still gets in; --max-children caps the
// backend processes of everyone. Both refuse with 429, Retry-After and a JSON-RPC error
// naming the limit (the legacy HTTP+SSE stream too), and are counted in /metrics.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-session-limits.test.mjs

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startHttpServer, startServe, tmpDir } from '../lib/harness.mjs';
import { sleep } from '../lib/http.mjs';

const ECHO = path.join(REPO_ROOT, 'tests/fixtures/backends/echo.mjs');
const NODE = process.execPath;
const VERSION = '2025-11-25';
const TOKENS = {
  'tok-alice': { sub: 'alice', client_id: 'client-1' },
  'tok-alice-2': { sub: 'alice', client_id: 'client-2' },
  'tok-bob': { sub: 'bob', client_id: 'client-1' },
};

/** A fake RFC 7662 authorization server knowing the tokens above. */
async function startFakeAS() {
  const as = { resource: null };
  const server = await startHttpServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const claims = TOKENS[new URLSearchParams(body).get('token') ?? ''];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(claims
      ? { active: true, ...claims, scope: 'mcp', aud: as.resource, iss: server.origin, exp: Math.floor(Date.now() / 1000) + 3600 }
      : { active: false }));
  });
  return Object.assign(as, { origin: server.origin, stop: server.stop });
}

/** The processes below pid (its children, theirs, ...) running the fixture. */
function backendProcesses(pid) {
  const parents = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      parents.set(Number(entry), { ppid, cmdline, state: stat.slice(stat.lastIndexOf(')') + 2)[0] });
    } catch { /* gone meanwhile */ }
  }
  const below = (p) => {
    for (let q = parents.get(p)?.ppid; q; q = parents.get(q)?.ppid) if (q === pid) return true;
    return false;
  };
  return [...parents].filter(([p, info]) => below(p) && info.state !== 'Z' && info.cmdline.includes(ECHO)).length;
}

function initialize(serve, token) {
  return fetch(serve.url('/mcp'), {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'limits-test', version: '1' } },
    }),
  });
}

async function metric(serve, limit) {
  const text = await (await fetch(serve.url('/metrics'))).text();
  const m = text.match(new RegExp(`^mcpauth_mcp_limit_hits_total\\{limit="${limit}"\\} (\\d+)$`, 'm'));
  assert.ok(m, `no counter for ${limit} in /metrics:\n${text}`);
  return Number(m[1]);
}

async function assertRefused(r, limit) {
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '60');
  assert.equal(r.headers.get('mcp-session-id'), null);
  const body = await r.json();
  assert.equal(body.error.code, -32000);
  assert.equal(body.error.data.limit, limit);
  assert.match(body.error.message, new RegExp(`--${limit}`));
}

async function startLimited(as, extra) {
  const dir = tmpDir();
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, 'rs-secret', { mode: 0o600 });
  return startServe((port) => {
    as.resource = `http://127.0.0.1:${port}/mcp`;
    return ['--issuer', as.origin, '--introspection-endpoint', `${as.origin}/introspect`,
      '--client-id', 'rs', '--client-secret-file', secretFile, ...extra(dir), '--', NODE, ECHO];
  });
}

describe('session limits across workers', () => {
  test('--workers 2: the limit holds for the identity whichever worker takes each initialize', async () => {
    const as = await startFakeAS();
    const dir = tmpDir();
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'rs-secret', { mode: 0o600 });
    const serve = await startServe((port) => {
      as.resource = `http://127.0.0.1:${port}/mcp`;
      return ['--issuer', as.origin, '--introspection-endpoint', `${as.origin}/introspect`,
        '--client-id', 'rs', '--client-secret-file', secretFile, '--workers', '2',
        '--max-sessions-per-identity', '5'];
    });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => initialize(serve, 'tok-alice')));
      const statuses = answers.map((r) => r.status);
      for (const r of answers) await r.text();
      assert.equal(statuses.filter((s) => s === 200).length, 5, `statuses: ${statuses}`);
      assert.equal(statuses.filter((s) => s === 429).length, 15, `statuses: ${statuses}`);
      const other = await initialize(serve, 'tok-bob');
      assert.equal(other.status, 200, await other.text());
    } finally {
      await serve.stop();
      await as.stop();
    }
  });
});

describe('session limits with a stdio backend', () => {
  const stops = [];
  after(async () => { for (const stop of stops.reverse()) await stop(); });

  test('40 initialize calls from one identity start 16 children; another identity still gets in', async () => {
    const as = await startFakeAS();
    stops.push(as.stop);
    // A table of 20: without the per-identity limit alice alone would fill it.
    const serve = await startLimited(as, () => ['--max-sessions', '20']);
    stops.push(serve.stop);

    const answers = [];
    for (let wave = 0; wave < 4; wave++) {
      answers.push(...await Promise.all(Array.from({ length: 10 }, () => initialize(serve, 'tok-alice'))));
      await sleep(100);
    }
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status !== 200);
    assert.equal(ok.length, 16, `statuses: ${answers.map((r) => r.status)}`);
    for (const r of ok) await r.text();
    for (const r of refused) await assertRefused(r, 'max-sessions-per-identity');
    assert.ok(backendProcesses(serve.pid) <= 16, `${backendProcesses(serve.pid)} backend processes`);

    // Others are not locked out: another subject, and alice through another client.
    for (const token of ['tok-bob', 'tok-alice-2']) {
      const r = await initialize(serve, token);
      assert.equal(r.status, 200, await r.text());
      assert.ok(r.headers.get('mcp-session-id'));
    }
    assert.equal(backendProcesses(serve.pid), 18);

    // Ending one of alice's sessions makes room for one more.
    const del = await fetch(serve.url('/mcp'), {
      method: 'DELETE',
      headers: { authorization: 'Bearer tok-alice', 'mcp-session-id': ok[0].headers.get('mcp-session-id'), 'mcp-protocol-version': VERSION },
    });
    assert.equal(del.status, 200);
    const again = await initialize(serve, 'tok-alice');
    assert.equal(again.status, 200, await again.text());
    assert.equal(await metric(serve, 'sessions_per_identity'), 24);
    assert.equal(await metric(serve, 'children'), 0);
  });

  test('--max-children (a config key too) caps the backend processes of every identity', async () => {
    const as = await startFakeAS();
    stops.push(as.stop);
    const serve = await startLimited(as, (dir) => {
      const config = path.join(dir, 'serve.json');
      fs.writeFileSync(config, JSON.stringify({ 'max-children': 3, 'max-sessions-per-identity': 2 }));
      return ['--config', config];
    });
    stops.push(serve.stop);

    const sessions = [];
    for (const token of ['tok-alice', 'tok-alice', 'tok-bob']) {
      const r = await initialize(serve, token);
      assert.equal(r.status, 200, await r.text());
      sessions.push({ token, id: r.headers.get('mcp-session-id') });
    }
    await assertRefused(await initialize(serve, 'tok-alice'), 'max-sessions-per-identity');
    // The legacy HTTP+SSE transport makes its session when the stream opens: the same limit.
    const sse = await fetch(serve.url('/sse'), { headers: { authorization: 'Bearer tok-alice', accept: 'text/event-stream' } });
    assert.equal(sse.status, 429);
    assert.equal(sse.headers.get('retry-after'), '60');
    assert.match((await sse.json()).error.message, /--max-sessions-per-identity/);
    await assertRefused(await initialize(serve, 'tok-bob'), 'max-children');
    await assertRefused(await initialize(serve, 'tok-alice-2'), 'max-children');
    assert.equal(backendProcesses(serve.pid), 3);

    // A child that has stopped frees its place.
    const del = await fetch(serve.url('/mcp'), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${sessions[2].token}`, 'mcp-session-id': sessions[2].id, 'mcp-protocol-version': VERSION },
    });
    assert.equal(del.status, 200);
    let r;
    for (let i = 0; i < 50; i++) {
      r = await initialize(serve, 'tok-alice-2');
      if (r.status === 200) break;
      await r.text();
      await sleep(100);
    }
    assert.equal(r.status, 200, await r.text());
    assert.equal(await metric(serve, 'children') >= 2, true);
    assert.equal(await metric(serve, 'sessions_per_identity'), 2);
  });
});
