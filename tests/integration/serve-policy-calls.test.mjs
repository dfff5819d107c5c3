// Integration tests for the per-tool scope policy of `mcpauth serve` (issue 5) once it is
// wired into the router and the MCP engine: tools/list shows only the tools the token may
// call, and a tools/call of a tool the token lacks scopes for gets 403 insufficient_scope
// with every scope the call needs and resource_metadata (PROTOCOL-CHECKLIST SC-1..SC-3),
// before the tool runs. The same through a stdio backend (tests/fixtures/backends/echo.mjs,
// its input copied to a file by tee): the child's tools/list answer is filtered for the
// token of the request that asked, JSON or SSE, per session on a shared child, and a
// refused tools/call never reaches the child. Tokens are Ed25519-signed RFC 9068 JWTs
// checked against a --jwks-file, so no authorization server is needed.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-policy-calls.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyPair, REPO_ROOT, startServe, freePort, tmpDir } from '../lib/harness.mjs';

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

/** An RFC 9068 access token for serve s with these scopes. */
function tokenFor(s, scope) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed-1' })}.${b64({
    iss: issuer, sub: 'u1', aud: s.resource, client_id: 'c1', scope, iat: now, exp: now + 600,
  })}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** The JSON-RPC message a POST answered with: the body, or the stream's response event. */
function parseAnswer(type, text) {
  if (!text) return null;
  if (!type?.startsWith('text/event-stream')) return JSON.parse(text);
  const messages = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6).map((l) => JSON.parse(l.slice(6)));
  return messages.find((m) => 'result' in m || 'error' in m) ?? null;
}

async function post(s, token, message, session) {
  const res = await fetch(s.url('/mcp'), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      ...(session && { 'mcp-session-id': session }),
    },
    body: JSON.stringify(message),
  });
  const type = res.headers.get('content-type');
  const text = await res.text();
  return {
    status: res.status, type, text, challenge: res.headers.get('www-authenticate'),
    session: res.headers.get('mcp-session-id'), body: parseAnswer(type, text),
  };
}

