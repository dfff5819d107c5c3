// Integration tests for MCP 2026-07-28 (the stateless revision) served by `mcpauth serve`
// beside 2025-11-25 on the same endpoint, with the built-in tools: every error answer of
// the modern transport (missing or wrong Mcp-Method / Mcp-Name, the Base64 sentinel,
// MCP-Protocol-Version ≠ _meta, an unsupported version with the full list, missing _meta
// keys, unknown and removed methods, GET/DELETE 405, a modern request carrying a session
// id), the built-in methods in the modern shape, subscriptions/listen, and authentication:
// 401/403 exactly as for a 2025 request, and the per-tool scopes read from Mcp-Name.
// Tokens are Ed25519-signed RFC 9068 JWTs checked against a --jwks-file.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-modern.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { keyPair, startServe, startHttpServer, freePort, tmpDir } from '../lib/harness.mjs';

const MODERN = '2026-07-28';
const ALL_VERSIONS = [MODERN, '2025-11-25', '2025-06-18', '2025-03-26'];

let key;
let jwksFile;
let issuer;

before(async () => {
  const dir = tmpDir();
  const { publicKey, privateKey } = keyPair('ed25519');
  key = privateKey;
  jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA', use: 'sig' }],
  }));
  issuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function tokenFor(s, scope, { exp } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed-1' })}.${b64({
    iss: issuer, sub: 'u1', aud: s.resource, client_id: 'c1', scope, iat: now, exp: exp ?? now + 600,
  })}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}

const envelope = (version = MODERN, extra = {}) => ({
  'io.modelcontextprotocol/protocolVersion': version,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'serve-modern-test', version: '1.0.0' },
  ...extra,
});
const modernHeaders = (method, name) => ({
  'MCP-Protocol-Version': MODERN, 'Mcp-Method': method, ...(name === undefined ? {} : { 'Mcp-Name': name }),
});
const request = (id, method, params = {}) => ({ jsonrpc: '2.0', id, method, params: { ...params, _meta: envelope() } });
const toolCall = (id, name) => request(id, 'tools/call', { name, arguments: {} });
const sentinel = (s) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

