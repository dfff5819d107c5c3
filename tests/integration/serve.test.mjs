// Integration tests for `mcpauth serve` (issue 3) against a FAKE authorization server:
// RFC 9728 metadata, RFC 6750 challenges, RFC 7662 introspection (client auth, audience,
// issuer, expiry, scope), the validation cache (TTL, negative TTL, single flight), the
// authorization server failing (503 + Retry-After, then recovery), MCP Streamable HTTP
// with sessions bound to the token's subject, Origin/Host checks, HTTP limits, and
// operations (logs, metrics, config file, signals, workers).
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { run, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { nowS, sleep, formDecode, request, parseChallenge } from '../lib/http.mjs';

// ---------------------------------------------------------------------------------------
// The fake authorization server

// The resource server's credentials at the fake AS. Both need form-urlencoding before
// they go into the Basic header (RFC 6749 §2.3.1), which the AS checks.
const CLIENT_ID = 'rs:client/1';
const CLIENT_SECRET = 's3cr&t+/=:%x y';

/**
 * A fake RFC 8414 + RFC 7662 authorization server on 127.0.0.1.
 * - tokens: Map token → claims (the introspection answer is {active: true, ...claims});
 *   an unknown token is {active: false}. A claims object may carry `_delayMs` (answer
 *   that token late) — underscore keys are not sent.
 * - mode: 'ok' | '500' | 'garbage' | 'slow' (answers after slowMs).
 * - down()/up(): close the port / listen again on the same port.
 * - calls (all introspections), callsFor(token), authFailures, emits 'introspect'(token).
 */
async function startFakeAS({ clientId = CLIENT_ID, clientSecret = CLIENT_SECRET } = {}) {
  const as = new EventEmitter();
  as.tokens = new Map();
  as.mode = 'ok';
  as.slowMs = 3000;
  as.calls = 0;
  as.authFailures = 0;
  as.badRequests = [];
  as.authMethods = [];
  as.noIntrospectionEndpoint = false;
  const perToken = new Map();
  as.callsFor = (token) => perToken.get(token) ?? 0;
  const timers = new Set();
  const later = (ms, fn) => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer: as.issuer,
        token_endpoint: `${as.issuer}/token`,
        introspection_endpoint: as.noIntrospectionEndpoint ? undefined : `${as.issuer}/introspect`,
        introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
        response_types_supported: ['code'],
      }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/introspect') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        as.calls++;
        const form = new URLSearchParams(body);
        const token = form.get('token');
        perToken.set(token, (perToken.get(token) ?? 0) + 1);
        as.emit('introspect', token);
        if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) {
          as.badRequests.push(`content-type ${req.headers['content-type']}`);
        }
        // RFC 6749 §2.3.1: Basic with the form-urlencoded id and secret, or (without an
        // Authorization header) client_id and client_secret in the form.
        let id = null;
        let secret = null;
        if (req.headers.authorization !== undefined) {
          const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization);
          const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
          const colon = decoded.indexOf(':');
          id = colon >= 0 ? formDecode(decoded.slice(0, colon)) : null;
          secret = colon >= 0 ? formDecode(decoded.slice(colon + 1)) : null;
          as.authMethods.push(form.has('client_secret') ? 'basic+post' : 'client_secret_basic');
        } else {
          id = form.get('client_id');
          secret = form.get('client_secret');
          as.authMethods.push('client_secret_post');
        }
        if (id !== clientId || secret !== clientSecret) {
          as.authFailures++;
          res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="as"' });
          res.end(JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' }));
          return;
        }
        const claims = as.tokens.get(token);
        const answer = () => {
          if (res.destroyed) return;
          if (as.mode === '500') {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end('{"error":"server_error"}');
          } else if (as.mode === 'garbage') {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('<html>this is not {json');
          } else {
            const doc = { active: false };
            if (claims) {
              doc.active = true; // claims may override it (a non-boolean active, say)
              for (const [k, v] of Object.entries(claims)) if (!k.startsWith('_')) doc[k] = v;
            }
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(doc));
          }
        };
        const delay = as.mode === 'slow' ? as.slowMs : (claims?._delayMs ?? 0);
        if (delay > 0) later(delay, answer);
        else answer();
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not_found"}');
  });
  const listenOn = (port) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
  as.port = await listenOn(0);
  as.issuer = `http://127.0.0.1:${as.port}`;
  let listening = true;
  const close = () => new Promise((resolve) => {
    listening = false;
    server.close(() => resolve());
    server.closeAllConnections();
  });
  as.down = close;
  as.up = async () => { await listenOn(as.port); listening = true; };
  as.stop = async () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    if (listening) await close();
  };
  return as;
}

// ---------------------------------------------------------------------------------------
// HTTP helpers

const MCP_ACCEPT = 'application/json, text/event-stream';

/** POST one JSON-RPC message to the serve's MCP endpoint. */
function mcpPost(serve, message, { token, session, version, headers = {} } = {}) {
  const h = { accept: MCP_ACCEPT, 'content-type': 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (session) h['mcp-session-id'] = session;
  if (version) h['mcp-protocol-version'] = version;
  return request(serve.url('/mcp'), { method: 'POST', headers: h, body: JSON.stringify(message) });
}

const INITIALIZE = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'serve-test', version: '1.0.0' } },
};

/** initialize + notifications/initialized; returns the session id. */
async function openSession(serve, token) {
  const r = await mcpPost(serve, INITIALIZE, { token });
  assert.equal(r.status, 200, r.body);
  const session = r.headers['mcp-session-id'];
  assert.ok(session, 'initialize must answer with Mcp-Session-Id');
  const n = await mcpPost(serve, { jsonrpc: '2.0', method: 'notifications/initialized' },
    { token, session, version: '2025-11-25' });
  assert.equal(n.status, 202, n.body);
  return session;
}

async function callTool(serve, token, session, name, id = 7) {
  const r = await mcpPost(serve, { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } },
    { token, session, version: '2025-11-25' });
  assert.equal(r.status, 200, r.body);
  const msg = r.json();
  assert.equal(msg.id, id);
  assert.ok(msg.result, r.body);
  return { msg, body: r.body };
}

const sha12 = (token) => crypto.createHash('sha256').update(token).digest('hex').slice(0, 12);
/** Waits until the wall clock (whole seconds, as the server's time(NULL)) reaches `second` + ms. */
async function untilSecond(second, extraMs = 100) {
  const ms = second * 1000 + extraMs - Date.now();
  if (ms > 0) await sleep(ms);
}

// Every token handed out, to check that none ever reaches a log.
const issuedTokens = new Set();
function freshToken(prefix = 'tok') {
  const t = `${prefix}-${crypto.randomBytes(12).toString('base64url')}`;
  issuedTokens.add(t);
  return t;
}

// ---------------------------------------------------------------------------------------
// Raw sockets (pipelining, keep-alive, slow-loris)

