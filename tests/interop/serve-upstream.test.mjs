// Issue 5, last part: `mcpauth serve --upstream URL` in front of an HTTP MCP server, with
// auth on. The upstream is the TypeScript SDK's McpServer on its StreamableHTTPServerTransport
// (JSON-RPC answers as SSE, the SDK's default), served in-process over node:http on
// 127.0.0.1 as conformance-fixture.test.mjs does; it records the headers of every request.
// Tokens are RFC 9068 JWTs minted here with jose and checked by serve against a JWKS served
// here (as serve-jwt.test.mjs does). The client is the SDK's StreamableHTTPClientTransport.
// With several workers (the default, and --workers 3) the client's requests reach the worker
// holding the upstream session whichever worker takes them.
// Run: cd tests/interop && MCPAUTH_BIN=../../build/mcpauth node --test serve-upstream.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto, { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as z from 'zod';
import { exportJWK, SignJWT } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { keyPair, run, startServe, startHttpServer, freePort, tmpDir } from '../lib/harness.mjs';
import { sleep } from '../lib/http.mjs';

const UPSTREAM_SECRET = `upstream-${crypto.randomBytes(8).toString('hex')}`;

function makeServer() {
  const server = new McpServer({ name: 'upstream-fixture', version: '1.0.0' });
  server.registerTool('echo', {
    description: 'Echoes its text',
    inputSchema: { text: z.string() },
  }, ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }));
  server.registerTool('secret_tool', { description: 'Needs mcp:secret' }, () => ({
    content: [{ type: 'text', text: 'secret' }],
  }));
  server.registerTool('notify', { description: 'Sends tools/list_changed, unrelated to the call' }, async () => {
    server.sendToolListChanged();
    return { content: [{ type: 'text', text: 'notified' }] };
  });
  server.registerTool('slow', { description: 'Answers after 3 s, with progress first' }, async (extra) => {
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1, total: 2 } });
    }
    await sleep(3000);
    return { content: [{ type: 'text', text: 'slow done' }] };
  });
  server.registerTool('progress', { description: 'Reports progress 1..3 of 3' }, async (extra) => {
    const progressToken = extra._meta?.progressToken;
    for (let i = 1; i <= 3; i++) {
      await sleep(100);
      if (progressToken !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: i, total: 3 } });
      }
    }
    return { content: [{ type: 'text', text: 'progress done' }] };
  });
  return server;
}

/** The SDK server over Streamable HTTP at /mcp; `seen` keeps every request's headers. */
async function startUpstream({ json = false } = {}) {
  const sessions = new Map();
  const seen = [];
  const deleted = [];
  const http = await startHttpServer(async (req, res) => {
    let body;
    if (req.method === 'POST') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    }
    seen.push({ method: req.method, headers: { ...req.headers }, body });
    const id = req.headers['mcp-session-id'];
    if (req.method === 'DELETE' && id) deleted.push(id);
    if (id !== undefined) {
      const transport = sessions.get(id);
      if (!transport) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
      }
      return transport.handleRequest(req, res, body);
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: json,
      onsessioninitialized: (sid) => sessions.set(sid, transport),
      onsessionclosed: (sid) => sessions.delete(sid),
    });
    const server = makeServer();
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (!transport.sessionId) await server.close();
  });
  const stop = async () => {
    await Promise.all([...sessions.values()].map((t) => t.close()));
    await http.stop();
  };
  return { url: http.url('/mcp'), sessions, seen, deleted, stop };
}

