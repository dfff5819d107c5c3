// Integration tests for the legacy HTTP+SSE transport of `mcpauth serve` (MCP 2024-11-05,
// issue 5): GET /sse opens a stream whose first event names the messages endpoint,
// POST /messages?session_id= is answered 202 and its answers come down the stream; the
// same token checks as the MCP endpoint, sessions bound to subject and client, 400/404
// answers, --no-legacy-sse, custom paths, a client disconnect ending the session, SIGTERM,
// and a stdio backend through the one stream. A small fake authorization server answers
// RFC 7662 introspection. Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-legacy-sse.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT, run, startServe, startHttpServer, tmpDir } from '../lib/harness.mjs';
import { sleep } from '../lib/http.mjs';

const CLIENT_ID = 'rs-client';
const CLIENT_SECRET = 'rs-secret';
const ECHO = path.join(REPO_ROOT, 'tests/fixtures/backends/echo.mjs');
const HUGE = path.join(REPO_ROOT, 'tests/fixtures/backends/huge-line.mjs');
const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'legacy-test', version: '1' } },
};

/** Parses a text/event-stream body into [{event, data, comment}]. */
function parseEvents(text) {
  const events = [];
  for (const block of text.split('\n\n').slice(0, -1)) {
    const e = { event: 'message', data: undefined, comment: false };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) e.comment = true;
      else if (line.startsWith('event: ')) e.event = line.slice(7);
      else if (line.startsWith('data: ')) e.data = (e.data ?? '') + line.slice(6);
    }
    events.push(e);
  }
  return events;
}

/**
 * GET the SSE stream. Resolves once the headers are in: {status, headers, text(),
 * events(), waitFor(pred), ended, close()}.
 */