/** A raw connection that collects what it reads. */
function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const conn = { socket, data: Buffer.alloc(0), ended: false, closedAt: null };
    const emitter = new EventEmitter();
    conn.closed = new Promise((res) => socket.on('close', () => { conn.closedAt = Date.now(); res(); }));
    socket.on('data', (d) => { conn.data = Buffer.concat([conn.data, d]); emitter.emit('data'); });
    socket.on('end', () => { conn.ended = true; emitter.emit('data'); });
    socket.on('error', () => {});
    /** Waits until `n` complete responses have arrived (or fails after timeoutMs). */
    conn.responses = (n, timeoutMs = 5000) => new Promise((res, rej) => {
      const check = () => {
        const parsed = parseResponses(conn.data);
        if (parsed.length >= n) {
          cleanup();
          res(parsed);
        } else if (conn.ended) {
          cleanup();
          rej(new Error(`connection ended after ${parsed.length} of ${n} responses:\n${conn.data}`));
        }
      };
      const timer = setTimeout(() => { cleanup(); rej(new Error(`only ${parseResponses(conn.data).length} of ${n} responses within ${timeoutMs} ms:\n${conn.data}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); emitter.off('data', check); };
      emitter.on('data', check);
      check();
    });
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

/** Complete HTTP/1.1 responses in buf (Content-Length framing; 1xx/204/304 have no body). */
function parseResponses(buf) {
  const out = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = buf.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(head[0].split(' ')[1]);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let length = 0;
    if (headers['content-length'] !== undefined) length = Number(headers['content-length']);
    else if (headers['transfer-encoding']) throw new Error(`chunked responses not handled: ${head[0]}`);
    if (buf.length < end + 4 + length) break;
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') });
    at = end + 4 + length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Shared setup

let as; // the fake authorization server most servers use
let secretFile;
let main; // the main `mcpauth serve`
const serves = []; // every serve started here, stopped in after()

/** Starts a serve on the shared fake AS with the shared credentials plus `args`. */
async function startOn(authServer, args = [], opts = {}) {
  const base = ['--issuer', authServer.issuer, '--client-id', CLIENT_ID, '--client-secret-file', secretFile];
  const s = await startServe(typeof args === 'function' ? (port) => [...base, ...args(port)] : [...base, ...args], opts);
  serves.push(s);
  return s;
}

/** Good claims for `serve`'s resource, overridable. */
function claimsFor(serve, extra = {}) {
  const now = nowS();
  return { sub: 'u1', client_id: 'client-1', scope: 'mcp', aud: serve.resource, iss: as.issuer, iat: now, exp: now + 3600, ...extra };
}

/** A fresh token that the fake AS introspects as `claims` (or as claimsFor(main)). */
function tokenWith(claims, prefix) {
  const t = freshToken(prefix);
  as.tokens.set(t, claims ?? claimsFor(main));
  return t;
}

before(async () => {
  as = await startFakeAS();
  const dir = tmpDir();
  secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
  main = await startOn(as, [
    '--timeout', '1',
    '--header-timeout', '1',
    '--max-header-bytes', '4096',
    '--max-body-bytes', '65536',
    '--audience', 'urn:example:extra-audience',
    '--allowed-origin', 'https://app.example',
    // Most tests here open sessions as the same subject and client and never end them;
    // serve-session-limits.test.mjs tests the limit.
    '--max-sessions-per-identity', '0',
  ]);
});

after(async () => {
  await Promise.all(serves.map((s) => s.stop('SIGKILL')));
  await as?.stop();
});

// ---------------------------------------------------------------------------------------

describe('protected resource metadata (RFC 9728)', () => {
  test('GET /.well-known/oauth-protected-resource/mcp: the document, no token needed', async () => {
    const r = await request(main.url('/.well-known/oauth-protected-resource/mcp'));
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.deepEqual(r.json(), {
      resource: main.resource,
      authorization_servers: [as.issuer],
      scopes_supported: ['mcp'],
      bearer_methods_supported: ['header'],
      resource_name: 'mcpauth',
    });
    assert.equal(main.resource, `http://127.0.0.1:${main.port}/mcp`);
  });

  test('OPTIONS preflight on the metadata and on the MCP endpoint: 204 with CORS, no token', async () => {
    for (const p of ['/.well-known/oauth-protected-resource/mcp', '/mcp']) {
      const r = await request(main.url(p), {
        method: 'OPTIONS',
        headers: { origin: main.origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(r.status, 204, `${p}: ${r.body}`);
      assert.equal(r.headers['access-control-allow-origin'], '*', p);
      assert.match(r.headers['access-control-allow-methods'] ?? '', /GET/, p);
      assert.match(r.headers['access-control-allow-headers'] ?? '', /Authorization/i, p);
    }
  });

  test('HEAD on the metadata: 200, no body', async () => {
    const r = await request(main.url('/.well-known/oauth-protected-resource/mcp'), { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
  });

  test('a path-less resource: the root document, and the challenge points to it', async () => {
    const s = await startOn(as, (port) => ['--resource', `http://127.0.0.1:${port}`]);
    const prm = await request(s.url('/.well-known/oauth-protected-resource'));
    assert.equal(prm.status, 200, prm.body);
    assert.equal(prm.json().resource, `http://127.0.0.1:${s.port}`);
    const r = await request(s.url('/'), {
      method: 'POST', headers: { accept: MCP_ACCEPT, 'content-type': 'application/json' }, body: JSON.stringify(INITIALIZE),
    });
    assert.equal(r.status, 401, r.body);
    assert.equal(r.headers['www-authenticate'],
      `Bearer resource_metadata="http://127.0.0.1:${s.port}/.well-known/oauth-protected-resource", scope="mcp"`);
    const token = tokenWith(claimsFor(s));
    const ok = await request(s.url('/'), {
      method: 'POST',
      headers: { accept: MCP_ACCEPT, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(INITIALIZE),
    });
    assert.equal(ok.status, 200, ok.body);
    await s.stop();
  });

  test('the metadata is not served appended to the path, and POST to it is refused', async () => {
    assert.equal((await request(main.url('/mcp/.well-known/oauth-protected-resource'))).status, 404);
    const r = await request(main.url('/.well-known/oauth-protected-resource/mcp'), { method: 'POST', body: '' });
    assert.equal(r.status, 405);
  });
});

describe('RFC 6750 challenges', () => {
  const metadataUrl = () => `http://127.0.0.1:${main.port}/.well-known/oauth-protected-resource/mcp`;
  const noCredentials = () => `Bearer resource_metadata="${metadataUrl()}", scope="mcp"`;

  test('no Authorization: 401, resource_metadata and scope, no error, CORS, JSON body', async () => {
    const r = await mcpPost(main, INITIALIZE);
    assert.equal(r.status, 401, r.body);
    assert.equal(r.headers['www-authenticate'], noCredentials());
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.match(r.headers['access-control-expose-headers'] ?? '', /WWW-Authenticate/i);
    assert.match(r.headers['content-type'], /^application\/json/);
    const body = r.json();
    assert.equal(typeof body.error, 'string');
    assert.notEqual(body.error, 'invalid_token');
  });

  test('a non-Bearer scheme (Basic) is the same as no credentials', async () => {
    for (const value of ['Basic x', 'Basic dXNlcjpwYXNz']) {
      const r = await mcpPost(main, INITIALIZE, { headers: { authorization: value } });
      assert.equal(r.status, 401, value);
      assert.equal(r.headers['www-authenticate'], noCredentials(), value);
    }
  });

  test('GET and DELETE without a token are challenged too', async () => {
    for (const method of ['GET', 'DELETE']) {
      const r = await request(main.url('/mcp'), { method, headers: { accept: MCP_ACCEPT } });
      assert.equal(r.status, 401, method);
      assert.equal(r.headers['www-authenticate'], noCredentials(), method);
    }
  });

  for (const [name, value] of [
    ['"Bearer" alone', 'Bearer'],
    ['"Bearer a b"', 'Bearer a b'],
    ['two Authorization fields', ['Bearer aaaa', 'Bearer bbbb']],
    ['a character outside b64token', 'Bearer abc"def'],
  ]) {
    test(`malformed Authorization (${name}): 400 invalid_request`, async () => {
      const calls = as.calls;
      const r = await mcpPost(main, INITIALIZE, { headers: { authorization: value } });
      assert.equal(r.status, 400, r.body);
      const c = parseChallenge(r.headers['www-authenticate']);
      assert.equal(c.error, 'invalid_request');
      assert.equal(r.json().error, 'invalid_request');
      assert.equal(as.calls, calls, 'a malformed header must not reach the AS');
    });
  }

  test('the scheme name is case-insensitive ("bearer", "BEARER")', async () => {
    for (const scheme of ['bearer', 'BEARER']) {
      const token = tokenWith();
      const r = await mcpPost(main, INITIALIZE, { headers: { authorization: `${scheme} ${token}` } });
      assert.equal(r.status, 200, `${scheme}: ${r.body}`);
    }
  });

  test('inactive token: 401 error="invalid_token"', async () => {
    const token = freshToken('unknown'); // the fake AS says {active: false}
    const r = await mcpPost(main, INITIALIZE, { token });
    assert.equal(r.status, 401, r.body);
    const c = parseChallenge(r.headers['www-authenticate']);
    assert.deepEqual(Object.keys(c).sort(), ['error', 'error_description', 'resource_metadata', 'scope']);
    assert.equal(c.error, 'invalid_token');
    assert.equal(c.resource_metadata, metadataUrl());
    assert.equal(c.scope, 'mcp');
    assert.equal(r.json().error, 'invalid_token');
    assert.equal(as.callsFor(token), 1);
  });

  test('a token only in the query string is ignored: 401 without error', async () => {
    const token = tokenWith();
    const r = await request(main.url(`/mcp?access_token=${token}`), {
      method: 'POST',
      headers: { accept: MCP_ACCEPT, 'content-type': 'application/json' },
      body: JSON.stringify(INITIALIZE),
    });
    assert.equal(r.status, 401, r.body);
    assert.equal(r.headers['www-authenticate'], noCredentials());
    assert.equal(as.callsFor(token), 0);
  });

  test('a query-string token next to a good header token: the header decides', async () => {
    const token = tokenWith();
    const r = await request(main.url('/mcp?access_token=garbage'), {
      method: 'POST',
      headers: { accept: MCP_ACCEPT, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(INITIALIZE),
    });
    assert.equal(r.status, 200, r.body);
  });

  const rejected = [
    ['expired (beyond the 30 s leeway)', () => ({ exp: nowS() - 120, iat: nowS() - 3600 })],
    ['without exp', () => ({ exp: undefined })],
    ['for another audience', () => ({ aud: 'https://other.example/mcp' })],
    ['for other audiences (array)', () => ({ aud: ['https://other.example/mcp', 'client-1'] })],
    ['without any audience', () => ({ aud: undefined })],
    ['from another issuer', () => ({ iss: 'https://evil.example' })],
    ['not yet valid (nbf far ahead)', () => ({ nbf: nowS() + 3600 })],
  ];
  for (const [name, extra] of rejected) {
    test(`token ${name}: 401 error="invalid_token"`, async () => {
      const token = tokenWith(claimsFor(main, extra()));
      const r = await mcpPost(main, INITIALIZE, { token });
      assert.equal(r.status, 401, r.body);
      const c = parseChallenge(r.headers['www-authenticate']);
      assert.equal(c.error, 'invalid_token');
      assert.equal(r.json().error, 'invalid_token');
    });
  }

  const accepted = [
    ['expired but within the leeway', () => ({ exp: nowS() - 5 })],
    ['with the resource in an aud array', () => ({ aud: ['https://other.example', main.resource] })],
    ['with the resource in the `resource` claim, no aud', () => ({ aud: undefined, resource: main.resource })],
    ['for the extra --audience', () => ({ aud: 'urn:example:extra-audience' })],
    ['without iss (checked only when present)', () => ({ iss: undefined })],
    ['with more scopes than needed', () => ({ scope: 'openid mcp profile' })],
  ];
  for (const [name, extra] of accepted) {
    test(`token ${name}: accepted`, async () => {
      const token = tokenWith(claimsFor(main, extra()));
      const r = await mcpPost(main, INITIALIZE, { token });
      assert.equal(r.status, 200, r.body);
    });
  }

  test('token without the required scope: 403 error="insufficient_scope", scope="mcp"', async () => {
    const token = tokenWith(claimsFor(main, { scope: 'openid profile' }));
    const r = await mcpPost(main, INITIALIZE, { token });
    assert.equal(r.status, 403, r.body);
    const c = parseChallenge(r.headers['www-authenticate']);
    assert.deepEqual(Object.keys(c).sort(), ['error', 'error_description', 'resource_metadata', 'scope']);
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'mcp');
    assert.equal(c.resource_metadata, metadataUrl());
    assert.equal(r.json().error, 'insufficient_scope');
  });

  test('error_description never carries " or \\ (remote text in the reason)', async () => {
    const nasty = [
      claimsFor(main, { iss: 'https://evil.example/"quoted"\\back' }),
      claimsFor(main, { aud: ['a"b\\c', 'x"'] }),
    ];
    for (const claims of nasty) {
      const token = tokenWith(claims);
      const r = await mcpPost(main, INITIALIZE, { token });
      assert.equal(r.status, 401, r.body);
      const c = parseChallenge(r.headers['www-authenticate']); // fails on a stray " or \
      assert.equal(c.error, 'invalid_token');
      assert.ok(c.error_description, 'a rejection with a reason has an error_description');
      assert.doesNotMatch(c.error_description, /["\\]/);
      assert.equal(r.json().error, 'invalid_token');
    }
  });
});

describe('the authorization server failing: 503 with Retry-After, then recovery', () => {
  let as2;
  let serve2;
  before(async () => {
    as2 = await startFakeAS();
    serve2 = await startOn(as2, ['--timeout', '1']);
  });
  after(async () => {
    await serve2?.stop('SIGKILL');
    await as2?.stop();
  });

  function good(prefix) {
    const t = freshToken(prefix);
    as2.tokens.set(t, { ...claimsFor(serve2), iss: as2.issuer });
    return t;
  }

  async function expect503(token) {
    const started = Date.now();
    const r = await mcpPost(serve2, INITIALIZE, { token });
    assert.equal(r.status, 503, r.body);
    assert.match(r.headers['retry-after'] ?? '', /^\d+$/, 'Retry-After');
    assert.equal(r.headers['www-authenticate'], undefined, 'a 503 is no challenge');
    assert.ok(r.json().error, r.body);
    return Date.now() - started;
  }

  async function expectRecovery(token) {
    const r = await mcpPost(serve2, INITIALIZE, { token });
    assert.equal(r.status, 200, `after recovery: ${r.body}`);
  }

  test('AS down (port closed) → 503, AS back → 200 with the same token (the 503 is not cached)', async () => {
    const token = good('down');
    await as2.down();
    try {
      await expect503(token);
      await expect503(token);
    } finally {
      await as2.up();
    }
    await expectRecovery(token);
    assert.equal(as2.callsFor(token), 1);
  });

  test('AS answers 500 → 503, then recovery', async () => {
    const token = good('as500');
    as2.mode = '500';
    try {
      await expect503(token);
    } finally {
      as2.mode = 'ok';
    }
    await expectRecovery(token);
    assert.equal(as2.callsFor(token), 2);
  });

  test('AS answers garbage (200, not JSON) → 503, then recovery', async () => {
    const token = good('garbage');
    as2.mode = 'garbage';
    try {
      await expect503(token);
    } finally {
      as2.mode = 'ok';
    }
    await expectRecovery(token);
  });

  test('AS slower than --timeout 1 → 503 within ~1 s, then recovery', async () => {
    const token = good('slow');
    as2.mode = 'slow';
    as2.slowMs = 4000;
    let took;
    try {
      took = await expect503(token);
    } finally {
      as2.mode = 'ok';
    }
    assert.ok(took < 3000, `503 after ${took} ms, --timeout is 1 s`);
    await expectRecovery(token);
  });

  test('our own client credentials refused by the AS (401) → 503, logged as a configuration problem', async () => {
    const s = await startServe(['--issuer', as2.issuer, '--client-id', CLIENT_ID, '--timeout', '1'],
      { env: { MCPAUTH_CLIENT_SECRET: 'wrong secret' } });
    serves.push(s);
    const token = good('badcreds');
    const failures = as2.authFailures;
    const r = await mcpPost(s, INITIALIZE, { token });
    assert.equal(r.status, 503, r.body);
    assert.match(r.headers['retry-after'] ?? '', /^\d+$/);
    assert.equal(as2.authFailures, failures + 1);
    assert.match(s.stderr(), /credentials/i);
    assert.equal((await s.stop()).code, 0);
  });

  test('single flight with the AS failing: 10 concurrent requests → 1 introspection, 10 × 503', async () => {
    const token = good('sf503');
    as2.mode = 'slow';
    as2.slowMs = 4000;
    let results;
    try {
      results = await Promise.all(Array.from({ length: 10 }, () => mcpPost(serve2, INITIALIZE, { token })));
    } finally {
      as2.mode = 'ok';
    }
    assert.deepEqual(results.map((r) => r.status), Array(10).fill(503));
    assert.equal(as2.callsFor(token), 1);
    await expectRecovery(token);
  });

  test('the AS metadata without introspection_endpoint: exit 4 with one line naming --introspection-endpoint', async () => {
    as2.noIntrospectionEndpoint = true;
    try {
      const port = await freePort();
      const r = await run(['serve', '--issuer', as2.issuer, '--client-id', CLIENT_ID, '--client-secret-file', secretFile,
        '--listen', `127.0.0.1:${port}`, '--resource', `http://127.0.0.1:${port}/mcp`, '--workers', '1'], { timeoutMs: 10000 });
      assert.equal(r.code, 4, r.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /--introspection-endpoint/);
    } finally {
      as2.noIntrospectionEndpoint = false;
    }
  });
});

describe('introspection client', () => {
  test('client_secret_basic by default: form-urlencoded id and secret in Basic (no auth failure so far)', () => {
    assert.equal(as.authFailures, 0);
    assert.deepEqual(as.badRequests, []);
    assert.ok(as.authMethods.length > 0);
    assert.deepEqual([...new Set(as.authMethods)], ['client_secret_basic']);
  });

  test('--client-auth client_secret_post: id and secret in the form, no Authorization header', async () => {
    const s = await startOn(as, ['--client-auth', 'client_secret_post']);
    const token = tokenWith(claimsFor(s));
    const seen = as.authMethods.length;
    const r = await mcpPost(s, INITIALIZE, { token });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(as.authMethods.slice(seen), ['client_secret_post']);
    await s.stop();
  });

  test('--introspection-endpoint: no discovery at all (the issuer is never contacted)', async () => {
    const deadIssuer = `http://127.0.0.1:${await freePort()}`;
    const s = await startServe(['--issuer', deadIssuer, '--introspection-endpoint', `${as.issuer}/introspect`,
      '--client-id', CLIENT_ID, '--client-secret-file', secretFile]);
    serves.push(s);
    const prm = (await request(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.deepEqual(prm.authorization_servers, [deadIssuer]);
    const token = tokenWith(claimsFor(s, { iss: deadIssuer }));
    assert.equal((await mcpPost(s, INITIALIZE, { token })).status, 200);
    const foreign = tokenWith(claimsFor(s)); // iss: the fake AS, not the configured issuer
    assert.equal((await mcpPost(s, INITIALIZE, { token: foreign })).status, 401);
    await s.stop();
  });

  test('an introspection answer whose "active" is not the boolean true is never taken as active', async () => {
    for (const active of ['true', 1, null]) {
      const token = tokenWith(claimsFor(main, { active }));
      const r = await mcpPost(main, INITIALIZE, { token });
      assert.notEqual(r.status, 200, `active: ${JSON.stringify(active)} was accepted`);
      assert.ok([401, 503].includes(r.status), `${r.status} ${r.body}`);
    }
  });
});

describe('several required scopes (--required-scope mcp --required-scope mcp:extra)', () => {
  let s;
  before(async () => { s = await startOn(as, ['--required-scope', 'mcp', '--required-scope', 'mcp:extra']); });
  after(() => s?.stop());

  test('metadata and the 401 list both; a token with only one gets 403 naming both; both → 200', async () => {
    const prm = (await request(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.deepEqual(prm.scopes_supported, ['mcp', 'mcp:extra']);
    const none = await mcpPost(s, INITIALIZE);
    assert.equal(none.status, 401);
    assert.equal(parseChallenge(none.headers['www-authenticate']).scope, 'mcp mcp:extra');
    const partial = await mcpPost(s, INITIALIZE, { token: tokenWith(claimsFor(s, { scope: 'mcp' })) });
    assert.equal(partial.status, 403, partial.body);
    const c = parseChallenge(partial.headers['www-authenticate']);
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'mcp mcp:extra');
    const full = await mcpPost(s, INITIALIZE, { token: tokenWith(claimsFor(s, { scope: 'mcp:extra mcp' })) });
    assert.equal(full.status, 200, full.body);
  });
});

describe('validation cache', () => {
  test('the same token twice → one introspection (second is a cache hit)', async () => {
    const token = tokenWith();
    const session = await openSession(main, token); // initialize + initialized: 2 requests
    const { msg } = await callTool(main, token, session, 'whoami');
    assert.equal(as.callsFor(token), 1);
    assert.equal(msg.result.structuredContent.cache, 'hit');
    const metrics = (await request(main.url('/metrics'))).body;
    const hits = Number(/^mcpauth_token_cache_hits_total (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(hits >= 2, metrics);
  });

  test('--cache-size 0 → every request is introspected', async () => {
    const s = await startOn(as, ['--cache-size', '0']);
    const token = tokenWith(claimsFor(s));
    for (let i = 0; i < 2; i++) assert.equal((await mcpPost(s, INITIALIZE, { token })).status, 200);
    assert.equal(as.callsFor(token), 2);
    const bad = freshToken('neg0');
    for (let i = 0; i < 2; i++) assert.equal((await mcpPost(s, INITIALIZE, { token: bad })).status, 401);
    assert.equal(as.callsFor(bad), 2, 'no negative caching either');
    await s.stop();
  });

  test('--cache-size 2: least recently used entries are evicted', async () => {
    const s = await startOn(as, ['--cache-size', '2']);
    const [a, b, c] = [1, 2, 3].map(() => tokenWith(claimsFor(s)));
    for (const t of [a, b, c]) assert.equal((await mcpPost(s, INITIALIZE, { token: t })).status, 200);
    assert.equal((await mcpPost(s, INITIALIZE, { token: a })).status, 200); // evicted: asked again
    assert.equal(as.callsFor(a), 2);
    assert.equal((await mcpPost(s, INITIALIZE, { token: c })).status, 200); // still cached
    assert.equal(as.callsFor(c), 1);
    assert.equal((await mcpPost(s, INITIALIZE, { token: b })).status, 200); // evicted by a
    assert.equal(as.callsFor(b), 2);
    await s.stop();
  });

  test('single flight with an inactive token: 20 concurrent requests → 1 introspection, 20 × 401', async () => {
    const token = freshToken('sf-inactive');
    as.tokens.set(token, { active: false, _delayMs: 200 });
    const results = await Promise.all(Array.from({ length: 20 }, () => mcpPost(main, INITIALIZE, { token })));
    assert.deepEqual(results.map((r) => r.status), Array(20).fill(401));
    assert.equal(as.callsFor(token), 1);
  });

  describe('short lifetimes (--cache-ttl 1 --negative-ttl 2)', () => {
    let s;
    before(async () => { s = await startOn(as, ['--cache-ttl', '1', '--negative-ttl', '2']); });
    after(() => s?.stop());

    test('negative TTL: a rejection is reused for --negative-ttl, then the AS is asked again', async () => {
      const token = freshToken('neg');
      const r1 = await mcpPost(s, INITIALIZE, { token });
      const stored = nowS(); // the rejection was cached at this second or the one before
      assert.equal(r1.status, 401);
      as.tokens.set(token, claimsFor(s)); // the AS now says active
      const r2 = await mcpPost(s, INITIALIZE, { token });
      assert.equal(r2.status, 401, 'still rejected from the negative cache');
      assert.equal(as.callsFor(token), 1);
      await untilSecond(stored + 2);
      const r3 = await mcpPost(s, INITIALIZE, { token });
      assert.equal(r3.status, 200, r3.body);
      assert.equal(as.callsFor(token), 2);
    });

    test('revocation: once the AS says inactive, the cached answer lasts at most --cache-ttl', async () => {
      const token = tokenWith(claimsFor(s));
      assert.equal((await mcpPost(s, INITIALIZE, { token })).status, 200);
      const stored = nowS();
      as.tokens.delete(token); // revoked: {active: false} from now on
      await untilSecond(stored + 1); // ≈ 1.1-2 s after the first request
      const r = await mcpPost(s, INITIALIZE, { token });
      assert.equal(r.status, 401, r.body);
      assert.equal(parseChallenge(r.headers['www-authenticate']).error, 'invalid_token');
      assert.equal(as.callsFor(token), 2);
    });
  });

  test('a cached entry never outlives the token\'s exp (--cache-ttl 300, leeway 30)', async () => {
    const exp = nowS() + 2;
    const token = tokenWith(claimsFor(main, { exp }));
    assert.equal((await mcpPost(main, INITIALIZE, { token })).status, 200);
    as.tokens.delete(token); // revoked at the AS
    await untilSecond(exp);
    // Still within the leeway, so a cache entry kept past exp would answer 200 here.
    const r = await mcpPost(main, INITIALIZE, { token });
    assert.equal(as.callsFor(token), 2, 'the AS must be asked again once exp has passed');
    assert.equal(r.status, 401, r.body);
  });

  test('single flight: 50 concurrent requests with one fresh token → exactly 1 introspection, 50 × 200', async () => {
    const token = tokenWith({ ...claimsFor(main), _delayMs: 300 });
    const results = await Promise.all(Array.from({ length: 50 }, () => mcpPost(main, INITIALIZE, { token })));
    assert.deepEqual(results.map((r) => r.status), Array(50).fill(200));
    assert.equal(as.callsFor(token), 1);
  });
});

describe('MCP over Streamable HTTP', () => {
  test('initialize → 200 with a visible-ASCII Mcp-Session-Id; initialized → 202 without body', async () => {
    const token = tokenWith();
    const r = await mcpPost(main, INITIALIZE, { token });
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers['content-type'], /^application\/json/);
    const session = r.headers['mcp-session-id'];
    assert.match(session ?? '', /^[\x21-\x7e]{16,}$/);
    const msg = r.json();
    assert.equal(msg.jsonrpc, '2.0');
    assert.equal(msg.id, 1);
    assert.equal(msg.result.protocolVersion, '2025-11-25');
    assert.ok(msg.result.capabilities.tools);
    assert.equal(msg.result.serverInfo.name, 'mcpauth');
    const n = await mcpPost(main, { jsonrpc: '2.0', method: 'notifications/initialized' },
      { token, session, version: '2025-11-25' });
    assert.equal(n.status, 202);
    assert.equal(n.body, '');
    // Two sessions never share an id.
    const other = await mcpPost(main, INITIALIZE, { token });
    assert.notEqual(other.headers['mcp-session-id'], session);
  });

  test('tools/list has hello_world and whoami', async () => {
    const token = tokenWith();
    const session = await openSession(main, token);
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { token, session, version: '2025-11-25' });
    assert.equal(r.status, 200, r.body);
    const names = r.json().result.tools.map((t) => t.name);
    assert.ok(names.includes('hello_world'), names.join());
    assert.ok(names.includes('whoami'), names.join());
    for (const t of r.json().result.tools) assert.equal(t.inputSchema.type, 'object');
  });

  test('hello_world greets by the username claim: "Hello, alice!"', async () => {
    const token = tokenWith(claimsFor(main, { username: 'alice' }));
    const session = await openSession(main, token);
    const { msg } = await callTool(main, token, session, 'hello_world');
    assert.deepEqual(msg.result.content, [{ type: 'text', text: 'Hello, alice!' }]);
  });

  test('hello_world greets by sub without username: "Hello, user with ID u1!"', async () => {
    const token = tokenWith();
    const session = await openSession(main, token);
    const { msg } = await callTool(main, token, session, 'hello_world');
    assert.deepEqual(msg.result.content, [{ type: 'text', text: 'Hello, user with ID u1!' }]);
  });

  test('hello_world without username or sub: "Hello, anonymous user!"', async () => {
    const token = tokenWith(claimsFor(main, { sub: undefined }));
    const session = await openSession(main, token);
    const { msg } = await callTool(main, token, session, 'hello_world');
    assert.deepEqual(msg.result.content, [{ type: 'text', text: 'Hello, anonymous user!' }]);
  });

  test('whoami shows the validated identity and never the token', async () => {
    const token = tokenWith(claimsFor(main, { username: 'alice' }));
    const session = await openSession(main, token);
    const { msg, body } = await callTool(main, token, session, 'whoami');
    assert.ok(!body.includes(token), 'the token is in the whoami answer');
    const id = msg.result.structuredContent;
    assert.equal(id.subject, 'u1');
    assert.equal(id.client_id, 'client-1');
    assert.equal(id.username, 'alice');
    assert.deepEqual(id.scopes, ['mcp']);
    assert.deepEqual(id.audiences, [main.resource]);
    assert.equal(id.issuer, as.issuer);
    assert.equal(typeof id.expires_at, 'number');
    assert.equal(id.validated_by, 'introspection');
    assert.deepEqual(JSON.parse(msg.result.content[0].text), id);
  });

  test('another subject using the session → 404; the owner still gets through', async () => {
    const token1 = tokenWith();
    const session = await openSession(main, token1);
    const token2 = tokenWith(claimsFor(main, { sub: 'u2' }));
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { token: token2, session, version: '2025-11-25' });
    assert.equal(r.status, 404, r.body);
    const d = await request(main.url('/mcp'), { method: 'DELETE', headers: { authorization: `Bearer ${token2}`, 'mcp-session-id': session } });
    assert.equal(d.status, 404, 'nor may it delete the session');
    const ok = await mcpPost(main, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, { token: token1, session, version: '2025-11-25' });
    assert.equal(ok.status, 200, ok.body);
  });

  test('the same subject through another client using the session → 404', async () => {
    const token1 = tokenWith();
    const session = await openSession(main, token1);
    const token2 = tokenWith(claimsFor(main, { client_id: 'client-2' }));
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { token: token2, session, version: '2025-11-25' });
    assert.equal(r.status, 404, r.body);
  });

  test('a new token of the same subject and client keeps the session (tokens get refreshed)', async () => {
    const token1 = tokenWith();
    const session = await openSession(main, token1);
    const token2 = tokenWith();
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { token: token2, session, version: '2025-11-25' });
    assert.equal(r.status, 200, r.body);
  });

  test('JSON-RPC errors: unknown method -32601, unknown tool -32602 (HTTP 200); a batch with 2025-11-25 → 400', async () => {
    const token = tokenWith();
    const session = await openSession(main, token);
    const m = await mcpPost(main, { jsonrpc: '2.0', id: 11, method: 'no/such/method' }, { token, session, version: '2025-11-25' });
    assert.equal(m.status, 200, m.body);
    assert.equal(m.json().error.code, -32601);
    assert.equal(m.json().id, 11);
    const t = await mcpPost(main, { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'nope', arguments: {} } },
      { token, session, version: '2025-11-25' });
    assert.equal(t.status, 200, t.body);
    assert.equal(t.json().error.code, -32602);
    const b = await mcpPost(main, [{ jsonrpc: '2.0', id: 13, method: 'ping' }], { token, session, version: '2025-11-25' });
    assert.equal(b.status, 400, b.body);
  });

  test('DELETE ends the session: 200, then 404 for it', async () => {
    const token = tokenWith();
    const session = await openSession(main, token);
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const d = await request(main.url('/mcp'), { method: 'DELETE', headers });
    assert.equal(d.status, 200, d.body);
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { token, session, version: '2025-11-25' });
    assert.equal(r.status, 404, r.body);
    assert.equal((await request(main.url('/mcp'), { method: 'DELETE', headers })).status, 404);
  });

  test('an unknown session → 404; no session on a non-initialize request → 400', async () => {
    const token = tokenWith();
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 6, method: 'tools/list' },
      { token, session: 'no-such-session-0123456789', version: '2025-11-25' });
    assert.equal(r.status, 404, r.body);
    const n = await mcpPost(main, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, { token, version: '2025-11-25' });
    assert.equal(n.status, 400, n.body);
  });

  test('GET with a token → 405', async () => {
    const token = tokenWith();
    const r = await request(main.url('/mcp'), { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
    assert.equal(r.status, 405);
  });

  test('an unsupported MCP-Protocol-Version → 400', async () => {
    const token = tokenWith();
    const session = await openSession(main, token);
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 8, method: 'tools/list' }, { token, session, version: '1999-01-01' });
    assert.equal(r.status, 400, r.body);
    assert.ok(r.json().error, r.body);
    for (const v of ['2025-06-18', '2025-03-26']) {
      const ok = await mcpPost(main, { jsonrpc: '2.0', id: 9, method: 'ping' }, { token, session, version: v });
      assert.equal(ok.status, 200, `${v}: ${ok.body}`);
    }
  });

  test('Content-Type with parameters and Accept */* are fine', async () => {
    const token = tokenWith();
    const r = await mcpPost(main, INITIALIZE, { token, headers: { 'content-type': 'application/json; charset=utf-8', accept: '*/*' } });
    assert.equal(r.status, 200, r.body);
  });

  test('Accept without text/event-stream → 406; Content-Type not JSON → 415; bad JSON → 400 -32700', async () => {
    const token = tokenWith();
    const a = await mcpPost(main, INITIALIZE, { token, headers: { accept: 'application/json' } });
    assert.equal(a.status, 406, a.body);
    const c = await mcpPost(main, INITIALIZE, { token, headers: { 'content-type': 'text/plain' } });
    assert.equal(c.status, 415, c.body);
    const p = await request(main.url('/mcp'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, accept: MCP_ACCEPT, 'content-type': 'application/json' },
      body: '{"jsonrpc": "2.0", "id": 1,',
    });
    assert.equal(p.status, 400, p.body);
    assert.equal(p.json().error.code, -32700);
  });

  test('--stateless: tools/call without initialize', async () => {
    const s = await startOn(as, ['--stateless']);
    const token = tokenWith(claimsFor(s));
    const r = await mcpPost(s, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {} } },
      { token, version: '2025-11-25' });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json().result.content, [{ type: 'text', text: 'Hello, user with ID u1!' }]);
    const i = await mcpPost(s, INITIALIZE, { token });
    assert.equal(i.status, 200, i.body);
    assert.equal(i.headers['mcp-session-id'], undefined, 'no session in stateless mode');
    await s.stop();
  });
});

describe('Origin and Host', () => {
  test('Origin: http://evil.example → 403 (before any token check)', async () => {
    const token = tokenWith();
    const r = await mcpPost(main, INITIALIZE, { token, headers: { origin: 'http://evil.example' } });
    assert.equal(r.status, 403, r.body);
    const n = await mcpPost(main, INITIALIZE, { headers: { origin: 'http://evil.example' } });
    assert.equal(n.status, 403, n.body);
  });

  test("the resource's own origin and an --allowed-origin are accepted", async () => {
    const token = tokenWith();
    for (const origin of [main.origin, 'https://app.example']) {
      const r = await mcpPost(main, INITIALIZE, { token, headers: { origin } });
      assert.equal(r.status, 200, `${origin}: ${r.body}`);
    }
    const r = await mcpPost(main, INITIALIZE, { token, headers: { origin: 'https://app.example.evil.example' } });
    assert.equal(r.status, 403);
  });

  test('Host: evil.example.com → 403 (DNS rebinding), with or without a foreign Origin', async () => {
    const token = tokenWith();
    const r = await mcpPost(main, INITIALIZE, { token, headers: { host: 'evil.example.com' } });
    assert.equal(r.status, 403, r.body);
    const both = await mcpPost(main, INITIALIZE, { token, headers: { host: 'evil.example.com', origin: 'http://evil.example.com' } });
    assert.equal(both.status, 403, both.body);
    const local = await mcpPost(main, INITIALIZE, { token, headers: { host: `localhost:${main.port}` } });
    assert.equal(local.status, 200, `a loopback Host is fine: ${local.body}`);
  });
});

describe('HTTP limits', () => {
  test('headers over --max-header-bytes → 431, and the server keeps serving', async () => {
    const r = await request(main.url('/healthz'), { headers: { 'x-big': 'a'.repeat(8000) } }).catch((e) => e);
    if (r instanceof Error) assert.fail(`expected a 431 answer, got ${r.message}`);
    assert.equal(r.status, 431);
    const ok = await request(main.url('/healthz'));
    assert.equal(ok.status, 200);
  });

  test('a body over --max-body-bytes → 413', async () => {
    const token = tokenWith();
    const r = await mcpPost(main, { jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(70000) } }, { token })
      .catch((e) => e);
    if (r instanceof Error) assert.fail(`expected a 413 answer, got ${r.message}`);
    assert.equal(r.status, 413);
    assert.equal((await request(main.url('/healthz'))).status, 200);
  });

  test('a chunked body over --max-body-bytes → 413', async () => {
    const token = tokenWith();
    const conn = await rawConnect(main.port);
    try {
      const chunk = 'x'.repeat(16384);
      let wire = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${main.port}\r\nAuthorization: Bearer ${token}\r\n` +
        `Accept: ${MCP_ACCEPT}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
      for (let i = 0; i < 5; i++) wire += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
      conn.socket.write(wire + '0\r\n\r\n');
      const [r] = await conn.responses(1);
      assert.equal(r.status, 413);
    } finally {
      conn.socket.destroy();
    }
  });

  // Issue 3: "one access-log line per request" and /metrics "requests by status". A request
  // refused by the HTTP layer (413 here, likewise 431 and 408) has a method, a path and a
  // status, and an operator under attack needs to see it.
  async function post413() {
    const r = await request(main.url('/mcp'), {
      method: 'POST', headers: { 'content-type': 'application/json', accept: MCP_ACCEPT }, body: 'x'.repeat(70000),
    }).catch((e) => e);
    assert.equal(r.status, 413, String(r.message ?? ''));
  }

  test('a request refused by the HTTP layer (413) gets an access-log line', async () => {
    await post413();
    await main.waitForLog(/"POST \/mcp" 413 /, 2000);
  });

  test('a request refused by the HTTP layer (413) is counted in mcpauth_http_requests_total', async () => {
    const count4xx = async () => Number(/^mcpauth_http_requests_total\{code="4xx"\} (\d+)$/m
      .exec((await request(main.url('/metrics'))).body)?.[1]);
    const before = await count4xx();
    await post413();
    assert.equal(await count4xx(), before + 1, 'the 413 is not counted');
  });

  // RFC 9110 §15.5.9 / RFC 6585 §5; the server writes "HTTP/1.1 408 Status" today.
  test('status lines carry the standard reason phrases (408 Request Timeout, 431 Request Header Fields Too Large)', async () => {
    const big = await rawConnect(main.port);
    const slow = await rawConnect(main.port);
    try {
      big.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${main.port}\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
      slow.socket.write('GET /healthz HTTP/1.1\r\n');
      await Promise.all([big.responses(1), slow.responses(1)]);
      assert.match(big.data.toString('latin1').split('\r\n')[0], /^HTTP\/1\.1 431 Request Header Fields Too Large$/);
      assert.match(slow.data.toString('latin1').split('\r\n')[0], /^HTTP\/1\.1 408 Request Timeout$/);
    } finally {
      big.socket.destroy();
      slow.socket.destroy();
    }
  });

  test('slow-loris (a header byte per 200 ms, --header-timeout 1): cut off within ~2 s while others are served', async () => {
    const conn = await rawConnect(main.port);
    const started = Date.now();
    const text = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${main.port}\r\nX-Slow: ${'z'.repeat(200)}`;
    let i = 0;
    const drip = setInterval(() => {
      if (i < text.length && !conn.socket.destroyed) conn.socket.write(text[i++]);
    }, 200);
    try {
      await sleep(300);
      const ok = await request(main.url('/healthz'));
      assert.equal(ok.status, 200);
      assert.equal(conn.closedAt, null, 'the normal client was only served once the slow one was cut off');
      await Promise.race([conn.closed, sleep(4000)]);
      assert.ok(conn.closedAt, 'the slow connection was still open after 4 s');
      const took = conn.closedAt - started;
      assert.ok(took < 2500, `closed after ${took} ms`);
      const answered = parseResponses(conn.data);
      if (conn.data.length > 0) {
        assert.equal(answered.length, 1, conn.data.toString());
        assert.equal(answered[0].status, 408);
      }
    } finally {
      clearInterval(drip);
      conn.socket.destroy();
    }
  });

  describe('timeouts (--header-timeout 1 --idle-timeout 1 --timeout 5)', () => {
    let s;
    before(async () => { s = await startOn(as, ['--header-timeout', '1', '--idle-timeout', '1', '--timeout', '5']); });
    after(() => s?.stop());

    test('a request waiting 2 s for introspection is not cut by the header or idle timeout', async () => {
      const token = tokenWith({ ...claimsFor(s), _delayMs: 2000 });
      const r = await mcpPost(s, INITIALIZE, { token });
      assert.equal(r.status, 200, r.body);
    });

    test('an idle keep-alive connection is closed after --idle-timeout', async () => {
      const conn = await rawConnect(s.port);
      try {
        conn.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
        await conn.responses(1);
        const answered = Date.now();
        await Promise.race([conn.closed, sleep(4000)]);
        assert.ok(conn.closedAt, 'still open 4 s after the answer');
        assert.ok(conn.closedAt - answered < 2500, `closed ${conn.closedAt - answered} ms after the answer`);
      } finally {
        conn.socket.destroy();
      }
    });
  });

  test('pipelining: 3 requests in one write → 3 responses in order (the first waits for introspection)', async () => {
    const token = tokenWith({ ...claimsFor(main), _delayMs: 300 });
    const body = JSON.stringify(INITIALIZE);
    const host = `127.0.0.1:${main.port}`;
    const wire =
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nAccept: ${MCP_ACCEPT}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
      `GET /mcp HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const conn = await rawConnect(main.port);
    try {
      conn.socket.write(wire);
      const [a, b, c] = await conn.responses(3);
      assert.equal(a.status, 200, a.body);
      assert.ok(a.headers['mcp-session-id']);
      assert.equal(JSON.parse(a.body).result.protocolVersion, '2025-11-25');
      assert.equal(b.status, 200);
      assert.equal(b.body.trim(), 'ok');
      assert.equal(c.status, 401);
      assert.match(c.headers['www-authenticate'], /^Bearer resource_metadata=/);
    } finally {
      conn.socket.destroy();
    }
  });

  test('keep-alive: several requests, one after the other, on one connection', async () => {
    const token = tokenWith();
    const host = `127.0.0.1:${main.port}`;
    const conn = await rawConnect(main.port);
    try {
      conn.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      let got = await conn.responses(1);
      assert.equal(got[0].status, 200);
      assert.notEqual(got[0].headers.connection?.toLowerCase(), 'close');
      const body = JSON.stringify(INITIALIZE);
      conn.socket.write(`POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nAccept: ${MCP_ACCEPT}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      got = await conn.responses(2);
      assert.equal(got[1].status, 200, got[1].body);
      conn.socket.write(`GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      got = await conn.responses(3);
      assert.equal(got[2].status, 200);
      assert.equal(JSON.parse(got[2].body).resource, main.resource);
      assert.equal(conn.closedAt, null);
    } finally {
      conn.socket.destroy();
    }
  });
});

describe('operations', () => {
  test('GET /healthz → 200 "ok"', async () => {
    const r = await request(main.url('/healthz'));
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'ok');
  });

  test('GET /metrics: Prometheus text with request and cache counters', async () => {
    const r = await request(main.url('/metrics'));
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/plain/);
    assert.match(r.body, /^mcpauth_http_requests_total\{code="2xx"\} \d+$/m);
    assert.match(r.body, /^mcpauth_token_cache_hits_total \d+$/m);
    assert.match(r.body, /^mcpauth_token_cache_misses_total \d+$/m);
    assert.match(r.body, /^# TYPE mcpauth_http_requests_total counter$/m);
  });

  // Issue 3, Operations: "GET /metrics in Prometheus text (requests by status, validation
  // outcomes, cache hits/misses, introspection latency histogram, open connections)".
  test('GET /metrics: introspection latency histogram, validation outcomes, open connections (issue 3)', async () => {
    const r = await request(main.url('/metrics'));
    assert.equal(r.status, 200);
    assert.match(r.body, /^mcpauth_token_validations_total\{outcome="valid"\} \d+$/m);
    assert.match(r.body, /^mcpauth_open_connections \d+$/m);
    assert.match(r.body, /^# TYPE mcpauth_introspection\w* histogram$/m, `no introspection latency histogram:\n${r.body}`);
  });

  test('one access-log line per request, with token=<12 hex of SHA-256>, never the token', async () => {
    const token = tokenWith(claimsFor(main, { sub: 'logged-user' }));
    const marker = `/no-such-path-${crypto.randomBytes(4).toString('hex')}`;
    assert.equal((await mcpPost(main, INITIALIZE, { token })).status, 200);
    await request(main.url(marker));
    const log = await main.waitForLog(new RegExp(marker));
    const lines = log.split('\n').filter((l) => l.includes(`token=${sha12(token)}`));
    assert.equal(lines.length, 1, log.slice(-2000));
    assert.match(lines[0], /"POST \/mcp" 200 /);
    assert.match(lines[0], /sub=logged-user/);
    assert.match(lines[0], /cache=miss/);
    const markerLines = log.split('\n').filter((l) => l.includes(marker));
    assert.equal(markerLines.length, 1, log.slice(-2000));
    assert.match(markerLines[0], /"GET \/no-such-path-[0-9a-f]+" 404 .* token=- /);
    assert.ok(!log.includes(token));
  });

  test('text access log: control characters in a field are escaped, never a forged line', async () => {
    const forged = 'x\n2026-01-01T00:00:00.000Z 10.0.0.1 "GET /forged" 200 0.1ms token=- sub=admin';
    const token = tokenWith(claimsFor(main, { sub: `evil\u001b[2J${forged}\\"` }));
    const marker = `/after-forge-${crypto.randomBytes(4).toString('hex')}`;
    assert.equal((await mcpPost(main, INITIALIZE, { token })).status, 200);
    await request(main.url(marker));
    const log = await main.waitForLog(new RegExp(marker));
    assert.ok(!log.split('\n').some((l) => l.startsWith('2026-01-01T00:00:00.000Z')), log.slice(-2000));
    const line = log.split('\n').find((l) => l.includes(`token=${sha12(token)}`));
    assert.ok(line, log.slice(-2000));
    assert.ok(line.includes('sub=evil\\x1b[2Jx\\x0a2026-01-01T00:00:00.000Z 10.0.0.1 \\"GET /forged\\"'), line);
    assert.ok(line.includes('sub=admin\\\\\\" cache='), line);
  });

  test('--log-format json: every line is a JSON object; the request line has the token hash', async () => {
    const s = await startOn(as, ['--log-format', 'json']);
    const token = tokenWith(claimsFor(s));
    assert.equal((await mcpPost(s, INITIALIZE, { token })).status, 200);
    assert.equal((await mcpPost(s, INITIALIZE, {})).status, 401);
    const { code } = await s.stop();
    assert.equal(code, 0);
    const lines = s.stderr().split('\n').filter(Boolean);
    const docs = lines.map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return assert.fail(`not JSON: ${l}`);
      }
    });
    const req = docs.find((d) => d.token === sha12(token));
    assert.ok(req, s.stderr());
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/mcp');
    assert.equal(req.status, 200);
    assert.equal(typeof req.latency_ms, 'number');
    assert.ok(docs.some((d) => d.status === 401 && d.token === undefined));
    assert.ok(!s.stderr().includes(token));
  });

  test('--log-format json: a path longer than a log line is cut short, and the line stays valid JSON of at most 2048 bytes', async () => {
    const s = await startOn(as, ['--log-format', 'json']);
    const long = `/x%22%0a${'b'.repeat(3000)}`;
    assert.equal((await request(s.url(long))).status, 404);
    const { code } = await s.stop();
    assert.equal(code, 0);
    const lines = s.stderr().split('\n').filter(Boolean);
    const line = lines.find((l) => l.includes('"/x%22%0a'));
    assert.ok(line, s.stderr().slice(-2000));
    assert.ok(Buffer.byteLength(line) <= 2048, `${Buffer.byteLength(line)} bytes`);
    const doc = JSON.parse(line);
    assert.ok(long.startsWith(doc.path), doc.path);
    assert.ok(doc.path.length >= 500 && doc.path.length < long.length, `${doc.path.length}`);
    assert.equal(doc.status, 404);
  });

  test('SIGTERM during a request waiting for introspection: it completes (200), exit 0', async () => {
    const s = await startOn(as, []);
    const token = tokenWith({ ...claimsFor(s), _delayMs: 800 });
    const asked = new Promise((resolve) => {
      const on = (t) => { if (t === token) { as.off('introspect', on); resolve(); } };
      as.on('introspect', on);
    });
    const pending = mcpPost(s, INITIALIZE, { token });
    await asked;
    const stopped = s.stop('SIGTERM');
    await s.waitForLog(/received/);
    // New connections are no longer accepted (refused, or told 503 while draining).
    const late = await request(s.url('/healthz'), { timeoutMs: 3000 }).catch((e) => e);
    if (!(late instanceof Error)) assert.equal(late.status, 503, 'a new request after SIGTERM');
    else assert.match(late.code ?? late.message, /ECONNREFUSED|ECONNRESET/);
    const r = await pending;
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().result.protocolVersion, '2025-11-25');
    const exit = await stopped;
    assert.deepEqual(exit, { code: 0, signal: null }, s.stderr());
    assert.match(s.stderr(), /stopped/);
  });

  test('SIGTERM with introspection outlasting --shutdown-timeout 1: the request gets 503, exit 0', async () => {
    const s = await startOn(as, ['--shutdown-timeout', '1', '--timeout', '10']);
    const token = tokenWith({ ...claimsFor(s), _delayMs: 4000 });
    const asked = new Promise((resolve) => {
      const on = (t) => { if (t === token) { as.off('introspect', on); resolve(); } };
      as.on('introspect', on);
    });
    const pending = mcpPost(s, INITIALIZE, { token }).catch((e) => e);
    await asked;
    const started = Date.now();
    const exit = await s.stop('SIGTERM');
    const r = await pending;
    assert.deepEqual(exit, { code: 0, signal: null }, s.stderr());
    assert.ok(Date.now() - started < 3000, `exit after ${Date.now() - started} ms`);
    assert.ok(!(r instanceof Error), `the request got no answer: ${r.message}`);
    assert.equal(r.status, 503, r.body);
  });

  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal} with an idle keep-alive connection open: exits 0 promptly (not after --shutdown-timeout)`, async () => {
      const s = await startOn(as, ['--shutdown-timeout', '10']);
      const conn = await rawConnect(s.port);
      try {
        conn.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
        await conn.responses(1);
        const started = Date.now();
        const exit = await s.stop(signal);
        assert.deepEqual(exit, { code: 0, signal: null }, s.stderr());
        assert.ok(Date.now() - started < 3000, `exit took ${Date.now() - started} ms with an idle connection`);
        assert.doesNotMatch(s.stderr(), /shutdown timeout/);
      } finally {
        conn.socket.destroy();
      }
    });
  }

  test('--no-auth refuses a non-loopback --listen (exit 2)', async () => {
    const port = await freePort();
    const r = await run(['serve', '--no-auth', '--listen', `0.0.0.0:${port}`, '--resource', `http://127.0.0.1:${port}/mcp`, '--workers', '1'],
      { timeoutMs: 10000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.split('\n')[0], /loopback/);
  });

  test('the issuer unreachable at start: exit 3 with one line', async () => {
    const port = await freePort();
    const dead = await freePort();
    const r = await run(['serve', '--issuer', `http://127.0.0.1:${dead}`, '--client-id', CLIENT_ID, '--client-secret-file', secretFile,
      '--listen', `127.0.0.1:${port}`, '--resource', `http://127.0.0.1:${port}/mcp`, '--workers', '1', '--timeout', '2'], { timeoutMs: 10000 });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^mcpauth serve: .*authorization server/);
  });

  test('without client credentials: exit 2 with one clear line', async () => {
    const port = await freePort();
    const r = await run(['serve', '--issuer', as.issuer, '--listen', `127.0.0.1:${port}`, '--resource', `http://127.0.0.1:${port}/mcp`, '--workers', '1'],
      { timeoutMs: 10000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.split('\n')[0], /^mcpauth serve: .*credentials/);
  });

  test('--config FILE: options from a JSON file (flags still win)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    const s = await startServe((port) => {
      fs.writeFileSync(file, JSON.stringify({
        issuer: as.issuer,
        'client-id': CLIENT_ID,
        'client-secret-file': secretFile,
        listen: `127.0.0.1:${port}`,
        resource: `http://127.0.0.1:${port}/mcp`,
        'resource-name': 'from the config file',
        'required-scope': ['mcp'],
        'cache-size': 0,
        'log-format': 'text',
        stateless: false,
        workers: 1,
      }));
      return ['--config', file];
    }, { listenArgs: false });
    serves.push(s);
    const prm = (await request(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.equal(prm.resource_name, 'from the config file');
    assert.deepEqual(prm.authorization_servers, [as.issuer]);
    const token = tokenWith(claimsFor(s));
    for (let i = 0; i < 2; i++) assert.equal((await mcpPost(s, INITIALIZE, { token })).status, 200);
    assert.equal(as.callsFor(token), 2, '"cache-size": 0 from the file applies');
    assert.equal((await s.stop()).code, 0);
  });

  test('--config FILE: a flag wins over the same option in the file; a list flag replaces the list', async () => {
    const file = path.join(tmpDir(), 'serve.json');
    fs.writeFileSync(file, JSON.stringify({
      issuer: as.issuer, 'client-id': CLIENT_ID, 'client-secret-file': secretFile,
      'resource-name': 'from the file', 'required-scope': ['from-file-scope'],
    }));
    const s = await startServe(['--config', file, '--resource-name', 'from the flag', '--required-scope', 'mcp']);
    serves.push(s);
    const prm = (await request(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.equal(prm.resource_name, 'from the flag');
    assert.deepEqual(prm.scopes_supported, ['mcp']);
    assert.equal((await s.stop()).code, 0);
  });

  for (const [name, content] of [
    ['not JSON', '{"issuer": '],
    ['an unknown option', JSON.stringify({ 'no-such-option': 1 })],
    ['a bad value', JSON.stringify({ 'cache-size': 'lots' })],
    ['a missing file', null],
  ]) {
    test(`a bad --config file (${name}) → exit 5 with one line`, async () => {
      const file = path.join(tmpDir(), 'bad.json');
      if (content !== null) fs.writeFileSync(file, content);
      const port = await freePort();
      const r = await run(['serve', '--config', file, '--issuer', as.issuer, '--client-id', CLIENT_ID,
        '--client-secret-file', secretFile, '--listen', `127.0.0.1:${port}`, '--workers', '1'], { timeoutMs: 10000 });
      assert.equal(r.code, 5, `${r.stderr}`);
      // "bad configuration fails at start with one clear line and exit 5" (issue 3): the
      // line names the file, and no "Try --help" follows (the command line was fine).
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^mcpauth serve: /);
      assert.ok(r.stderr.includes(file), `the message should name ${file}: ${r.stderr}`);
    });
  }

  test('--workers 2: two worker processes serve, a killed one is replaced; SIGTERM stops them all (no orphans)', async () => {
    // 18 sessions of one identity below: no per-identity limit here.
    const s = await startOn(as, ['--workers', '2', '--max-sessions-per-identity', '0']);
    const children = execFileSync('pgrep', ['-P', String(s.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    assert.equal(children.length, 2, `children of ${s.pid}: ${children}`);
    const token = tokenWith(claimsFor(s));
    const results = await Promise.all(Array.from({ length: 12 }, () => mcpPost(s, INITIALIZE, { token })));
    assert.deepEqual(results.map((r) => r.status), Array(12).fill(200));
    // A worker that dies is replaced.
    process.kill(children[0], 'SIGKILL');
    await s.waitForLog(new RegExp(`worker ${children[0]} killed by signal 9`));
    let now = [];
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(50)) {
      now = execFileSync('pgrep', ['-P', String(s.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
      if (now.length === 2 && !now.includes(children[0])) break;
    }
    assert.equal(now.length, 2, `children after the crash: ${now}`);
    assert.ok(!now.includes(children[0]));
    children.push(...now.filter((pid) => !children.includes(pid)));
    const again = await Promise.all(Array.from({ length: 6 }, () => mcpPost(s, INITIALIZE, { token })));
    assert.deepEqual(again.map((r) => r.status), Array(6).fill(200));
    const exit = await s.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, s.stderr());
    for (const pid of children) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch (e) {
        alive = e.code !== 'ESRCH';
      }
      assert.equal(alive, false, `worker ${pid} still exists after the parent exited`);
    }
  });

  test('after all this traffic the main server stops cleanly (exit 0; under ASan, no leak)', async () => {
    const exit = await main.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, main.stderr().slice(-3000));
  });

  test('no raw token and no sanitizer report in any log', () => {
    for (const s of serves) {
      const log = s.stderr();
      for (const t of issuedTokens) assert.ok(!log.includes(t), `token ${t.slice(0, 6)}… logged`);
      assert.doesNotMatch(log, /ERROR: (Address|Leak)Sanitizer|runtime error:/, log);
    }
  });
});
