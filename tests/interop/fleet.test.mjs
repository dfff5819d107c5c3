// Two `mcpauth serve` instances behind real HAProxy with real Redis, started by
// scripts/fleet the way a user would, in front of oidc-provider (opaque tokens,
// introspection counted at oidc-provider):
// - a 2025-era session (SDK 1.32.2, Streamable HTTP) stays on the instance that minted
//   its id for 100 calls; a legacy HTTP+SSE session too (its id travels in an SSE event,
//   so only the id's instance label can route it);
// - SDK v2 calls pinned to 2026-07-28 are spread over both instances (their access logs
//   show it);
// - 50 concurrent requests with a fresh token through HAProxy: one introspection at
//   oidc-provider for the fleet (--shared-cache);
// - Redis killed mid-run: no request fails, each instance warns and shows
//   mcpauth_shared_cache_up 0; Redis back: used again (one introspection again);
// - one instance killed: modern calls go on with no failure, and a session of the dead
//   instance gets 404 elsewhere, so its client starts a new one.
// And the default fleet (its own development issuer behind the same origin) serves a call.
// Needs haproxy and redis-server (scripts/bootstrap installs them); skipped without.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/fleet.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client as LegacyClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as LegacyHttpTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { MCPAUTH_BIN, REPO_ROOT, tmpDir, TIMEOUT_FACTOR } from '../lib/harness.mjs';
import { clientCredentials, registerClientCredentials, textOf } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';

const HAPROXY = process.env.HAPROXY ?? 'haproxy';
const haveHaproxy = spawnSync(HAPROXY, ['-v']).status === 0 && spawnSync('redis-server', ['--version']).status === 0;
const INSTANCES = 2;

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port with base .. base+INSTANCES+2 all free (HAProxy, instances, issuer, Redis). */
async function freeRange() {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let p = base; ok && p <= base + INSTANCES + 2; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

/** Lines "METHOD /path STATUS" an instance logged. */
function accessLog(dir, name) {
  const text = fs.readFileSync(path.join(dir, `${name}.log`), 'utf8');
  return [...text.matchAll(/"([A-Z]+) ([^" ]+)" (\d{3})/g)].map((m) => `${m[1]} ${m[2].split('?')[0]} ${m[3]}`);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MODERN = '2026-07-28';
const posts = (dir, name) => accessLog(dir, name).filter((l) => l.startsWith('POST /mcp ')).length;
/** Instances write their access log every 200 ms: counts after that. */
async function postCounts(dir) {
  await new Promise((resolve) => setTimeout(resolve, 600));
  return [1, 2].map((i) => posts(dir, `mcp${i}`));
}

/** scripts/fleet on a free port range; resolves once it says it is ready. */
async function startFleet(extra = [], fixedPort) {
  const dir = tmpDir();
  const port = fixedPort ?? await freeRange();
  const log = [];
  const child = spawn(path.join(REPO_ROOT, 'scripts/fleet'), ['--port', String(port), '--dir', dir, ...extra],
    { env: { ...process.env, MCPAUTH_BIN }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stderr.on('data', (d) => log.push(String(d)));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fleet did not start: ${log.join('')}`)), 60000 * TIMEOUT_FACTOR);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('fleet: ready')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`fleet exited: ${log.join('')}`)); });
  });
  return {
    dir, port, origin: `http://127.0.0.1:${port}`, resource: `http://127.0.0.1:${port}/mcp`, log,
    instanceUrl: (i) => `http://127.0.0.1:${port + i}`,
    redisPort: port + INSTANCES + 2,
    stop: async () => { child.kill('SIGTERM'); return exited; },
  };
}

/** A 2026-07-28 tools/call of hello_world at url with token: its HTTP status. */
async function modernCall(url, token) {
  const r = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'hello_world',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {},
      _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } } }),
  });
  await r.text();
  return r.status;
}
const burst = (url, token) => Promise.all(Array.from({ length: 50 }, () => modernCall(url, token)));

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `${name} in ${text}`);
  return Number(m[1]);
}

async function waitFor(what, predicate, ms = 15000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await predicate()) return;
  assert.fail(`timed out waiting for ${what}`);
}

const skip = !haveHaproxy && 'haproxy or redis-server is not installed';

