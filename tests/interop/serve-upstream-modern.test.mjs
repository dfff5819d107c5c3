// Interop tests for `mcpauth serve --upstream URL` with MCP 2026-07-28 on both sides: a
// modern client's request to a modern upstream (fixtures/modern-server.mjs, an SDK v2
// server) passes through statelessly, with MCP-Protocol-Version, Mcp-Method, Mcp-Name and
// Mcp-Param-* forwarded, never the client's token, JSON or SSE answers (MRTR
// InputRequiredResult and the retry, subscriptions/listen) relayed as they arrive.
//
// - `conformance server --requirements 2026-07-28` (0.2.0-alpha.12) through
//   `serve --no-auth --upstream`: every scenario that passes against the fixture served
//   directly passes through mcpauth; `--requirements 2025-11-25` through the same URL too.
// - The SDK v2 client pinned to 2026-07-28, in 'auto' and in legacy mode, with auth on
//   (Ed25519 JWTs against a --jwks-file), through a recording proxy in front of the
//   fixture: what reaches the upstream.
// - An upstream of the 2025 era only (the SDK 1.x server): the first modern request, which
//   teaches mcpauth the upstream's era, is served through the era bridge like the ones after
//   it, and the v2 client in 'auto' mode stays on 2026-07-28.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-upstream-modern.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto, { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { keyPair, startServe, startHttpServer, freePort, tmpDir } from '../lib/harness.mjs';
import { startWireRecorder } from './lib/wire-recorder.mjs';
import {
  assertScenariosPass, describeFailures, readRequirements, runRequirements, startModernFixture, startUpstreamModernFixture,
} from './lib/conformance-next.mjs';

const MODERN = '2026-07-28';
const textOf = (result) => result.content?.find((c) => c.type === 'text')?.text;

describe('conformance 0.2.0-alpha.12 through serve --no-auth --upstream <modern fixture>', () => {
  let through;
  let direct;
  let modern;
  let modernDirect;
  let legacy;
  const req2026 = readRequirements(MODERN);
  const req2025 = readRequirements('2025-11-25');

  before(async () => {
    through = await startUpstreamModernFixture();
    direct = await startModernFixture();
    modernDirect = await runRequirements({ url: direct.url, revision: MODERN });
    modern = await runRequirements({ url: through.serve.resource, revision: MODERN });
    legacy = await runRequirements({ url: through.serve.resource, revision: '2025-11-25' });
  });
  after(async () => {
    await through?.stop();
    await direct?.stop();
  });

  test('--requirements 2026-07-28: every scored scenario passes, exit 0', async (t) => {
    await assertScenariosPass(t, modern, req2026.scored);
    assert.equal(modern.exitCode, 0, modern.stdout.slice(-3000));
  });

  test('every scenario that passes against the fixture directly passes through mcpauth', () => {
    const passedDirectly = modernDirect.scenarios.filter((s) => s.failed === 0).map((s) => s.name);
    assert.ok(passedDirectly.length >= req2026.scored.length, modernDirect.stdout.slice(-2000));
    const byName = new Map(modern.scenarios.map((s) => [s.name, s]));
    const broken = passedDirectly.filter((name) => byName.get(name)?.failed !== 0)
      .map((name) => `${name}${describeFailures(byName.get(name) ?? {})}`);
    assert.deepEqual(broken, []);
  });

  test('--requirements 2025-11-25 through the same URL: every scored scenario passes', async (t) => {
    await assertScenariosPass(t, legacy, req2025.scored);
  });
});

let key;
let jwksFile;
let issuer;

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function tokenFor(resource, scope, sub = 'u1') {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed-1' })}.${b64({
    iss: issuer, sub, aud: resource, client_id: 'c1', scope, iat: now, exp: now + 600,
  })}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}

before(async () => {
  const dir = tmpDir();
  const { publicKey, privateKey } = keyPair('ed25519');
  key = privateKey;
  jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA', use: 'sig' }],
  }));
  issuer = `http://127.0.0.1:${await freePort()}`;
});

function makeClient(mode) {
  const client = new Client({ name: 'mcpauth-upstream-modern', version: '1.0.0' }, {
    capabilities: { elicitation: {} },
    ...(mode === undefined ? {} : { versionNegotiation: { mode } }),
  });
  const answers = { name: 'Alice', color: 'blue', ok: true };
  client.setRequestHandler('elicitation/create', async (req) => {
    const fields = Object.keys(req.params.requestedSchema?.properties ?? {});
    return { action: 'accept', content: Object.fromEntries(fields.map((f) => [f, answers[f] ?? 'x'])) };
  });
  return client;
}