describe('serve --upstream (SDK Streamable HTTP server behind mcpauth, auth on)', () => {
  let upstream;
  let jwks;
  let key;
  let s;

  before(async () => {
    upstream = await startUpstream();
    const { publicKey, privateKey } = keyPair('ec', { namedCurve: 'P-256' });
    key = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' } };
    jwks = await startHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: [key.jwk] }));
    });
    const dir = tmpDir();
    const headerFile = path.join(dir, 'upstream-headers');
    fs.writeFileSync(headerFile, `# upstream credentials\nX-Upstream-Key: ${UPSTREAM_SECRET}\n`, { mode: 0o600 });
    s = await startServe([
      '--issuer', jwks.origin, '--jwks-uri', jwks.url('/jwks'),
      '--upstream', upstream.url, '--upstream-header-file', headerFile,
      '--tool-scope', 'secret_tool=mcp:secret', '--backend-timeout', '20',
    ]);
  });

  after(async () => {
    const r = await s?.stop();
    await upstream?.stop();
    await jwks?.stop();
    if (r) assert.equal(r.code, 0, s.stderr());
  });

  function mint({ scope = 'mcp', sub = 'alice' } = {}) {
    return new SignJWT({ scope, client_id: 'test-client' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(jwks.origin)
      .setAudience(s.resource)
      .setSubject(sub)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);
  }

  async function connect(token) {
    const client = new Client({ name: 'upstream-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(s.resource), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    return { client, transport };
  }

  test('tools/list and tools/call through mcpauth; the upstream sees our header, never the token', async () => {
    const token = await mint();
    const { client, transport } = await connect(token);
    try {
      const before = upstream.seen.length;
      const { tools } = await client.listTools();
      // --tool-scope: secret_tool needs mcp:secret, which this token lacks.
      assert.deepEqual(tools.map((t) => t.name).sort(), ['echo', 'notify', 'progress', 'slow']);
      const r = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      assert.equal(r.content[0].text, 'echo: hi');
      const requests = upstream.seen.slice(before);
      assert.ok(requests.length >= 2);
      for (const { headers } of requests) {
        assert.equal(headers['x-upstream-key'], UPSTREAM_SECRET);
        assert.equal(headers.authorization, undefined);
        assert.ok(!JSON.stringify(headers).includes(token));
        assert.ok(upstream.sessions.has(headers['mcp-session-id']));
        assert.ok(headers['mcp-protocol-version']);
      }
      // The client sees our session id, not the upstream's.
      assert.match(transport.sessionId, /^[0-9a-f]{32}$/);
      assert.ok(!upstream.sessions.has(transport.sessionId));
      assert.ok(!s.stderr().includes(UPSTREAM_SECRET));
      assert.ok(!s.stderr().includes(token));
    } finally {
      await client.close();
    }
  });

  test('a token with the tool scope sees the tool; without it the call is refused before the upstream', async () => {
    const { client } = await connect(await mint({ scope: 'mcp mcp:secret' }));
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'secret_tool'));
    } finally {
      await client.close();
    }
    const { client: plain } = await connect(await mint());
    try {
      await assert.rejects(plain.callTool({ name: 'secret_tool', arguments: {} }), /403|insufficient_scope|Unauthorized/);
      assert.ok(!upstream.seen.some((r) => r.body?.params?.name === 'secret_tool'));
    } finally {
      await plain.close();
    }
  });

  test('progress notifications are relayed over SSE as they come', async () => {
    const { client } = await connect(await mint());
    try {
      const progress = [];
      const r = await client.callTool({ name: 'progress', arguments: {} }, undefined, {
        onprogress: (p) => progress.push({ progress: p.progress, at: Date.now() }),
      });
      assert.equal(r.content[0].text, 'progress done');
      assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3]);
      // Relayed as they happened (about 100 ms apart), not all at the end.
      assert.ok(progress[2].at - progress[0].at >= 100, JSON.stringify(progress));
    } finally {
      await client.close();
    }
  });

  test('two clients get two upstream sessions; DELETE deletes upstream too', async () => {
    const a = await connect(await mint({ sub: 'alice' }));
    const b = await connect(await mint({ sub: 'bob' }));
    try {
      const tag = randomUUID();
      const upstreamIdOf = (who) => upstream.seen.find((r) => r.body?.params?.arguments?.text === `${tag}-${who}`)
        ?.headers['mcp-session-id'];
      await a.client.callTool({ name: 'echo', arguments: { text: `${tag}-a` } });
      await b.client.callTool({ name: 'echo', arguments: { text: `${tag}-b` } });
      const aUpstream = upstreamIdOf('a');
      const bUpstream = upstreamIdOf('b');
      assert.ok(aUpstream && bUpstream);
      assert.notEqual(aUpstream, bUpstream);
      assert.ok(upstream.sessions.has(bUpstream));
      await b.transport.terminateSession();
      for (let i = 0; i < 50 && upstream.sessions.has(bUpstream); i++) await sleep(50);
      assert.ok(upstream.deleted.includes(bUpstream));
      assert.ok(!upstream.sessions.has(bUpstream));
      // a still works.
      const r = await a.client.callTool({ name: 'echo', arguments: { text: 'still' } });
      assert.equal(r.content[0].text, 'echo: still');
    } finally {
      await a.client.close();
      await b.client.close().catch(() => {});
    }
  });

  test('the standalone GET stream is relayed: a notification unrelated to any request arrives', async () => {
    const { client } = await connect(await mint());
    try {
      const changed = new Promise((resolve) => client.setNotificationHandler(ToolListChangedNotificationSchema, resolve));
      // The SDK client opens its GET stream after initialize; give it a moment.
      for (let i = 0; i < 50 && !upstream.seen.some((r) => r.method === 'GET'); i++) await sleep(50);
      await sleep(200);
      const r = await client.callTool({ name: 'notify', arguments: {} });
      assert.equal(r.content[0].text, 'notified');
      const timeout = sleep(5000).then(() => 'timeout');
      assert.notEqual(await Promise.race([changed, timeout]), 'timeout');
    } finally {
      await client.close();
    }
  });

  test('a legacy HTTP+SSE client (2024-11-05) reaches the upstream too', async () => {
    const client = new Client({ name: 'upstream-legacy', version: '1.0.0' });
    const transport = new SSEClientTransport(new URL(s.url('/sse')), {
      requestInit: { headers: { Authorization: `Bearer ${await mint()}` } },
    });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.ok(!tools.some((t) => t.name === 'secret_tool'));
      const r = await client.callTool({ name: 'echo', arguments: { text: 'legacy' } });
      assert.equal(r.content[0].text, 'echo: legacy');
      // Progress reaches the stream, all of it before the response. (What the
      // transport delivers is checked, not onprogress: SDK 1.32.2 runs progress
      // handlers in a microtask and drops the handler on the response, so a
      // last progress event that shares a read with the response is lost to
      // onprogress whoever the server is.)
      const seen = [];
      const deliver = transport.onmessage;
      transport.onmessage = (message, extra) => { seen.push(message); deliver(message, extra); };
      const p = await client.callTool({ name: 'progress', arguments: {} }, undefined, { onprogress: () => {} });
      assert.equal(p.content[0].text, 'progress done');
      const order = seen.map((m) => (m.method === 'notifications/progress' ? m.params.progress : 'response'));
      assert.deepEqual(order, [1, 2, 3, 'response']);
    } finally {
      await client.close();
    }
  });

  test('an upstream session that is gone ends ours: 404', async () => {
    const token = await mint();
    const { client, transport } = await connect(token);
    try {
      const before = upstream.seen.length;
      await client.ping();
      const upstreamId = upstream.seen.slice(before).at(-1).headers['mcp-session-id'];
      await upstream.sessions.get(upstreamId).close();
      upstream.sessions.delete(upstreamId);
      const r = await fetch(s.resource, {
        method: 'POST',
        headers: {
          accept: 'application/json, text/event-stream', 'content-type': 'application/json',
          authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId,
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }),
      });
      assert.equal(r.status, 404);
      const again = await fetch(s.resource, {
        method: 'POST',
        headers: {
          accept: 'application/json, text/event-stream', 'content-type': 'application/json',
          authorization: `Bearer ${token}`, 'mcp-session-id': transport.sessionId,
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'ping' }),
      });
      assert.equal(again.status, 404);
    } finally {
      await client.close().catch(() => {});
    }
  });
});