const call = (name, id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

describe('a policy on the built-in tools', () => {
  let s;
  before(async () => {
    s = await startServe(['--stateless', '--issuer', issuer, '--jwks-file', jwksFile,
      '--tool-scope', 'whoami=mcp:whoami,mcp:read', '--tool-scope', 'hello_*=']);
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  test('tools/list shows only the tools the token may call', async () => {
    const names = async (scope) => (await post(s, tokenFor(s, scope), list)).body.result.tools.map((t) => t.name).sort();
    assert.deepEqual(await names('mcp'), ['hello_world']);
    assert.deepEqual(await names('mcp mcp:whoami'), ['hello_world']);
    assert.deepEqual(await names('mcp mcp:whoami mcp:read'), ['hello_world', 'whoami']);
  });

  test('tools/call of a tool the token lacks scopes for: 403 insufficient_scope with all it needs', async () => {
    const r = await post(s, tokenFor(s, 'mcp mcp:read'), call('whoami'));
    assert.equal(r.status, 403);
    assert.match(r.challenge, /^Bearer /);
    assert.match(r.challenge, /error="insufficient_scope"/);
    assert.match(r.challenge, /scope="mcp mcp:whoami mcp:read"/);
    assert.match(r.challenge, new RegExp(`resource_metadata="${s.origin}/.well-known/oauth-protected-resource/mcp"`));
    assert.match(r.challenge, /error_description="tool whoami needs scope mcp:whoami"/);
    assert.equal(r.body.error, 'insufficient_scope');
  });

  test('with the scopes the call goes through; a tool needing nothing more always does', async () => {
    const ok = await post(s, tokenFor(s, 'mcp mcp:whoami mcp:read'), call('whoami'));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.result.structuredContent.subject, 'u1');
    assert.equal((await post(s, tokenFor(s, 'mcp'), call('hello_world'))).status, 200);
  });

  test('an unknown tool is not the policy\'s business when it needs nothing', async () => {
    const r = await post(s, tokenFor(s, 'mcp'), call('hello_nobody'));
    assert.equal(r.status, 200);
    assert.equal(r.body.error.code, -32602);
  });
});

// ---- through a stdio backend ------------------------------------------------

const NODE = process.execPath;
const BACKENDS = path.join(REPO_ROOT, 'tests/fixtures/backends');

/**
 * A backend that reports on stderr (which serve logs as "backend[PID]: ...") every line
 * it reads, then runs echo.mjs; with noisy, its tools/list answer comes after a log
 * notification, so that serve answers it as a stream.
 */
function watchedBackend(dir, { noisy = false } = {}) {
  const file = path.join(dir, noisy ? 'noisy.mjs' : 'watched.mjs');
  const lib = JSON.stringify(new URL(`file://${BACKENDS}/stdio-jsonrpc.mjs`).href);
  const echo = JSON.stringify(new URL(`file://${BACKENDS}/echo.mjs`).href);
  fs.writeFileSync(file, noisy ? `
import { notify, serveStdio, textResult } from ${lib};
const tools = ['echo', 'env', 'admin_wipe'].map((name) => ({ name, inputSchema: { type: 'object' } }));
serveStdio({
  name: 'noisy', tools,
  methods: { 'tools/list': () => { notify('notifications/message', { level: 'info', data: 'listing' }); return { tools }; } },
  callTool: (params) => textResult(params.name),
});
` : `
import readline from 'node:readline';
import ${echo};
// Static imports run first: echo.mjs already reads stdin, and this reads it too.
readline.createInterface({ input: process.stdin }).on('line', (line) => console.error(\`seen: \${line}\`));
`);
  return file;
}

async function openSession(s, token) {
  const init = await post(s, token, {
    jsonrpc: '2.0', id: 'init', method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'policy-test', version: '1.0.0' } },
  });
  assert.equal(init.status, 200, init.text);
  assert.match(init.session ?? '', /^[0-9a-f]{32}$/);
  const n = await post(s, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, init.session);
  assert.equal(n.status, 202, n.text);
  return init.session;
}

const names = (r) => {
  assert.equal(r.status, 200, r.text);
  assert.ok(r.body?.result?.tools, r.text);
  return r.body.result.tools.map((t) => t.name).sort();
};

describe('a policy on a stdio backend', () => {
  let s;
  let dir;
  before(async () => {
    dir = tmpDir();
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--tool-scope', 'env=mcp:env',
      '--', NODE, watchedBackend(dir)]);
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  test('the child\'s tools/list shows only the tools the token of the request may call', async () => {
    const session = await openSession(s, tokenFor(s, 'mcp'));
    const narrow = await post(s, tokenFor(s, 'mcp'), { ...list, id: 11 }, session);
    assert.equal(narrow.type, 'application/json');
    assert.equal(narrow.body.id, 11);
    assert.deepEqual(names(narrow), ['ask', 'echo', 'log', 'pid', 'progress']);
    // The same session, a token with more scopes (same subject and client): more tools.
    const wide = await post(s, tokenFor(s, 'mcp mcp:env'), { ...list, id: 12 }, session);
    assert.deepEqual(names(wide), ['ask', 'echo', 'env', 'log', 'pid', 'progress']);
  });

  test('a forbidden tools/call: 403 insufficient_scope for all it needs, and the child never sees it', async () => {
    const token = tokenFor(s, 'mcp');
    const session = await openSession(s, token);
    const refused = await post(s, token, { ...call('env', 21), params: { name: 'env', arguments: { marker: 'forbidden-21' } } }, session);
    assert.equal(refused.status, 403);
    assert.match(refused.challenge, /error="insufficient_scope"/);
    assert.match(refused.challenge, /scope="mcp mcp:env"/);
    assert.match(refused.challenge, new RegExp(`resource_metadata="${s.origin}/.well-known/oauth-protected-resource/mcp"`));
    assert.equal(refused.body.error, 'insufficient_scope');
    await s.waitForLog(/POST \/mcp.* 403 .*tool env needs scope mcp:env/);

    // An allowed call, sent after it, reaches the child: the child reads in order, so
    // once it has seen this one it would have seen the refused one before.
    const allowed = await post(s, token, { ...call('echo', 22), params: { name: 'echo', arguments: { marker: 'allowed-22' } } }, session);
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(allowed.body.result.content[0].text, '{"marker":"allowed-22"}');
    const log = await s.waitForLog(/seen: .*allowed-22/);
    assert.doesNotMatch(log, /forbidden-21/);

    // With the scope, the same call goes through to the child.
    const granted = await post(s, tokenFor(s, 'mcp mcp:env'), { ...call('env', 23), params: { name: 'env', arguments: { marker: 'granted-23' } } }, session);
    assert.equal(granted.status, 200, granted.text);
    assert.ok(granted.body.result, granted.text);
    await s.waitForLog(/seen: .*granted-23/);
  });

  test('refusals are counted', async () => {
    const metrics = await (await fetch(s.url('/metrics'))).text();
    const m = metrics.match(/mcpauth_token_validations_total\{outcome="insufficient_scope"\} (\d+)/);
    assert.ok(m && Number(m[1]) >= 1, metrics);
  });
});