describe('SDK v2 client through serve --upstream <modern fixture>, auth on', () => {
  let fixture;
  let rec;
  let s;
  before(async () => {
    fixture = await startModernFixture();
    rec = await startWireRecorder(fixture.url);
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--upstream', rec.url,
      '--tool-scope', 'test_image_content=mcp:images']);
  });
  after(async () => {
    await s?.stop();
    await rec?.stop();
    await fixture?.stop();
  });

  const transport = (scope = 'mcp') => new StreamableHTTPClientTransport(new URL(s.resource), {
    requestInit: { headers: { authorization: `Bearer ${tokenFor(s.resource, scope)}` } },
  });

  for (const [label, mode, version, era] of [
    ['pinned to 2026-07-28', { pin: MODERN }, MODERN, 'modern'],
    ['auto', 'auto', MODERN, 'modern'],
    ['legacy (the default)', undefined, '2025-11-25', 'legacy'],
  ]) {
    test(`${label}: negotiates ${version} with the upstream through mcpauth, tools and MRTR work`, async () => {
      const client = makeClient(mode);
      await client.connect(transport());
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), version);
        assert.equal(client.getProtocolEra(), era);
        assert.equal(client.getServerVersion()?.name, 'mcpauth-modern-fixture');
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'test_simple_text'));
        assert.ok(!tools.some((t) => t.name === 'test_image_content'), 'the policy filters the list');
        const simple = await client.callTool({ name: 'test_simple_text', arguments: {} });
        assert.equal(textOf(simple), 'This is a simple text response for testing.');
        const mrtr = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
        assert.equal(textOf(mrtr), 'Alice likes blue');
      } finally {
        await client.close();
      }
    });
  }

  test('pinned: what reaches the upstream (no token, no session, mirrored headers, Mcp-Param-*); listen relayed', async () => {
    const before = rec.exchanges.length;
    const client = makeClient({ pin: MODERN });
    await client.connect(transport());
    try {
      const list = await client.listTools();
      assert.ok(list.tools.length > 0);
      await client.callTool({ name: 'test_custom_headers', arguments: { region: 'eu-west' } });
      const sub = await client.listen({ toolsListChanged: true });
      assert.deepEqual(sub.honoredFilter, { toolsListChanged: true });
      await sub.close();
      await sub.closed;
    } finally {
      await client.close();
    }
    const ex = rec.exchanges.slice(before);
    assert.ok(ex.length >= 4, ex.map((e) => e.json?.method).join(','));
    for (const e of ex) {
      assert.equal(e.requestHeaders.authorization, undefined, 'the client token went upstream');
      assert.equal(e.requestHeaders['mcp-session-id'], undefined);
      assert.equal(e.requestHeaders['mcp-protocol-version'], MODERN);
      if (e.json?.id !== undefined) assert.equal(e.requestHeaders['mcp-method'], e.json.method);
    }
    const custom = ex.find((e) => e.json?.params?.name === 'test_custom_headers');
    assert.equal(custom.requestHeaders['mcp-name'], 'test_custom_headers');
    assert.equal(custom.requestHeaders['mcp-param-region'], 'eu-west');
    const listen = ex.find((e) => e.json?.method === 'subscriptions/listen');
    assert.equal(listen.responseMessages[0].method, 'notifications/subscriptions/acknowledged');
  });

  test('a policy-filtered tools/list says cacheScope "private" whatever the upstream said', async () => {
    const body = {
      jsonrpc: '2.0', id: 1, method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } },
    };
    const res = await fetch(s.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokenFor(s.resource, 'mcp')}`, 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/list',
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    const json = text.startsWith('{') ? JSON.parse(text)
      : JSON.parse(text.split('\n').find((l) => l.startsWith('data: ') && l.includes('"result"')).slice(6));
    assert.equal(res.status, 200, text);
    assert.equal(json.result.cacheScope, 'private');
    assert.equal(res.headers.get('mcp-session-id'), null);
  });

  test('a forbidden tools/call is 403 insufficient_scope before the upstream sees it', async () => {
    const before = rec.exchanges.length;
    const res = await fetch(s.resource, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokenFor(s.resource, 'mcp')}`, 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': MODERN,
        'Mcp-Method': 'tools/call', 'Mcp-Name': 'test_image_content',
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 2, method: 'tools/call',
        params: { name: 'test_image_content', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    assert.equal(res.status, 403);
    assert.match(res.headers.get('www-authenticate'), /scope="mcp mcp:images"/);
    assert.equal(rec.exchanges.length, before);
  });
});