describe('serve --upstream: the upstream is down', () => {
  let s;
  before(async () => {
    const port = await freePort(); // nothing listens there
    s = await startServe(['--no-auth', '--upstream', `http://127.0.0.1:${port}/mcp`, '--backend-timeout', '5'],
      { env: { MCPAUTH_UPSTREAM_HEADER: 'X-Upstream-Key: from-env' } });
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.equal(r.code, 0, s.stderr());
  });

  test('initialize → 502 with a JSON-RPC error naming why, and no session', async () => {
    const r = await fetch(s.resource, {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    assert.equal(r.status, 502);
    assert.equal(r.headers.get('mcp-session-id'), null);
    const body = await r.json();
    assert.equal(body.id, 1);
    assert.equal(body.error.code, -32603);
    assert.match(body.error.message, /upstream MCP server: cannot reach http:\/\/127\.0\.0\.1:\d+\/mcp/);
    assert.ok(!body.error.message.includes('from-env'));
  });
});

describe('serve --upstream with the default worker count and with --workers 3', () => {
  let upstream;
  before(async () => { upstream = await startUpstream(); });
  after(async () => { await upstream?.stop(); });

  for (const workers of [null, 3]) {
    test(`${workers ? '--workers 3' : 'default'}: an SDK client's calls reach its upstream session whichever worker takes them`, async () => {
      const s = await startServe(['--no-auth', '--upstream', upstream.url, ...(workers ? ['--workers', String(workers)] : [])],
        { defaultWorkers: true });
      const client = new Client({ name: 'workers-interop', version: '1.0.0' });
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(s.resource)));
        // At once, so that the SDK's fetch opens several connections, which the kernel
        // spreads over the workers.
        const texts = await Promise.all(Array.from({ length: 30 }, (_, i) =>
          client.callTool({ name: 'echo', arguments: { text: `w${i}` } }).then((r) => r.content[0].text)));
        assert.deepEqual(texts, Array.from({ length: 30 }, (_, i) => `echo: w${i}`));
        if (s.stderr().includes(' workers')) await s.waitForLog(/"POST \/mcp" 200 .*\(handed to the session's worker\)/);
      } finally {
        await client.close();
        const r = await s.stop();
        assert.equal(r.code, 0, s.stderr());
      }
    });
  }
});

describe('serve --upstream: an upstream answering JSON (enableJsonResponse)', () => {
  let upstream;
  let s;
  before(async () => {
    upstream = await startUpstream({ json: true });
    s = await startServe(['--no-auth', '--upstream', upstream.url]);
  });
  after(async () => {
    const r = await s?.stop();
    await upstream?.stop();
    if (r) assert.equal(r.code, 0, s.stderr());
  });

  test('initialize, tools/list and tools/call come back as application/json', async () => {
    const headers = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
    const init = await fetch(s.resource, {
      method: 'POST', headers,
      body: JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    assert.equal(init.status, 200);
    assert.match(init.headers.get('content-type'), /application\/json/);
    const session = init.headers.get('mcp-session-id');
    assert.match(session, /^[0-9a-f]{32}$/);
    assert.equal((await init.json()).result.serverInfo.name, 'upstream-fixture');
    const more = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const note = await fetch(s.resource, {
      method: 'POST', headers: more, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    assert.equal(note.status, 202);
    const list = await fetch(s.resource, {
      method: 'POST', headers: more, body: JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'tools/list' }),
    });
    assert.equal(list.status, 200);
    assert.match(list.headers.get('content-type'), /application\/json/);
    const listed = await list.json();
    assert.equal(listed.id, 'a');
    assert.ok(listed.result.tools.some((t) => t.name === 'echo'));
    const call = await fetch(s.resource, {
      method: 'POST', headers: more,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'j' } } }),
    });
    assert.equal((await call.json()).result.content[0].text, 'echo: j');
    const del = await fetch(s.resource, { method: 'DELETE', headers: more });
    assert.equal(del.status, 200);
    for (let i = 0; i < 50 && upstream.sessions.size > 0; i++) await sleep(50);
    assert.equal(upstream.sessions.size, 0);
  });
});