async function send(s, { method = 'POST', token, headers = {}, body } = {}) {
  const res = await fetch(s.url('/mcp'), {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return {
    status: res.status, text, json, session: res.headers.get('mcp-session-id'),
    challenge: res.headers.get('www-authenticate'), type: res.headers.get('content-type'),
  };
}

describe('2026-07-28 beside 2025-11-25, built-in tools', () => {
  let s;
  let token;
  const post = (body, headers, extra = {}) => send(s, { token, body, headers, ...extra });

  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile,
      '--tool-scope', 'whoami=mcp:whoami']);
    token = tokenFor(s, 'mcp');
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  test('server/discover: every version served, capabilities, serverInfo, cache hints, no session', async () => {
    const r = await post(request('d1', 'server/discover'), modernHeaders('server/discover'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.session, null);
    assert.equal(r.json.id, 'd1');
    assert.deepEqual(r.json.result.supportedVersions, ALL_VERSIONS);
    assert.deepEqual(r.json.result.capabilities, { tools: { listChanged: false } });
    assert.equal(r.json.result.resultType, 'complete');
    assert.equal(r.json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'mcpauth');
    assert.equal(typeof r.json.result.ttlMs, 'number');
    assert.equal(r.json.result.cacheScope, 'public');
  });

  test('tools/list: deterministic order, ttlMs, cacheScope "private" when the policy filters by scope', async () => {
    const r = await post(request(2, 'tools/list'), modernHeaders('tools/list'));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.result.tools.map((t) => t.name), ['hello_world']);
    assert.equal(r.json.result.cacheScope, 'private');
    assert.equal(r.json.result.ttlMs, 300000);
    const all = await send(s, { token: tokenFor(s, 'mcp mcp:whoami'), body: request(3, 'tools/list'), headers: modernHeaders('tools/list') });
    assert.deepEqual(all.json.result.tools.map((t) => t.name), ['hello_world', 'whoami']);
  });

  test('tools/call hello_world: the seed greeting, resultType complete, serverInfo', async () => {
    const r = await post(toolCall(4, 'hello_world'), modernHeaders('tools/call', 'hello_world'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.content[0].text, 'Hello, user with ID u1!');
    assert.equal(r.json.result.resultType, 'complete');
    assert.equal(r.json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'mcpauth');
    assert.equal(r.session, null);
  });

  test('Mcp-Name in the Base64 sentinel form is decoded before the comparison', async () => {
    const r = await post(toolCall(5, 'hello_world'), modernHeaders('tools/call', sentinel('hello_world')));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.content[0].text, 'Hello, user with ID u1!');
    const bad = await post(toolCall(6, 'hello_world'), modernHeaders('tools/call', sentinel('whoami')));
    assert.deepEqual([bad.status, bad.json.error.code, bad.json.id], [400, -32020, 6]);
    const broken = await post(toolCall(7, 'hello_world'), modernHeaders('tools/call', '=?base64?!!!?='));
    assert.deepEqual([broken.status, broken.json.error.code], [400, -32020]);
  });

  test('missing or wrong Mcp-Method / Mcp-Name: 400, -32020, the request id', async () => {
    for (const [label, headers] of [
      ['no Mcp-Method', { 'MCP-Protocol-Version': MODERN, 'Mcp-Name': 'hello_world' }],
      ['Mcp-Method ≠ method', modernHeaders('tools/list', 'hello_world')],
      ['no Mcp-Name', modernHeaders('tools/call')],
      ['Mcp-Name ≠ params.name', modernHeaders('tools/call', 'whoami_not')],
    ]) {
      const r = await post(toolCall(8, 'hello_world'), headers);
      assert.deepEqual([r.status, r.json?.error?.code, r.json?.id], [400, -32020, 8], `${label}: ${r.text}`);
      assert.equal(r.session, null);
    }
  });

  test('MCP-Protocol-Version ≠ _meta version, or missing with a modern _meta: 400, -32020', async () => {
    const body = { jsonrpc: '2.0', id: 9, method: 'tools/list', params: { _meta: envelope('2025-11-25') } };
    let r = await post(body, modernHeaders('tools/list'));
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32020, 9]);
    r = await post(request(10, 'tools/list'), { 'Mcp-Method': 'tools/list' });
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32020, 10]);
  });

  test('an unsupported version: 400, -32022 listing every version served and the one asked for', async () => {
    for (const version of ['1900-01-01', '2024-11-05']) {
      const body = { jsonrpc: '2.0', id: 'v', method: 'tools/list', params: { _meta: envelope(version) } };
      const r = await post(body, { 'MCP-Protocol-Version': version, 'Mcp-Method': 'tools/list' });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.id, 'v');
      assert.equal(r.json.error.code, -32022);
      assert.deepEqual(r.json.error.data, { supported: ALL_VERSIONS, requested: version });
    }
  });

  test('_meta without clientCapabilities (or no _meta): 400, -32602', async () => {
    const noCaps = { jsonrpc: '2.0', id: 11, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } } };
    let r = await post(noCaps, modernHeaders('tools/list'));
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32602, 11]);
    r = await post({ jsonrpc: '2.0', id: 12, method: 'tools/list' }, modernHeaders('tools/list'));
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32602, 12]);
  });

  test('unknown and removed methods (ping, logging/setLevel, initialize with the envelope): 404, -32601', async () => {
    for (const method of ['foo/bar', 'ping', 'logging/setLevel', 'initialize', 'resources/subscribe', 'prompts/list']) {
      const r = await post(request(13, method), modernHeaders(method));
      assert.deepEqual([r.status, r.json?.error?.code, r.json?.id], [404, -32601, 13], `${method}: ${r.text}`);
    }
  });

  test('GET and DELETE from a modern client: 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(s.url('/mcp'), { method, headers: { authorization: `Bearer ${token}`, 'MCP-Protocol-Version': MODERN } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
    }
  });

  test('a modern request carrying Mcp-Session-Id (unknown, or a live 2025 session) is served statelessly', async () => {
    let r = await post(toolCall(14, 'hello_world'), { ...modernHeaders('tools/call', 'hello_world'), 'Mcp-Session-Id': 'no-such-session', 'Last-Event-ID': '1-1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.session, null);
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(init.status, 200, init.text);
    assert.match(init.session, /^[0-9a-f]{32}$/);
    r = await post(toolCall(15, 'hello_world'), { ...modernHeaders('tools/call', 'hello_world'), 'Mcp-Session-Id': init.session });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.session, null);
    assert.equal(r.json.result.resultType, 'complete');
  });

  test('notifications: 202, no body', async () => {
    const r = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: envelope() } },
      { 'MCP-Protocol-Version': MODERN });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
  });

  test('the 2025 era is unchanged on the same endpoint: initialize, session, tools/call, bad version', async () => {
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(init.json.result.protocolVersion, '2025-11-25');
    assert.equal(init.json.result.resultType, undefined);
    const legacy = { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Session-Id': init.session };
    const r = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }, legacy);
    assert.equal(r.json.result.content[0].text, 'Hello, user with ID u1!');
    assert.equal(r.json.result.resultType, undefined);
    const ping = await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, legacy);
    assert.deepEqual(ping.json.result, {});
    const noSession = await post({ jsonrpc: '2.0', id: 4, method: 'tools/list' }, { 'MCP-Protocol-Version': '2025-11-25' });
    assert.equal(noSession.status, 400);
  });

  test('401: the same challenge for a modern request as for a 2025 one', async () => {
    const modern = await send(s, { body: toolCall(16, 'hello_world'), headers: modernHeaders('tools/call', 'hello_world') });
    const legacy = await send(s, { body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} } });
    assert.equal(modern.status, 401);
    assert.equal(modern.challenge, legacy.challenge);
    assert.match(modern.challenge, /resource_metadata="/);
    const expired = tokenFor(s, 'mcp', { exp: Math.floor(Date.now() / 1000) - 3600 });
    const m2 = await send(s, { token: expired, body: toolCall(17, 'hello_world'), headers: modernHeaders('tools/call', 'hello_world') });
    const l2 = await send(s, { token: expired, body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} } });
    assert.equal(m2.status, 401);
    assert.equal(m2.challenge, l2.challenge);
    assert.match(m2.challenge, /error="invalid_token"/);
  });

  test('403 on the resource\'s scope: the same for both eras', async () => {
    const weak = tokenFor(s, 'profile');
    const m = await send(s, { token: weak, body: toolCall(18, 'hello_world'), headers: modernHeaders('tools/call', 'hello_world') });
    const l = await send(s, { token: weak, body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} } });
    assert.equal(m.status, 403);
    assert.equal(m.challenge, l.challenge);
    assert.match(m.challenge, /error="insufficient_scope"/);
  });

  test('per-tool scopes from Mcp-Name: a forbidden tools/call is 403 insufficient_scope, as in 2025', async () => {
    const m = await post(toolCall(19, 'whoami'), modernHeaders('tools/call', 'whoami'));
    assert.equal(m.status, 403, m.text);
    assert.match(m.challenge, /error="insufficient_scope"/);
    assert.match(m.challenge, /scope="mcp mcp:whoami"/);
    assert.match(m.challenge, /error_description="tool whoami needs scope mcp:whoami"/);
    const sentinelForm = await post(toolCall(20, 'whoami'), modernHeaders('tools/call', sentinel('whoami')));
    assert.equal(sentinelForm.status, 403);
    assert.equal(sentinelForm.challenge, m.challenge);
    // The 2025 session way gives the same challenge.
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const l = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
      { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Session-Id': init.session });
    assert.equal(l.status, 403);
    assert.equal(l.challenge, m.challenge);
    // With the scope the call runs.
    const ok = await send(s, { token: tokenFor(s, 'mcp mcp:whoami'), body: toolCall(21, 'whoami'), headers: modernHeaders('tools/call', 'whoami') });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.result.structuredContent.subject, 'u1');
  });

  test('headers that disagree with the body never reach the policy or a tool: 400, -32020', async () => {
    // Mcp-Name names an allowed tool, the body a forbidden one.
    const r = await post(toolCall(22, 'whoami'), modernHeaders('tools/call', 'hello_world'));
    assert.deepEqual([r.status, r.json.error.code], [400, -32020]);
  });

  test('Accept and Content-Type as in 2025: 406, 415', async () => {
    let r = await post(request(23, 'tools/list'), { ...modernHeaders('tools/list'), accept: 'application/json' });
    assert.equal(r.status, 406);
    r = await send(s, { token, body: request(24, 'tools/list'), headers: { ...modernHeaders('tools/list'), 'content-type': 'text/plain' } });
    assert.equal(r.status, 415);
  });

  test('CORS preflight allows the modern headers', async () => {
    const r = await send(s, { method: 'OPTIONS' });
    assert.equal(r.status, 204);
    const res = await fetch(s.url('/mcp'), { method: 'OPTIONS' });
    assert.match(res.headers.get('access-control-allow-headers'), /Mcp-Method, Mcp-Name/);
  });
});