describe('a policy on a stdio backend that streams its tools/list answer', () => {
  let s;
  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--tool-scope', 'admin_*=mcp:admin',
      '--', NODE, watchedBackend(tmpDir(), { noisy: true })]);
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  test('the stream, and its replay, carry the filtered list', async () => {
    const token = tokenFor(s, 'mcp');
    const session = await openSession(s, token);
    const r = await post(s, token, { ...list, id: 31 }, session);
    assert.equal(r.type, 'text/event-stream', r.text);
    assert.match(r.text, /notifications\/message/);
    assert.deepEqual(names(r), ['echo', 'env']);
    assert.doesNotMatch(r.text, /admin_wipe/);
    // Resumed from its priming event, the stream is replayed as it was sent.
    const priming = r.text.match(/^id: (\d+-0)$/m)[1];
    const replay = await fetch(s.url('/mcp'), {
      headers: {
        authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25', 'last-event-id': priming,
      },
    });
    assert.equal(replay.status, 200);
    const text = await replay.text();
    assert.match(text, /"tools":\[\{"name":"echo"/);
    assert.doesNotMatch(text, /admin_wipe/);
    const admin = await post(s, tokenFor(s, 'mcp mcp:admin'), { ...list, id: 32 }, session);
    assert.deepEqual(names(admin), ['admin_wipe', 'echo', 'env']);
  });
});

describe('a policy on a shared stdio backend', () => {
  let s;
  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--tool-scope', 'env=mcp:env',
      '--shared-backend', '--', NODE, watchedBackend(tmpDir())]);
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  test('each session sees the tools its own token may call, from the one child', async () => {
    const narrow = tokenFor(s, 'mcp');
    const wide = tokenFor(s, 'mcp mcp:env');
    const a = await openSession(s, narrow);
    const b = await openSession(s, wide);
    const [la, lb] = await Promise.all([
      post(s, narrow, { ...list, id: 41 }, a),
      post(s, wide, { ...list, id: 42 }, b),
    ]);
    assert.deepEqual(names(la), ['ask', 'echo', 'log', 'pid', 'progress']);
    assert.deepEqual(names(lb), ['ask', 'echo', 'env', 'log', 'pid', 'progress']);
    const pid = async (token, session) => (await post(s, token, call('pid', 43), session)).body.result.content[0].text;
    assert.equal(await pid(narrow, a), await pid(wide, b), 'one child serves both');
    assert.equal((await post(s, narrow, call('env', 44), a)).status, 403);
  });
});