describe('serve --upstream --backend-timeout 1: a request the upstream answers too late', () => {
  let upstream;
  let s;
  before(async () => {
    upstream = await startUpstream();
    s = await startServe(['--no-auth', '--upstream', upstream.url, '--backend-timeout', '1']);
  });
  after(async () => {
    const r = await s?.stop();
    await upstream?.stop();
    if (r) assert.equal(r.code, 0, s.stderr());
  });

  test('the stream started (progress relayed) ends with a JSON-RPC error naming the timeout', async () => {
    const client = new Client({ name: 'upstream-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(s.resource)));
    try {
      const progress = [];
      await assert.rejects(
        client.callTool({ name: 'slow', arguments: {} }, undefined, { onprogress: (p) => progress.push(p.progress) }),
        /upstream MCP server: request to http:\/\/127\.0\.0\.1:\d+\/mcp timed out after 1 s/,
      );
      assert.deepEqual(progress, [1]);
      // The session goes on.
      const r = await client.callTool({ name: 'echo', arguments: { text: 'after' } });
      assert.equal(r.content[0].text, 'echo: after');
    } finally {
      await client.close();
    }
  });
});

describe('serve --upstream: an upstream answering 503', () => {
  let broken;
  let s;
  before(async () => {
    broken = await startHttpServer((req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down for maintenance');
    });
    s = await startServe(['--no-auth', '--upstream', broken.url('/mcp')]);
  });
  after(async () => {
    const r = await s?.stop();
    await broken?.stop();
    if (r) assert.equal(r.code, 0, s.stderr());
  });

  test('initialize → 502 naming the status', async () => {
    const r = await fetch(s.resource, {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 7, method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
      }),
    });
    assert.equal(r.status, 502);
    const body = await r.json();
    assert.equal(body.id, 7);
    assert.match(body.error.message, /answered HTTP 503/);
  });
});