/** Opens a subscriptions/listen stream; resolves with the response and a reader of its events. */
function openListen(s, token, id) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(request(id, 'subscriptions/listen', { notifications: { toolsListChanged: true, resourceSubscriptions: ['x://y'] } }));
    const req = http.request(s.url('/mcp'), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', ...modernHeaders('subscriptions/listen'),
      },
    }, (res) => {
      let data = '';
      const waiters = [];
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; waiters.splice(0).forEach((w) => w()); });
      const ended = new Promise((r) => res.on('end', r));
      const events = () => data.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
      const waitFor = async (pred, ms = 5000) => {
        const deadline = Date.now() + ms;
        while (!pred(events())) {
          if (Date.now() > deadline) throw new Error(`timed out; got ${data}`);
          await new Promise((r) => { waiters.push(r); setTimeout(r, 50); });
        }
        return events();
      };
      resolve({ res, req, events, waitFor, ended, raw: () => data });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('subscriptions/listen', () => {
  let s;
  let token;
  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile]);
    token = tokenFor(s, 'mcp');
  });
  after(async () => {
    await s.stop();
  });

  test('SSE: the acknowledgement first, with the subscription id and the honoured filter', async () => {
    const l = await openListen(s, token, 'sub-1');
    assert.equal(l.res.statusCode, 200);
    assert.match(l.res.headers['content-type'], /^text\/event-stream/);
    assert.equal(l.res.headers['mcp-session-id'], undefined);
    const [ack] = await l.waitFor((e) => e.length >= 1);
    assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
    assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
    assert.deepEqual(ack.params.notifications, { toolsListChanged: true });
    // The client closes the stream; its notifications/cancelled is 202; the server goes on.
    l.req.destroy();
    const cancel = await send(s, { token, body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'sub-1', _meta: envelope() } }, headers: { 'MCP-Protocol-Version': MODERN } });
    assert.equal(cancel.status, 202);
    await s.waitForLog(/"POST \/mcp" 200 .*client went away/);
    const r = await send(s, { token, body: request(1, 'tools/list'), headers: modernHeaders('tools/list') });
    assert.equal(r.status, 200);
  });

  test('a server that stops ends an open stream with the listen result', async () => {
    const own = await startServe(['--issuer', issuer, '--jwks-file', jwksFile]);
    const l = await openListen(own, tokenFor(own, 'mcp'), 7);
    await l.waitFor((e) => e.length >= 1);
    const stopped = own.stop();
    await l.ended;
    const events = l.events();
    const last = events[events.length - 1];
    assert.deepEqual(last, { jsonrpc: '2.0', id: 7, result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 7 } } });
    assert.equal((await stopped).code, 0);
  });
});