/** An SDK 1.x server over Streamable HTTP: the 2025 era only. */
async function startLegacyUpstream() {
  const sessions = new Map();
  const http = await startHttpServer(async (req, res) => {
    let body;
    if (req.method === 'POST') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
    const id = req.headers['mcp-session-id'];
    if (id !== undefined && sessions.has(id)) return sessions.get(id).handleRequest(req, res, body);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid) => sessions.set(sid, transport),
    });
    const server = new McpServer({ name: 'legacy-upstream', version: '1.0.0' });
    server.registerTool('hi', { description: 'Says hi' }, () => ({ content: [{ type: 'text', text: 'hi' }] }));
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  return { url: http.url('/mcp'), sessions, stop: () => http.stop() };
}

describe('serve --upstream <a 2025-era server> for a modern client', () => {
  let upstream;
  let s;
  before(async () => {
    upstream = await startLegacyUpstream();
    s = await startServe(['--no-auth', '--upstream', upstream.url]);
  });
  after(async () => {
    await s?.stop();
    await upstream?.stop();
  });

  test('the first modern request is served through the era bridge (not failed); then the SDK v2 client in auto mode is too', async () => {
    const res = await fetch(s.resource, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'server/discover',
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 'd', method: 'server/discover',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.id, 'd');
    assert.equal(json.result.resultType, 'complete');
    assert.ok(json.result.supportedVersions.includes(MODERN));
    assert.equal(json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'legacy-upstream');
    await s.waitForLog(/does not speak MCP 2026-07-28; modern clients are served through the era bridge/);

    // The upstream is now known to be of the 2025 era: the era bridge serves the modern
    // client, so the client in auto mode stays modern.
    const client = makeClient('auto');
    await client.connect(new StreamableHTTPClientTransport(new URL(s.resource)));
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
      assert.equal(textOf(await client.callTool({ name: 'hi', arguments: {} })), 'hi');
    } finally {
      await client.close();
    }
  });

  test('once the upstream is known to be of the 2025 era, modern requests go through the era bridge', async () => {
    const post = async (id, method, params = {}) => {
      const res = await fetch(s.resource, {
        method: 'POST',
        headers: {
          'content-type': 'application/json', accept: 'application/json, text/event-stream',
          'MCP-Protocol-Version': MODERN, 'Mcp-Method': method, ...(params.name ? { 'Mcp-Name': params.name } : {}),
        },
        body: JSON.stringify({
          jsonrpc: '2.0', id, method,
          params: { ...params, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } },
        }),
      });
      return { status: res.status, json: await res.json() };
    };
    const discover = await post('d2', 'server/discover');
    assert.equal(discover.status, 200);
    assert.equal(discover.json.result.resultType, 'complete');
    assert.ok(discover.json.result.supportedVersions.includes(MODERN));
    assert.equal(discover.json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'legacy-upstream');
    const call = await post('c2', 'tools/call', { name: 'hi', arguments: {} });
    assert.equal(call.json.result.resultType, 'complete');
    assert.equal(textOf(call.json.result), 'hi');
  });
});

describe('serve --upstream <a 2025-era server>, auth on: the first modern request', () => {
  let upstream;
  let s;
  before(async () => {
    upstream = await startLegacyUpstream();
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--upstream', upstream.url]);
  });
  after(async () => {
    await s?.stop();
    await upstream?.stop();
  });

  const discover = (sub) => fetch(s.resource, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'server/discover',
      authorization: `Bearer ${tokenFor(s.resource, 'mcp', sub)}`,
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: sub, method: 'server/discover',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } },
    }),
  });

  test('is bridged as its caller: one upstream session per subject, the first one included', async () => {
    const first = await discover('alice');
    assert.equal(first.status, 200);
    assert.equal((await first.json()).result.resultType, 'complete');
    const again = await discover('alice');
    assert.equal(again.status, 200);
    await again.json();
    assert.equal(upstream.sessions.size, 1, 'alice has one session at the upstream');
    const other = await discover('bob');
    assert.equal(other.status, 200);
    await other.json();
    assert.equal(upstream.sessions.size, 2, 'bob gets a session of his own');
  });
});