describe('serve --upstream: usage errors', () => {
  test('with a backend command, a plain-http remote URL, a reserved or malformed header line', async () => {
    const dir = tmpDir();
    const both = await run(['serve', '--no-auth', '--upstream', 'http://127.0.0.1:9/mcp', '--', 'true']);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--upstream cannot be used with a backend command/);
    const remote = await run(['serve', '--no-auth', '--upstream', 'http://mcp.example.com/mcp']);
    assert.equal(remote.code, 2, remote.stderr);
    assert.match(remote.stderr, /--upstream/);
    const reserved = path.join(dir, 'reserved');
    fs.writeFileSync(reserved, 'Mcp-Session-Id: mine\n', { mode: 0o600 });
    const r1 = await run(['serve', '--no-auth', '--upstream', 'http://127.0.0.1:9/mcp', '--upstream-header-file', reserved]);
    assert.equal(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, /Mcp-Session-Id is set by mcpauth itself/);
    const bad = path.join(dir, 'bad');
    fs.writeFileSync(bad, 'no colon s3cr3t-value\n', { mode: 0o600 });
    const r2 = await run(['serve', '--no-auth', '--upstream', 'http://127.0.0.1:9/mcp', '--upstream-header-file', bad]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /not 'Name: value'/);
    assert.ok(!r2.stderr.includes('s3cr3t'));
    const env = await run(['serve', '--no-auth', '--upstream', 'http://127.0.0.1:9/mcp'],
      { env: { MCPAUTH_UPSTREAM_HEADER: 'Accept: text/html' } });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /MCPAUTH_UPSTREAM_HEADER: Accept is set by mcpauth itself/);
    const alone = await run(['serve', '--no-auth', '--upstream-header-file', bad]);
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /needs --upstream/);
  });
});