describe('scripts/fleet with oidc-provider: HAProxy, two instances, Redis', { skip }, () => {
  let as, fleet, client, token;
  let introspections = 0;

  before(async () => {
    const port = await freeRange();
    const resource = `http://127.0.0.1:${port}/mcp`;
    as = await startAuthServer({
      resources: { [resource]: { scope: 'mcp', accessTokenFormat: 'opaque' } },
      use: [async (ctx, next) => {
        if (ctx.method === 'POST' && ctx.path === '/token/introspection') introspections++;
        await next();
      }],
    });
    const credentials = path.join(tmpDir(), 'rs.json');
    await registerClientCredentials(as.issuer, 'mcpauth fleet', { out: credentials });
    client = await registerClientCredentials(as.issuer, 'fleet client');
    // The range was free a moment ago; scripts/fleet takes it now.
    fleet = await startFleet(['--issuer', as.issuer, '--credentials', credentials], port);
    token = await freshToken();
  });

  after(async () => {
    if (fleet) assert.deepEqual(await fleet.stop(), { code: 0, signal: null }, fleet.log.join(''));
    await as?.stop();
  });

  const freshToken = async () => (await clientCredentials(`${as.issuer}/token`, client, { resource: fleet.resource })).access_token;
  const auth = () => ({ requestInit: { headers: { authorization: `Bearer ${token}` } } });

  test('a 2025-11-25 session stays on the instance whose label starts its id, for 100 calls', async () => {
    const before = await postCounts(fleet.dir);
    const transport = new LegacyHttpTransport(new URL(fleet.resource), auth());
    const legacy = new LegacyClient({ name: 'fleet-legacy', version: '1.0.0' });
    await legacy.connect(transport);
    try {
      const owner = transport.sessionId.match(/^mcp(\d)-[0-9a-f]+$/)?.[1];
      assert.ok(owner, `session id ${transport.sessionId} names its instance`);
      for (let n = 0; n < 100; n++) {
        const r = await legacy.callTool({ name: 'hello_world', arguments: {} });
        assert.match(textOf(r), /Hello/);
      }
      const after = await postCounts(fleet.dir);
      const mine = Number(owner) - 1, other = 1 - mine;
      assert.ok(after[mine] - before[mine] >= 101, `owner saw ${after} (before ${before})`);
      assert.equal(after[other], before[other], 'no POST of the session reached the other instance');
    } finally {
      await legacy.close();
    }
  });

  test('a legacy HTTP+SSE session works however HAProxy spreads its POSTs', async () => {
    for (let n = 0; n < 4; n++) {
      const transport = new SSEClientTransport(new URL(`${fleet.origin}/sse`), {
        ...auth(), eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } }) },
      });
      const legacy = new LegacyClient({ name: 'fleet-sse', version: '1.0.0' });
      await legacy.connect(transport);
      try {
        assert.match(textOf(await legacy.callTool({ name: 'hello_world', arguments: {} })), /Hello/);
      } finally {
        await legacy.close();
      }
    }
  });

  test('2026-07-28 calls of the SDK v2 client are spread over both instances', async () => {
    const before = await postCounts(fleet.dir);
    const modern = new Client({ name: 'fleet-modern', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
    await modern.connect(new StreamableHTTPClientTransport(new URL(fleet.resource), auth()));
    try {
      assert.equal(modern.getNegotiatedProtocolVersion(), MODERN);
      for (let n = 0; n < 20; n++) assert.match(textOf(await modern.callTool({ name: 'hello_world', arguments: {} })), /Hello/);
    } finally {
      await modern.close();
    }
    const after = await postCounts(fleet.dir);
    for (const i of [0, 1]) assert.ok(after[i] - before[i] >= 5, `instance ${i + 1} served ${after[i] - before[i]} of 20`);
  });

  test('a fresh token: 50 concurrent calls through HAProxy, one introspection at oidc-provider', async () => {
    const fresh = await freshToken();
    const before = introspections;
    assert.deepEqual([...new Set(await burst(fleet.resource, fresh))], [200]);
    assert.equal(introspections - before, 1);
  });

  test('Redis killed mid-run: no request fails, a warning, the metric; back: used again', async () => {
    let failures = 0, running = true;
    const load = (async () => {
      while (running) failures += (await Promise.all([1, 2].map(() => modernCall(fleet.resource, token)))).filter((s) => s !== 200).length;
    })();
    await sleep(200);
    process.kill(Number(fs.readFileSync(path.join(fleet.dir, 'redis.pid'), 'utf8')), 'SIGKILL');
    assert.deepEqual([...new Set(await burst(fleet.resource, await freshToken()))], [200]);
    await waitFor('both instances to see Redis gone', async () =>
      (await metric(fleet.instanceUrl(1), 'mcpauth_shared_cache_up')) === 0 &&
      (await metric(fleet.instanceUrl(2), 'mcpauth_shared_cache_up')) === 0);
    running = false;
    await load;
    assert.equal(failures, 0);
    for (const i of [1, 2]) {
      const text = fs.readFileSync(path.join(fleet.dir, `mcp${i}.log`), 'utf8');
      assert.match(text, /warning: shared cache redis:\/\/127\.0\.0\.1:\d+: .*validating locally/);
    }

    const redis = spawn('redis-server', ['--port', String(fleet.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' });
    try {
      await waitFor('Redis used again', async () =>
        (await metric(fleet.instanceUrl(1), 'mcpauth_shared_cache_up')) === 1 &&
        (await metric(fleet.instanceUrl(2), 'mcpauth_shared_cache_up')) === 1);
      const before = introspections;
      assert.deepEqual([...new Set(await burst(fleet.resource, await freshToken()))], [200]);
      // What each instance said of the shared cache, should the count be off.
      const said = () => [1, 2].map((i) => fs.readFileSync(path.join(fleet.dir, `mcp${i}.log`), 'utf8')
        .split('\n').filter((l) => /shared cache/.test(l)).slice(-4).map((l) => `mcp${i}: ${l}`).join('\n')).join('\n');
      assert.equal(introspections - before, 1, said());
    } finally {
      redis.kill('SIGKILL');
    }
  });

  test('one instance killed: modern calls go on, its sessions get 404 elsewhere', async () => {
    const legacy = new LegacyHttpTransport(new URL(fleet.resource), auth());
    const legacyClient = new LegacyClient({ name: 'fleet-legacy-2', version: '1.0.0' });
    await legacyClient.connect(legacy);
    const sessionId = legacy.sessionId;
    const victim = sessionId.match(/^mcp(\d)-/)[1];
    process.kill(Number(fs.readFileSync(path.join(fleet.dir, `mcp${victim}.pid`), 'utf8')), 'SIGKILL');
    // A request that reaches the instance while it dies is in flight and may
    // fail; from the moment its workers are gone (its port refuses), none may,
    // though HAProxy's health check has not taken it out yet.
    await waitFor('the instance to be gone', () => portFree(fleet.port + Number(victim)), 5000);

    const modern = new Client({ name: 'fleet-modern-2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
    await modern.connect(new StreamableHTTPClientTransport(new URL(fleet.resource), auth()));
    try {
      for (let n = 0; n < 20; n++) assert.match(textOf(await modern.callTool({ name: 'hello_world', arguments: {} })), /Hello/);
    } finally {
      await modern.close();
    }
    const r = await fetch(fleet.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(r.status, 404, await r.text());
    await legacyClient.close().catch(() => {});
    await waitFor('the fleet to say so', async () => new RegExp(`fleet: mcp${victim} ended`).test(fleet.log.join('')), 5000);
  });
});

describe('scripts/fleet as it comes: its own development issuer behind the same origin', { skip }, () => {
  let fleet;
  before(async () => { fleet = await startFleet(['--token-format', 'opaque']); });
  after(async () => {
    if (fleet) assert.deepEqual(await fleet.stop(), { code: 0, signal: null }, fleet.log.join(''));
  });

  test('a client registers and gets a token through HAProxy; a burst costs one introspection', async () => {
    const metadata = await (await fetch(`${fleet.origin}/.well-known/oauth-authorization-server`)).json();
    assert.equal(metadata.issuer, fleet.origin);
    const registered = await registerClientCredentials(fleet.origin, 'fleet burst');
    const fresh = (await clientCredentials(metadata.token_endpoint, registered, { resource: fleet.resource })).access_token;
    assert.equal(fresh.split('.').length, 1, 'opaque');
    const introspected = async () => {
      await sleep(600); // the issuer writes its log every 200 ms
      return accessLog(fleet.dir, 'issuer').filter((l) => l.startsWith('POST /introspect ')).length;
    };
    const before = await introspected();
    assert.deepEqual([...new Set(await burst(fleet.resource, fresh))], [200]);
    assert.equal(await introspected() - before, 1);
  });
});
