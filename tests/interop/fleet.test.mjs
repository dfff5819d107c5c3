// Two `mcpauth serve` instances behind real HAProxy, started by scripts/fleet the way a
// user would: a 2025-era session (SDK 1.32.2, Streamable HTTP) stays on the instance that
// minted its id for 100 calls; a legacy HTTP+SSE session too (its id travels in an SSE
// event, so only the id's instance label can route it); SDK v2 calls pinned to 2026-07-28
// are spread over both instances (their access logs show it); one instance killed, modern
// calls go on with no failure, and a session of the dead instance gets 404 elsewhere, so
// its client starts a new one.
// Needs haproxy (scripts/bootstrap installs it); skipped without it.
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

/** A base port with base .. base+INSTANCES+1 all free. */
async function freeRange() {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let p = base; ok && p <= base + INSTANCES + 1; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range');
}

/** Lines "METHOD /path STATUS" an instance logged. */
function accessLog(dir, name) {
  const text = fs.readFileSync(path.join(dir, `${name}.log`), 'utf8');
  return [...text.matchAll(/"([A-Z]+) ([^" ]+)" (\d{3})/g)].map((m) => `${m[1]} ${m[2].split('?')[0]} ${m[3]}`);
}
const posts = (dir, name) => accessLog(dir, name).filter((l) => l.startsWith('POST /mcp ')).length;
/** Instances write their access log every 200 ms: counts after that. */
async function postCounts(dir) {
  await new Promise((resolve) => setTimeout(resolve, 600));
  return [1, 2].map((i) => posts(dir, `mcp${i}`));
}

describe('scripts/fleet: HAProxy, two instances, Redis', { skip: !haveHaproxy && 'haproxy or redis-server is not installed' }, () => {
  let fleet, dir, origin, resource, token, exited;
  const log = [];

  before(async () => {
    dir = tmpDir();
    const port = await freeRange();
    origin = `http://127.0.0.1:${port}`;
    resource = `${origin}/mcp`;
    fleet = spawn(path.join(REPO_ROOT, 'scripts/fleet'), ['--port', String(port), '--dir', dir, '--token-format', 'opaque'],
      { env: { ...process.env, MCPAUTH_BIN }, stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => fleet.on('exit', (code, signal) => resolve({ code, signal })));
    fleet.stderr.on('data', (d) => log.push(String(d)));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fleet did not start: ${log.join('')}`)), 60000 * TIMEOUT_FACTOR);
      let out = '';
      fleet.stdout.on('data', (d) => {
        out += d;
        if (out.includes('fleet: ready')) { clearTimeout(timer); resolve(); }
      });
      fleet.on('exit', () => { clearTimeout(timer); reject(new Error(`fleet exited: ${log.join('')}`)); });
    });
    const client = await registerClientCredentials(origin, 'fleet test');
    token = (await clientCredentials(`${origin}/token`, client, { resource })).access_token;
  });

  after(async () => {
    if (!fleet) return;
    fleet.kill('SIGTERM');
    const r = await exited;
    assert.equal(r.code, 0, log.join(''));
  });

  const auth = () => ({ requestInit: { headers: { authorization: `Bearer ${token}` } } });

  test('a 2025-11-25 session stays on the instance whose label starts its id, for 100 calls', async () => {
    const before = await postCounts(dir);
    const transport = new LegacyHttpTransport(new URL(resource), auth());
    const client = new LegacyClient({ name: 'fleet-legacy', version: '1.0.0' });
    await client.connect(transport);
    try {
      const owner = transport.sessionId.match(/^mcp(\d)-[0-9a-f]+$/)?.[1];
      assert.ok(owner, `session id ${transport.sessionId} names its instance`);
      for (let n = 0; n < 100; n++) {
        const r = await client.callTool({ name: 'hello_world', arguments: {} });
        assert.match(textOf(r), /Hello/);
      }
      const after = await postCounts(dir);
      const other = owner === '1' ? 1 : 0;
      assert.ok(after[Number(owner) - 1] - before[Number(owner) - 1] >= 101, `owner saw ${after} (before ${before})`);
      assert.equal(after[other], before[other], 'no POST of the session reached the other instance');
    } finally {
      await client.close();
    }
  });

  test('a legacy HTTP+SSE session works however HAProxy spreads its POSTs', async () => {
    for (let n = 0; n < 4; n++) {
      const transport = new SSEClientTransport(new URL(`${origin}/sse`), {
        ...auth(), eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: { ...init?.headers, authorization: `Bearer ${token}` } }) },
      });
      const client = new LegacyClient({ name: 'fleet-sse', version: '1.0.0' });
      await client.connect(transport);
      try {
        const r = await client.callTool({ name: 'hello_world', arguments: {} });
        assert.match(textOf(r), /Hello/);
      } finally {
        await client.close();
      }
    }
  });

  test('2026-07-28 calls are spread over both instances', async () => {
    const before = await postCounts(dir);
    const client = new Client({ name: 'fleet-modern', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(resource), auth()));
    try {
      for (let n = 0; n < 20; n++) {
        const r = await client.callTool({ name: 'hello_world', arguments: {} });
        assert.match(textOf(r), /Hello/);
      }
    } finally {
      await client.close();
    }
    const after = await postCounts(dir);
    for (const i of [0, 1]) assert.ok(after[i] - before[i] >= 5, `instance ${i + 1} served ${after[i] - before[i]} of 20`);
  });

  test('a fresh opaque token: 50 concurrent calls through HAProxy, one introspection for the fleet', async () => {
    const client = await registerClientCredentials(origin, 'fleet burst');
    const fresh = (await clientCredentials(`${origin}/token`, client, { resource })).access_token;
    assert.equal(fresh.split('.').length, 1, 'opaque');
    const introspections = async () => {
      await new Promise((resolve) => setTimeout(resolve, 600)); // the issuer's log is written every 200 ms
      return accessLog(dir, 'issuer').filter((l) => l.startsWith('POST /introspect ')).length;
    };
    const before = await introspections();
    const counts = await postCounts(dir);
    const statuses = await Promise.all(Array.from({ length: 50 }, async () => {
      const r = await fetch(resource, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${fresh}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'tools/call', 'Mcp-Name': 'hello_world',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {},
          _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
      });
      await r.text();
      return r.status;
    }));
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(await introspections() - before, 1, 'introspections at the issuer');
    const after = await postCounts(dir);
    for (const i of [0, 1]) assert.ok(after[i] > counts[i], 'both instances served the burst');
  });

  test('one instance killed: modern calls go on, its sessions get 404 elsewhere', async () => {
    const legacy = new LegacyHttpTransport(new URL(resource), auth());
    const legacyClient = new LegacyClient({ name: 'fleet-legacy-2', version: '1.0.0' });
    await legacyClient.connect(legacy);
    const sessionId = legacy.sessionId;
    const victim = sessionId.match(/^mcp(\d)-/)[1];
    const pid = Number(fs.readFileSync(path.join(dir, `mcp${victim}.pid`), 'utf8'));
    process.kill(pid, 'SIGKILL');

    const client = new Client({ name: 'fleet-modern-2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(resource), auth()));
    try {
      for (let n = 0; n < 20; n++) {
        const r = await client.callTool({ name: 'hello_world', arguments: {} });
        assert.match(textOf(r), /Hello/);
      }
    } finally {
      await client.close();
    }
    const r = await fetch(resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(r.status, 404, await r.text());
    await legacyClient.close().catch(() => {});
    assert.match(log.join(''), new RegExp(`fleet: mcp${victim} ended`));
  });
});