/** A fake 2026-07-28 upstream: records each request; "slow" is never answered. */
async function startModernUpstream() {
  const seen = [];
  const closed = [];
  const http = await startHttpServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    seen.push({ headers: { ...req.headers }, body });
    if (body.params?.name === 'slow') {
      res.on('close', () => closed.push(body.id));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': working\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { resultType: 'complete', content: [{ type: 'text', text: 'up' }] } }));
  });
  return { url: http.url('/mcp'), seen, closed, stop: () => http.stop() };
}

describe('--upstream of the 2026-07-28 era', () => {
  let up;
  let s;
  before(async () => {
    up = await startModernUpstream();
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--upstream', up.url]);
  });
  after(async () => {
    await s?.stop();
    await up?.stop();
  });

  test('passes through statelessly: mirrored headers, Mcp-Param-*, never the token or a session', async () => {
    const token = tokenFor(s, 'mcp');
    const r = await send(s, { token, body: toolCall(1, 'echo'), headers: { ...modernHeaders('tools/call', sentinel('echo')), 'Mcp-Param-Region': 'eu-west', 'Mcp-Session-Id': 'x' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.content[0].text, 'up');
    assert.equal(r.session, null);
    const seen = up.seen.at(-1);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['mcp-session-id'], undefined);
    assert.equal(seen.headers['mcp-protocol-version'], MODERN);
    assert.equal(seen.headers['mcp-method'], 'tools/call');
    assert.equal(seen.headers['mcp-name'], sentinel('echo'));
    assert.equal(seen.headers['mcp-param-region'], 'eu-west');
    assert.deepEqual(seen.body, toolCall(1, 'echo'));
  });

  test('a client that goes away cancels the upstream request (streamable-http §Cancellation)', async () => {
    const controller = new AbortController();
    const res = await fetch(s.url('/mcp'), {
      method: 'POST',
      signal: controller.signal,
      headers: {
        authorization: `Bearer ${tokenFor(s, 'mcp')}`, 'content-type': 'application/json',
        accept: 'application/json, text/event-stream', ...modernHeaders('tools/call', 'slow'),
      },
      body: JSON.stringify(toolCall('slow-1', 'slow')),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    controller.abort();
    for (let i = 0; i < 100 && !up.closed.includes('slow-1'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(up.closed, ['slow-1']);
  });
});