function openStream(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      let data = '';
      const waiters = new Set();
      res.setEncoding('utf8');
      const ended = new Promise((r) => { res.on('end', r); res.on('close', r); });
      res.on('data', (d) => { data += d; for (const w of [...waiters]) w(); });
      res.on('error', () => {});
      const events = () => parseEvents(data).filter((e) => !e.comment);
      resolve({
        status: res.statusCode,
        headers: res.headers,
        text: () => data,
        events,
        ended,
        waitFor: (pred, timeoutMs = 10000) => new Promise((ok, fail) => {
          const check = () => {
            const found = events().find(pred);
            if (!found) return;
            waiters.delete(check);
            clearTimeout(timer);
            ok(found);
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            fail(new Error(`no matching event within ${timeoutMs} ms; got:\n${data}`));
          }, timeoutMs);
          waiters.add(check);
          check();
        }),
        close: () => req.destroy(),
        pause: () => res.pause(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens the stream and returns it with its messages URL (absolute). */
async function openSession(serve, headers = {}, ssePath = '/sse') {
  const stream = await openStream(serve.url(ssePath), headers);
  assert.equal(stream.status, 200, stream.text());
  const endpoint = await stream.waitFor((e) => e.event === 'endpoint');
  return { stream, endpoint: endpoint.data, messages: serve.url(endpoint.data) };
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A POST on a connection of its own (Connection: close), so that the kernel spreads
 * them over the workers: a stream and its POSTs then land on different ones. */
function postFresh(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', connection: 'close', ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/** POSTs a request and waits for its answer on the stream. */
async function call(session, message, headers = {}) {
  const r = await post(session.messages, message, headers);
  assert.equal(r.status, 202, r.text);
  const e = await session.stream.waitFor((ev) => ev.event === 'message' && JSON.parse(ev.data).id === message.id);
  return JSON.parse(e.data);
}

describe('legacy HTTP+SSE transport without authentication', () => {
  let serve;
  before(async () => { serve = await startServe(['--no-auth']); });
  after(async () => {
    const { code } = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  });

  test('the stream opens with the endpoint event, a relative URI with the session id', async () => {
    const s = await openSession(serve);
    try {
      assert.match(s.stream.headers['content-type'], /^text\/event-stream/);
      assert.match(s.endpoint, /^\/messages\?session_id=[0-9a-f]{32}$/);
      assert.equal(s.stream.events()[0].event, 'endpoint');
    } finally { s.stream.close(); }
  });

  test('initialize (2024-11-05), tools/list and hello_world: 202, answers on the stream', async () => {
    const s = await openSession(serve);
    try {
      const init = await call(s, INIT);
      assert.equal(init.result.protocolVersion, '2024-11-05');
      assert.equal(init.result.serverInfo.name, 'mcpauth');
      assert.equal((await post(s.messages, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
      const list = await call(s, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
      assert.ok(list.result.tools.some((t) => t.name === 'hello_world'));
      const hello = await call(s, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'hello_world', arguments: {} } },
        { 'mcp-protocol-version': '2024-11-05' });
      assert.equal(hello.result.content[0].text, 'Hello, anonymous user!');
      const messages = s.stream.events().filter((e) => e.event === 'message');
      assert.deepEqual(messages.map((e) => JSON.parse(e.data).id), [1, 2, 3]);
    } finally { s.stream.close(); }
  });

  test('a newer protocol version is negotiated as usual', async () => {
    const s = await openSession(serve);
    try {
      const init = await call(s, { ...INIT, params: { ...INIT.params, protocolVersion: '2025-06-18' } });
      assert.equal(init.result.protocolVersion, '2025-06-18');
    } finally { s.stream.close(); }
  });

  test('bad JSON and invalid messages: 400 with a JSON-RPC error; nothing on the stream', async () => {
    const s = await openSession(serve);
    try {
      const bad = await post(s.messages, '{"jsonrpc":');
      assert.equal(bad.status, 400);
      assert.equal(JSON.parse(bad.text).error.code, -32700);
      const invalid = await post(s.messages, { jsonrpc: '1.0', id: 1, method: 'ping' });
      assert.equal(invalid.status, 400);
      assert.equal(JSON.parse(invalid.text).error.code, -32600);
      const batch = await post(s.messages, [{ jsonrpc: '2.0', id: 1, method: 'ping' }]);
      assert.equal(batch.status, 400);
      const wrongType = await post(s.messages, '{}', { 'content-type': 'text/plain' });
      assert.equal(wrongType.status, 415);
      const badVersion = await post(s.messages, { jsonrpc: '2.0', id: 9, method: 'ping' }, { 'mcp-protocol-version': '1999-01-01' });
      assert.equal(badVersion.status, 400);
      await sleep(100);
      assert.equal(s.stream.events().filter((e) => e.event === 'message').length, 0);
    } finally { s.stream.close(); }
  });

  test('unknown, malformed or missing session id: 404', async () => {
    for (const q of ['?session_id=0123456789abcdef0123456789abcdef', '?session_id=nothex', '']) {
      const r = await post(serve.url(`/messages${q}`), { jsonrpc: '2.0', id: 1, method: 'ping' });
      assert.equal(r.status, 404, q);
      assert.equal(JSON.parse(r.text).error.code, -32001);
    }
  });

  test('wrong methods: 405 with Allow', async () => {
    const r1 = await fetch(serve.url('/sse'), { method: 'POST', body: '{}' });
    assert.equal(r1.status, 405);
    assert.match(r1.headers.get('allow'), /GET/);
    const r2 = await fetch(serve.url('/messages'));
    assert.equal(r2.status, 405);
    assert.match(r2.headers.get('allow'), /POST/);
  });

  test('a client that disconnects ends its session: its POSTs then get 404', async () => {
    const s = await openSession(serve);
    await call(s, INIT);
    s.stream.close();
    await serve.waitForLog(/"GET \/sse" 200 .*client went away/);
    const r = await post(s.messages, { jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.equal(r.status, 404);
  });

  test('an idle stream gets a keep-alive comment every 15 s', { timeout: 40000 }, async () => {
    const s = await openSession(serve);
    try {
      await sleep(17000);
      assert.match(s.stream.text(), /\n\n: keepalive\n\n/);
    } finally { s.stream.close(); }
  });

  test('the Origin check applies to both paths', async () => {
    const r = await fetch(serve.url('/sse'), { headers: { origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    const p = await post(serve.url('/messages?session_id=0123456789abcdef0123456789abcdef'), '{}', { origin: 'http://evil.example' });
    assert.equal(p.status, 403);
  });
});

describe('legacy HTTP+SSE transport options', () => {
  test('--no-legacy-sse: both paths 404', async () => {
    const serve = await startServe(['--no-auth', '--no-legacy-sse']);
    try {
      assert.equal((await fetch(serve.url('/sse'))).status, 404);
      assert.equal((await post(serve.url('/messages?session_id=0123456789abcdef0123456789abcdef'), '{}')).status, 404);
    } finally { assert.equal((await serve.stop()).code, 0, serve.stderr()); }
  });

  test('--sse-path and --messages-path move the transport (from --config too)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    fs.writeFileSync(file, JSON.stringify({ 'messages-path': '/legacy/messages' }));
    const serve = await startServe(['--no-auth', '--config', file, '--sse-path', '/legacy/sse']);
    try {
      assert.equal((await fetch(serve.url('/sse'))).status, 404);
      const s = await openSession(serve, {}, '/legacy/sse');
      try {
        assert.match(s.endpoint, /^\/legacy\/messages\?session_id=[0-9a-f]{32}$/);
        const init = await call(s, INIT);
        assert.equal(init.id, 1);
      } finally { s.stream.close(); }
    } finally { assert.equal((await serve.stop()).code, 0, serve.stderr()); }
  });

  test('paths that collide with the MCP endpoint or its metadata: usage error', async () => {
    for (const args of [['--sse-path', '/mcp'], ['--messages-path', '/.well-known/oauth-protected-resource/mcp'],
      ['--sse-path', 'relative'], ['--sse-path', '/same', '--messages-path', '/same']]) {
      const r = await run(['serve', '--no-auth', '--workers', '1', '--listen', '127.0.0.1:0',
        '--resource', 'http://127.0.0.1:9/mcp', ...args], { timeoutMs: 10000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /sse-path|messages-path/);
    }
  });

  test('--stateless has no sessions, so no legacy transport: 404', async () => {
    const serve = await startServe(['--no-auth', '--stateless']);
    try {
      assert.equal((await fetch(serve.url('/sse'))).status, 404);
    } finally { assert.equal((await serve.stop()).code, 0, serve.stderr()); }
  });


  test('--max-sessions counts the legacy sessions: 503 beyond', async () => {
    const serve = await startServe(['--no-auth', '--max-sessions', '1']);
    try {
      const s = await openSession(serve);
      try {
        await call(s, INIT);
        const second = await fetch(serve.url('/sse'));
        assert.equal(second.status, 503);
      } finally { s.stream.close(); }
    } finally { assert.equal((await serve.stop()).code, 0, serve.stderr()); }
  });

  test('SIGTERM ends the open streams and serve exits 0', async () => {
    const serve = await startServe(['--no-auth']);
    const s = await openSession(serve);
    const exited = serve.stop();
    await s.stream.ended;
    assert.equal((await exited).code, 0);
  });
});

describe('legacy HTTP+SSE transport with tokens', () => {
  let as, serve, secretFile;
  const tokens = new Map();
  before(async () => {
    as = await startHttpServer(async (req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: as.origin, token_endpoint: `${as.origin}/token`,
          introspection_endpoint: `${as.origin}/introspect`, response_types_supported: ['code'] }));
        return;
      }
      let body = '';
      for await (const d of req) body += d;
      const token = new URLSearchParams(body).get('token');
      const expected = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_client"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(tokens.get(token) ?? { active: false }));
    });
    secretFile = path.join(tmpDir(), 'secret');
    fs.writeFileSync(secretFile, CLIENT_SECRET, { mode: 0o600 });
    serve = await startServe(['--issuer', as.origin, '--client-id', CLIENT_ID, '--client-secret-file', secretFile]);
    const now = Math.floor(Date.now() / 1000);
    const claims = (sub, client) => ({ active: true, sub, client_id: client, scope: 'mcp', aud: serve.resource, iss: as.origin, iat: now, exp: now + 3600 });
    tokens.set('alice-token', claims('alice', 'client-a'));
    tokens.set('alice-other-client', claims('alice', 'client-b'));
    tokens.set('bob-token', claims('bob', 'client-a'));
    tokens.set('no-scope', { ...claims('carol', 'client-a'), scope: 'other' });
  });
  after(async () => {
    const { code } = await serve.stop();
    await as?.stop();
    assert.equal(code, 0, serve.stderr());
  });
  const bearer = (t) => ({ authorization: `Bearer ${t}` });

  test('401 with the resource metadata challenge on both paths without a token', async () => {
    const metadataUrl = `${serve.origin}/.well-known/oauth-protected-resource/mcp`;
    const g = await fetch(serve.url('/sse'));
    assert.equal(g.status, 401);
    assert.match(g.headers.get('www-authenticate'), new RegExp(`resource_metadata="${metadataUrl}"`));
    const p = await post(serve.url('/messages?session_id=0123456789abcdef0123456789abcdef'), '{}');
    assert.equal(p.status, 401);
    assert.match(p.headers.get('www-authenticate'), /^Bearer /);
    const bad = await fetch(serve.url('/sse'), { headers: bearer('unknown') });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get('www-authenticate'), /invalid_token/);
    const scope = await fetch(serve.url('/sse'), { headers: bearer('no-scope') });
    assert.equal(scope.status, 403);
    assert.match(scope.headers.get('www-authenticate'), /insufficient_scope/);
  });

  test('per-tool scopes hold here too: tools/list filtered, a forbidden call gets the 403 step-up', async () => {
    const scoped = await startServe(['--issuer', as.origin, '--client-id', CLIENT_ID, '--client-secret-file', secretFile,
      '--tool-scope', 'hello_world=admin']);
    const now = Math.floor(Date.now() / 1000);
    tokens.set('scoped-alice', { active: true, sub: 'alice', client_id: 'client-a', scope: 'mcp', aud: scoped.resource,
      iss: as.origin, iat: now, exp: now + 3600 });
    const auth = bearer('scoped-alice');
    let s;
    try {
      s = await openSession(scoped, auth);
      await call(s, INIT, auth);
      const list = await call(s, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, auth);
      const names = list.result.tools.map((t) => t.name);
      assert.ok(names.includes('whoami'), names.join());
      assert.ok(!names.includes('hello_world'), names.join());
      const refused = await post(s.messages,
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }, auth);
      assert.equal(refused.status, 403, refused.text);
      const challenge = refused.headers.get('www-authenticate');
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, /scope="mcp admin"/);
      assert.match(challenge, /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
      // The refused call never reached the engine: no answer with its id on the stream.
      const who = await call(s, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, auth);
      assert.ok(who.result);
      assert.ok(!s.stream.events().some((e) => e.event === 'message' && JSON.parse(e.data).id === 3));
    } finally {
      s?.stream.close();
      assert.equal((await scoped.stop()).code, 0, scoped.stderr());
    }
  });

  test('hello_world greets the token\'s subject; another subject or client gets 404', async () => {
    const s = await openSession(serve, bearer('alice-token'));
    try {
      await call(s, INIT, bearer('alice-token'));
      const hello = await call(s, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }, bearer('alice-token'));
      assert.equal(hello.result.content[0].text, 'Hello, user with ID alice!');
      for (const t of ['bob-token', 'alice-other-client']) {
        const r = await post(s.messages, { jsonrpc: '2.0', id: 3, method: 'ping' }, bearer(t));
        assert.equal(r.status, 404, t);
      }
      const noToken = await post(s.messages, { jsonrpc: '2.0', id: 3, method: 'ping' });
      assert.equal(noToken.status, 401);
      await serve.waitForLog(/"GET \/sse"|"POST \/messages" 202 .*sub=alice/);
      assert.doesNotMatch(serve.stderr(), /alice-token/);
    } finally { s.stream.close(); }
  });

  test('--workers 3: the worker holding the stream checks the handed-over token: others\' sessions stay 404', async () => {
    const multi = await startServe(['--issuer', as.origin, '--client-id', CLIENT_ID, '--client-secret-file', secretFile,
      '--workers', '3']);
    const now = Math.floor(Date.now() / 1000);
    for (const [t, sub] of [['multi-alice', 'alice'], ['multi-bob', 'bob']]) {
      tokens.set(t, { active: true, sub, client_id: 'client-a', scope: 'mcp', aud: multi.resource, iss: as.origin, iat: now, exp: now + 3600 });
    }
    try {
      await exerciseWorkers(multi, bearer('multi-alice'));
      const s = await openSession(multi, bearer('multi-alice'));
      try {
        for (let i = 0; i < 6; i++) {
          const r = await postFresh(s.messages, { jsonrpc: '2.0', id: i, method: 'ping' }, bearer('multi-bob'));
          assert.equal(r.status, 404, r.text);
        }
      } finally { s.stream.close(); }
      assert.doesNotMatch(multi.stderr(), /multi-alice|multi-bob/);
    } finally { await stopClean(multi); }
  });
});

/** Stops serve: exit 0, and no sanitizer report from any worker (a worker's own exit
 * status does not reach the parent's). */
async function stopClean(serve) {
  assert.equal((await serve.stop()).code, 0, serve.stderr());
  assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
}

/** Streams and POSTs over several workers: every POST on its own connection, the answers
 * in order on the stream whichever worker took the POST. */
async function exerciseWorkers(serve, auth = {}) {
  const STREAMS = 4;
  const CALLS = 30;
  const sessions = [];
  try {
    for (let i = 0; i < STREAMS; i++) sessions.push(await openSession(serve, auth));
    await Promise.all(sessions.map(async (s) => {
      const init = await postFresh(s.messages, INIT, auth);
      assert.equal(init.status, 202, init.text);
      await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === 1);
      for (let i = 0; i < CALLS; i++) {
        const id = 100 + i;
        const message = i % 2
          ? { jsonrpc: '2.0', id, method: 'ping' }
          : { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'hello_world', arguments: {} } };
        const r = await postFresh(s.messages, message, auth);
        assert.equal(r.status, 202, r.text);
      }
      await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === 100 + CALLS - 1);
      const ids = s.stream.events().filter((e) => e.event === 'message').map((e) => JSON.parse(e.data).id);
      assert.deepEqual(ids, [1, ...Array.from({ length: CALLS }, (_, i) => 100 + i)]);
    }));
    // A message for a session nobody holds: 404 from whichever worker takes it.
    const gone = await postFresh(serve.url('/messages?session_id=0123456789abcdef0123456789abcdef'),
      { jsonrpc: '2.0', id: 1, method: 'ping' }, auth);
    assert.equal(gone.status, 404, gone.text);
  } finally {
    for (const s of sessions) s.stream.close();
  }
  // Some POSTs were handed from the worker that took them to the stream's.
  await serve.waitForLog(/"POST \/messages" 202 .*\(handed to the stream's worker\)/);
}

describe('legacy HTTP+SSE transport over several workers', () => {
  for (const workers of [null, 3]) {
    test(`${workers ? `--workers ${workers}` : 'the default worker count'}: POSTs reach the stream whichever worker takes them`, async () => {
      const serve = await startServe(['--no-auth', ...(workers ? ['--workers', String(workers)] : [])], { defaultWorkers: true });
      try {
        assert.doesNotMatch(serve.stderr(), /legacy HTTP\+SSE transport off/);
        await exerciseWorkers(serve);
        // A stream ended by its client: POSTs for it are 404 on every worker.
        const s = await openSession(serve);
        s.stream.close();
        await sleep(300);
        for (let i = 0; i < 6; i++) {
          const r = await postFresh(s.messages, { jsonrpc: '2.0', id: i, method: 'ping' });
          assert.equal(r.status, 404, r.text);
        }
      } finally { await stopClean(serve); }
    });
  }

  test('--workers 3 with a stdio backend: the child answers on the stream whichever worker takes the POSTs', async () => {
    const serve = await startServe(['--no-auth', '--workers', '3', '--', process.execPath, ECHO]);
    try {
      const sessions = [];
      try {
        for (let i = 0; i < 3; i++) sessions.push(await openSession(serve));
        await Promise.all(sessions.map(async (s, n) => {
          assert.equal((await postFresh(s.messages, INIT)).status, 202);
          await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === 1);
          for (let i = 0; i < 10; i++) {
            const r = await postFresh(s.messages, { jsonrpc: '2.0', id: 10 + i, method: 'tools/call',
              params: { name: 'echo', arguments: { session: n, i } } });
            assert.equal(r.status, 202, r.text);
          }
          const last = await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === 19);
          assert.deepEqual(JSON.parse(JSON.parse(last.data).result.content[0].text), { session: n, i: 9 });
        }));
      } finally {
        for (const s of sessions) s.stream.close();
      }
      await serve.waitForLog(/"POST \/messages" 202 .*\(handed to the stream's worker\)/);
    } finally { await stopClean(serve); }
  });

  test('a large message (over the datagram size) is handed over whole', async () => {
    const serve = await startServe(['--no-auth', '--workers', '2']);
    try {
      const s = await openSession(serve);
      try {
        assert.equal((await postFresh(s.messages, INIT)).status, 202);
        const big = 'x'.repeat(300 * 1024);
        for (let i = 0; i < 8; i++) {
          const r = await postFresh(s.messages, { jsonrpc: '2.0', id: 10 + i, method: 'tools/call',
            params: { name: 'hello_world', arguments: { padding: big } } });
          assert.equal(r.status, 202, r.text);
        }
        await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === 17);
      } finally { s.stream.close(); }
    } finally { await stopClean(serve); }
  });
});

describe('legacy HTTP+SSE transport with a stdio backend', () => {
  let serve;
  before(async () => { serve = await startServe(['--no-auth', '--', process.execPath, ECHO]); });
  after(async () => {
    const { code } = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  });

  test('responses and the child\'s notifications all come down the one stream', async () => {
    const s = await openSession(serve);
    try {
      const init = await call(s, INIT);
      assert.equal(init.result.protocolVersion, '2024-11-05');
      assert.equal((await post(s.messages, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
      const echo = await call(s, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { x: 1 } } });
      assert.deepEqual(JSON.parse(echo.result.content[0].text), { x: 1 });
      const progress = await call(s, { jsonrpc: '2.0', id: 3, method: 'tools/call',
        params: { name: 'progress', arguments: {}, _meta: { progressToken: 'p1' } } });
      assert.ok(progress.result);
      const notes = s.stream.events().filter((e) => e.event === 'message' && JSON.parse(e.data).method === 'notifications/progress');
      assert.equal(notes.length, 3);
      assert.ok(s.stream.events().every((e) => e.data !== ''), 'no priming events');
      const again = await post(s.messages, { ...INIT, id: 4 });
      assert.equal(again.status, 202);
      const refused = await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === null);
      assert.match(JSON.parse(refused.data).error.message, /already initialized/);
    } finally { s.stream.close(); }
  });

  test('the child\'s own request (sampling) goes on the stream; the client\'s answer is POSTed', async () => {
    const s = await openSession(serve);
    try {
      await call(s, INIT);
      const r = await post(s.messages, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'ask', arguments: { prompt: 'hi' } } });
      assert.equal(r.status, 202);
      const ask = await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).method === 'sampling/createMessage');
      const req = JSON.parse(ask.data);
      const answer = await post(s.messages, { jsonrpc: '2.0', id: req.id, result: { role: 'assistant', model: 'm', content: { type: 'text', text: 'sampled' } } });
      assert.equal(answer.status, 202);
      const done = await s.stream.waitFor((e) => e.event === 'message' && JSON.parse(e.data).id === 5);
      assert.match(done.data, /sampled/);
    } finally { s.stream.close(); }
  });

  test('a client that does not read its stream loses the session (logged)', async () => {
    const huge = await startServe(['--no-auth', '--backend-max-line', String(32 * 1024 * 1024),
      '--backend-max-buffer', '65536', '--', process.execPath, HUGE]);
    try {
      const s = await openSession(huge);
      await call(s, INIT);
      s.stream.pause();
      for (let id = 2; id <= 4; id++) {
        const r = await post(s.messages, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'huge', arguments: { bytes: 8 * 1024 * 1024 } } });
        if (r.status === 404) break;
        assert.equal(r.status, 202);
        await sleep(300);
      }
      await huge.waitForLog(/warning: legacy SSE session [0-9a-f]{12} dropped: the client leaves \d+ bytes unread/, 20000);
      assert.equal((await post(s.messages, { jsonrpc: '2.0', id: 9, method: 'ping' })).status, 404);
      s.stream.close();
    } finally { assert.equal((await huge.stop()).code, 0, huge.stderr()); }
  });

  test('a disconnect stops the session\'s child', async () => {
    const s = await openSession(serve);
    await call(s, INIT);
    const pid = await call(s, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'pid', arguments: {} } });
    const childPid = Number(pid.result.content[0].text);
    assert.ok(childPid > 0);
    s.stream.close();
    const deadline = Date.now() + 10000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      try { process.kill(childPid, 0); await sleep(100); } catch { alive = false; }
    }
    assert.equal(alive, false, 'the child exited');
    assert.equal((await post(s.messages, { jsonrpc: '2.0', id: 3, method: 'ping' })).status, 404);
  });
});
