// Integration tests for `mcpauth serve --dev` (issue 6): the development issuer against the
// real binary, with the test playing client and browser. Every endpoint's happy path and
// its error cases; which browser origins may call it (CORS); the existing subcommands
// (register, token, check-token) against it.
// Node built-ins only. Run: MCPAUTH_BIN=build/mcpauth node --test tests/integration/serve-dev.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { run, startServe, tmpDir, freePort, MCPAUTH_BIN } from '../lib/harness.mjs';

const USER = 'alice dev';
const REDIRECT = 'http://127.0.0.1:9/callback';

// ---------------------------------------------------------------------------------------
// A small OAuth client

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

async function json(res) {
  const text = await res.text();
  try { return JSON.parse(text); } catch { return assert.fail(`not JSON (${res.status}): ${text}`); }
}

async function register(s, metadata = {}) {
  const res = await fetch(s.url('/register'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'test client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      ...metadata,
    }),
  });
  const body = await json(res);
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

function basic(client) {
  const enc = (v) => encodeURIComponent(v);
  return `Basic ${Buffer.from(`${enc(client.client_id)}:${enc(client.client_secret)}`).toString('base64')}`;
}

/** GET /authorize with params; returns {status, location (URL), body}. */
async function authorize(s, params) {
  const res = await fetch(`${s.url('/authorize')}?${new URLSearchParams(params)}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : null, body: await res.text(), headers: res.headers };
}

function codeParams(s, client, challenge, extra = {}) {
  return {
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st-123',
    resource: s.resource,
    ...extra,
  };
}

/** An authorization code from an --dev-auto-approve server. */
async function getCode(s, client, extra = {}) {
  const p = pkce();
  const r = await authorize(s, codeParams(s, client, p.challenge, extra));
  assert.equal(r.status, 302, r.body);
  assert.equal(r.location.searchParams.get('state'), 'st-123');
  assert.equal(r.location.searchParams.get('iss'), s.origin);
  const code = r.location.searchParams.get('code');
  assert.ok(code, r.location.href);
  return { code, verifier: p.verifier };
}

async function tokenRequest(s, form, { auth } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (auth) headers.authorization = auth;
  const res = await fetch(s.url('/token'), { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: res.status, body: await json(res), headers: res.headers };
}

async function redeem(s, client, code, verifier, extra = {}) {
  return tokenRequest(s, {
    grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, ...extra,
  }, { auth: basic(client) });
}

async function introspect(s, client, token) {
  const res = await fetch(s.url('/introspect'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
    body: new URLSearchParams({ token }),
  });
  return { status: res.status, body: await json(res) };
}

/** tools/call on a --stateless serve. */
async function callTool(s, token, tool = 'hello_world') {
  const res = await fetch(s.url('/mcp'), {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {} } }),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function expectGreeting(s, token, text) {
  const r = await callTool(s, token);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text).result.content, [{ type: 'text', text }]);
}

function decodeJwt(token) {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

function assertOauthError(r, status, error) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error, error, JSON.stringify(r.body));
}

/** serve stops cleanly on SIGTERM: exit 0 (under ASan, no leak report: exit 86). */
function assertCleanStop(result) {
  if (result) assert.deepEqual(result, { code: 0, signal: null });
}

function devServe(extra = []) {
  return startServe(['--dev', '--dev-user', USER, '--stateless', ...extra]);
}

// ---------------------------------------------------------------------------------------

describe('serve --dev with --dev-auto-approve (JWT access tokens)', () => {
  let s;
  let client;
  before(async () => {
    s = await devServe(['--dev-auto-approve', '--dev-code-lifetime', '2']);
    client = await register(s);
  });
  after(async () => assertCleanStop(await s?.stop()));

  test('logs a warning that it is for development only', () => {
    assert.match(s.stderr(), /warning: development issuer: for local development only/);
  });

  test('RFC 8414 metadata: issuer is the origin, every endpoint, S256, grants, auth methods', async () => {
    const res = await fetch(s.url('/.well-known/oauth-authorization-server'));
    assert.equal(res.status, 200);
    const md = await json(res);
    assert.equal(md.issuer, s.origin);
    for (const [k, p] of Object.entries({
      authorization_endpoint: '/authorize', token_endpoint: '/token', registration_endpoint: '/register',
      introspection_endpoint: '/introspect', revocation_endpoint: '/revoke', jwks_uri: '/jwks',
    })) assert.equal(md[k], s.origin + p, k);
    assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(md.grant_types_supported.sort(), ['authorization_code', 'client_credentials', 'refresh_token']);
    assert.deepEqual(md.token_endpoint_auth_methods_supported.sort(), ['client_secret_basic', 'client_secret_post', 'none']);
    assert.deepEqual(md.scopes_supported, ['mcp']);
    assert.equal(md.authorization_response_iss_parameter_supported, true);
    // The protected resource metadata names it.
    const prm = await json(await fetch(s.url('/.well-known/oauth-protected-resource/mcp')));
    assert.deepEqual(prm.authorization_servers, [s.origin]);
  });

  test('registration: 201 with client_id, secret, RFC 7592 token and URI; defaults filled', async () => {
    assert.match(client.client_id, /^dev-/);
    assert.ok(client.client_secret.length >= 43);
    assert.equal(client.client_secret_expires_at, 0);
    assert.ok(client.registration_access_token);
    assert.equal(client.registration_client_uri, `${s.origin}/register/${client.client_id}`);
    assert.equal(client.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(client.response_types, ['code']);
    // The secrets are never logged.
    assert.ok(!s.stderr().includes(client.client_secret));
    assert.ok(!s.stderr().includes(client.registration_access_token));
  });

  test('registration errors: bad redirect URI, unknown grant, not JSON, public client_credentials', async () => {
    const post = (body, type = 'application/json') => fetch(s.url('/register'), {
      method: 'POST', headers: { 'content-type': type }, body,
    });
    let r = await post(JSON.stringify({ redirect_uris: ['http://example.com/cb'] }));
    assert.equal(r.status, 400);
    assert.equal((await json(r)).error, 'invalid_redirect_uri');
    r = await post(JSON.stringify({ redirect_uris: [REDIRECT], grant_types: ['password'] }));
    assert.equal((await json(r)).error, 'invalid_client_metadata');
    r = await post('{not json');
    assert.equal(r.status, 400);
    r = await post(JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }));
    assert.equal((await json(r)).error, 'invalid_client_metadata');
    r = await post(JSON.stringify({ grant_types: ['authorization_code'] }));
    assert.equal((await json(r)).error, 'invalid_redirect_uri');
  });

  test('RFC 7592: read, update (replaces), bad token 401, delete 204 then the client is gone', async () => {
    const c = await register(s, { client_name: 'to manage' });
    const auth = { authorization: `Bearer ${c.registration_access_token}` };
    let r = await fetch(c.registration_client_uri, { headers: auth });
    assert.equal(r.status, 200);
    const read = await json(r);
    assert.equal(read.client_name, 'to manage');
    assert.equal(read.client_secret, undefined);
    r = await fetch(c.registration_client_uri, { headers: { authorization: 'Bearer wrong' } });
    assert.equal(r.status, 401);
    r = await fetch(c.registration_client_uri, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: c.client_id, redirect_uris: [REDIRECT], client_name: 'renamed', grant_types: ['client_credentials'] }),
    });
    assert.equal(r.status, 200);
    const updated = await json(r);
    assert.equal(updated.client_name, 'renamed');
    assert.deepEqual(updated.grant_types, ['client_credentials']);
    r = await fetch(c.registration_client_uri, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'someone-else', redirect_uris: [REDIRECT] }),
    });
    assert.equal(r.status, 400);
    r = await fetch(c.registration_client_uri, { method: 'DELETE', headers: auth });
    assert.equal(r.status, 204);
    r = await fetch(c.registration_client_uri, { headers: auth });
    assert.equal(r.status, 401);
    const t = await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic(c) });
    assertOauthError(t, 401, 'invalid_client');
  });

  test('authorization code flow: RFC 9068 JWT for the resource, hello_world greets the dev user', async () => {
    const { code, verifier } = await getCode(s, client);
    const r = await redeem(s, client, code, verifier);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.expires_in, 3600);
    assert.equal(r.body.scope, 'mcp');
    assert.ok(r.body.refresh_token);
    const { header, payload } = decodeJwt(r.body.access_token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'at+jwt');
    const jwks = await json(await fetch(s.url('/jwks')));
    assert.equal(header.kid, jwks.keys[0].kid);
    assert.equal(payload.iss, s.origin);
    assert.equal(payload.aud, s.resource);
    assert.equal(payload.sub, USER);
    assert.equal(payload.username, USER);
    assert.equal(payload.client_id, client.client_id);
    assert.equal(payload.scope, 'mcp');
    assert.equal(payload.exp - payload.iat, 3600);
    assert.ok(payload.jti);
    // Node's own verifier accepts the signature.
    const key = crypto.createPublicKey({ key: jwks.keys[0], format: 'jwk' });
    const [h, p, sig] = r.body.access_token.split('.');
    assert.ok(crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url')));
    await expectGreeting(s, r.body.access_token, `Hello, ${USER}!`);
    assert.ok(!s.stderr().includes(r.body.access_token), 'the token was logged');
  });

  test('a public client (none) with PKCE', async () => {
    const pub = await register(s, { token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] });
    assert.equal(pub.client_secret, undefined);
    const { code, verifier } = await getCode(s, pub);
    const r = await tokenRequest(s, {
      grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: pub.client_id,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.refresh_token, undefined, 'no refresh_token grant registered');
  });

  test('bad PKCE verifier: invalid_grant', async () => {
    const { code } = await getCode(s, client);
    const r = await redeem(s, client, code, pkce().verifier);
    assertOauthError(r, 400, 'invalid_grant');
    assert.match(r.body.error_description, /code_verifier/);
  });

  test('reused code: invalid_grant, and the tokens it gave are revoked', async () => {
    const { code, verifier } = await getCode(s, client);
    const first = await redeem(s, client, code, verifier);
    assert.equal(first.status, 200);
    const again = await redeem(s, client, code, verifier);
    assertOauthError(again, 400, 'invalid_grant');
    assert.equal((await introspect(s, client, first.body.access_token)).body.active, false);
    const refreshed = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, { auth: basic(client) });
    assertOauthError(refreshed, 400, 'invalid_grant');
  });

  test('wrong redirect URI: at /authorize an error page (no redirect); at /token invalid_grant', async () => {
    const p = pkce();
    const r = await authorize(s, codeParams(s, client, p.challenge, { redirect_uri: 'http://127.0.0.1:9/other' }));
    assert.equal(r.status, 400);
    assert.equal(r.location, null);
    assert.match(r.body, /redirect_uri/);
    const { code, verifier } = await getCode(s, client);
    const t = await redeem(s, client, code, verifier, { redirect_uri: 'http://127.0.0.1:9/other' });
    assertOauthError(t, 400, 'invalid_grant');
  });

  test('bad client secret and unknown client: 401 invalid_client', async () => {
    const { code, verifier } = await getCode(s, client);
    let r = await redeem(s, { ...client, client_secret: 'wrong' }, code, verifier);
    assertOauthError(r, 401, 'invalid_client');
    assert.match(r.headers.get('www-authenticate'), /^Basic /);
    r = await tokenRequest(s, { grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'wrong', resource: s.resource });
    assertOauthError(r, 401, 'invalid_client');
    r = await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic({ client_id: 'nobody', client_secret: 'x' }) });
    assertOauthError(r, 401, 'invalid_client');
    const page = await authorize(s, codeParams(s, { client_id: 'nobody' }, pkce().challenge));
    assert.equal(page.status, 400);
    assert.match(page.body, /unknown client_id/);
  });

  test('expired code (--dev-code-lifetime 2): invalid_grant', async () => {
    const { code, verifier } = await getCode(s, client);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    const r = await redeem(s, client, code, verifier);
    assertOauthError(r, 400, 'invalid_grant');
  });

  test('unsupported grant type and missing grant type', async () => {
    let r = await tokenRequest(s, { grant_type: 'password', username: 'a', password: 'b' }, { auth: basic(client) });
    assertOauthError(r, 400, 'unsupported_grant_type');
    r = await tokenRequest(s, {}, { auth: basic(client) });
    assertOauthError(r, 400, 'invalid_request');
  });

  test('resource: missing or unknown at /authorize and client_credentials; mismatched at /token', async () => {
    const p = pkce();
    let a = await authorize(s, codeParams(s, client, p.challenge, { resource: '' }));
    assert.equal(a.status, 302);
    assert.equal(a.location.searchParams.get('error'), 'invalid_target');
    assert.equal(a.location.searchParams.get('state'), 'st-123');
    assert.equal(a.location.searchParams.get('iss'), s.origin);
    a = await authorize(s, codeParams(s, client, p.challenge, { resource: 'http://127.0.0.1:9/other' }));
    assert.equal(a.location.searchParams.get('error'), 'invalid_target');
    let r = await tokenRequest(s, { grant_type: 'client_credentials' }, { auth: basic(client) });
    assertOauthError(r, 400, 'invalid_target');
    r = await tokenRequest(s, { grant_type: 'client_credentials', resource: 'https://elsewhere.example/mcp' }, { auth: basic(client) });
    assertOauthError(r, 400, 'invalid_target');
    const { code, verifier } = await getCode(s, client);
    r = await redeem(s, client, code, verifier, { resource: 'https://elsewhere.example/mcp' });
    assertOauthError(r, 400, 'invalid_target');
  });

  test('PKCE is required, S256 only; unsupported response_type; unknown scope', async () => {
    const p = pkce();
    const cases = [
      [{ code_challenge: '' }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ scope: 'mcp admin' }, 'invalid_scope'],
    ];
    for (const [extra, error] of cases) {
      const a = await authorize(s, codeParams(s, client, p.challenge, extra));
      assert.equal(a.status, 302, JSON.stringify(extra));
      assert.equal(a.location.searchParams.get('error'), error, JSON.stringify(extra));
    }
  });

  test('refresh token rotation: a new pair; the old one is rejected and its replay ends the grant', async () => {
    const { code, verifier } = await getCode(s, client);
    const first = await redeem(s, client, code, verifier);
    const second = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, { auth: basic(client) });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    assert.equal(decodeJwt(second.body.access_token).payload.username, USER);
    const wider = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, scope: 'mcp admin' }, { auth: basic(client) });
    assertOauthError(wider, 400, 'invalid_scope');
    assert.equal((await introspect(s, client, first.body.refresh_token)).body.active, false);
    assert.equal((await introspect(s, client, second.body.refresh_token)).body.active, true);
    const old = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token }, { auth: basic(client) });
    assertOauthError(old, 400, 'invalid_grant');
    // The replay ends the grant: the newer refresh token and its access token stop working.
    assert.equal((await introspect(s, client, second.body.refresh_token)).body.active, false);
    assert.equal((await introspect(s, client, second.body.access_token)).body.active, false);
    const newer = await tokenRequest(s, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token }, { auth: basic(client) });
    assertOauthError(newer, 400, 'invalid_grant');
  });

  test('client_credentials: the client is the subject, no username; client_secret_post works', async () => {
    const r = await tokenRequest(s, {
      grant_type: 'client_credentials', resource: s.resource, client_id: client.client_id, client_secret: client.client_secret,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { payload } = decodeJwt(r.body.access_token);
    assert.equal(payload.sub, client.client_id);
    assert.equal(payload.username, undefined);
    assert.equal(r.body.refresh_token, undefined);
    await expectGreeting(s, r.body.access_token, `Hello, user with ID ${client.client_id}!`);
  });

  test('introspection requires client authentication; revoke then introspect is inactive', async () => {
    const { code, verifier } = await getCode(s, client);
    const t = await redeem(s, client, code, verifier);
    let res = await fetch(s.url('/introspect'), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: t.body.access_token }),
    });
    assert.equal(res.status, 401);
    let i = await introspect(s, client, t.body.access_token);
    assert.equal(i.status, 200);
    assert.equal(i.body.active, true);
    assert.equal(i.body.username, USER);
    assert.equal(i.body.aud, s.resource);
    assert.equal(i.body.client_id, client.client_id);
    res = await fetch(s.url('/revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: new URLSearchParams({ token: t.body.access_token }),
    });
    assert.equal(res.status, 200);
    i = await introspect(s, client, t.body.access_token);
    assert.deepEqual(i.body, { active: false });
    // Revoking the refresh token ends the grant.
    const r2 = await redeem(s, client, ...Object.values(await getCode(s, client)));
    await fetch(s.url('/revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: new URLSearchParams({ token: r2.body.refresh_token, token_type_hint: 'refresh_token' }),
    });
    assert.equal((await introspect(s, client, r2.body.access_token)).body.active, false);
    assert.equal((await introspect(s, client, 'never-issued')).body.active, false);
  });

  test('an unauthenticated MCP request gets the 401 challenge pointing at the metadata', async () => {
    const r = await callTool(s, undefined);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
  });

  test('--dev-auto-approve only sends codes to loopback redirect URIs', async () => {
    const remote = await register(s, { redirect_uris: ['https://app.example.com/cb'] });
    const r = await authorize(s, codeParams(s, remote, pkce().challenge, { redirect_uri: 'https://app.example.com/cb' }));
    assert.equal(r.status, 400);
    assert.equal(r.location, null);
    assert.match(r.body, /loopback/);
  });

  test('a foreign Host (DNS rebinding) is refused on the issuer endpoints', async () => {
    const http = await import('node:http');
    const status = await new Promise((resolve, reject) => {
      const req = http.request(s.url('/.well-known/oauth-authorization-server'), { headers: { host: `evil.example:${s.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });

  test('repeated parameters are refused', async () => {
    const res = await fetch(`${s.url('/authorize')}?client_id=a&client_id=b`, { redirect: 'manual' });
    assert.equal(res.status, 400);
    const t = await fetch(s.url('/token'), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
    });
    assert.equal(t.status, 400);
  });
});

describe('serve --dev: which browser pages may call the issuer (CORS)', () => {
  let s;
  before(async () => { s = await devServe(['--allowed-origin', 'https://inspector.example']); });
  after(async () => assertCleanStop(await s?.stop()));

  /** A request with an Origin header, as a browser page at `origin` would send it. */
  async function fromPage(origin, method, p, { headers = {}, body } = {}) {
    const http = await import('node:http');
    return new Promise((resolve, reject) => {
      const req = http.request(s.url(p), { method, headers: { origin, ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  const preflight = (origin, p) => fromPage(origin, 'OPTIONS', p, {
    headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });

  test('preflights on /register and /token: loopback origins and --allowed-origin get 204, echoed', async () => {
    for (const p of ['/register', '/token']) {
      for (const origin of ['http://localhost:6274', 'http://127.0.0.1:6274', 'http://[::1]:6274', 'https://inspector.example', s.origin]) {
        const r = await preflight(origin, p);
        assert.equal(r.status, 204, `${origin} ${p}`);
        assert.equal(r.headers['access-control-allow-origin'], origin, `${origin} ${p}`);
        assert.match(r.headers['access-control-allow-methods'] ?? '', /POST/);
        assert.match(r.headers.vary ?? '', /Origin/);
      }
    }
  });

  test('any other origin is refused, preflight or not: 403 without CORS headers, nothing registered', async () => {
    for (const p of ['/register', '/token', '/introspect', '/revoke']) {
      for (const origin of ['https://evil.example', 'http://localhost.evil.example', 'null', 'https://inspector.example.evil']) {
        const r = await preflight(origin, p);
        assert.equal(r.status, 403, `${origin} ${p}`);
        assert.equal(r.headers['access-control-allow-origin'], undefined, `${origin} ${p}`);
      }
    }
    const r = await fromPage('https://evil.example', 'POST', '/register', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT] }),
    });
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.body, /client_id/);
    await s.waitForLog(/"POST \/register" 403 .*\(Origin not allowed\)/);
  });

  test('a loopback page registers and gets tokens; the metadata and keys are public', async () => {
    const reg = await fromPage('http://localhost:6274', 'POST', '/register', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], grant_types: ['client_credentials'] }),
    });
    assert.equal(reg.status, 201, reg.body);
    assert.equal(reg.headers['access-control-allow-origin'], 'http://localhost:6274');
    const client = JSON.parse(reg.body);
    const t = await fromPage('http://localhost:6274', 'POST', '/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: `grant_type=client_credentials&resource=${encodeURIComponent(s.resource)}`,
    });
    assert.equal(t.status, 200, t.body);
    assert.ok(JSON.parse(t.body).access_token);
    for (const p of ['/.well-known/oauth-authorization-server', '/jwks']) {
      const r = await fromPage('https://evil.example', 'GET', p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers['access-control-allow-origin'], '*', p);
    }
  });
});

describe('serve --dev consent page', () => {
  let s;
  let client;
  before(async () => {
    s = await devServe();
    client = await register(s);
  });
  after(async () => assertCleanStop(await s?.stop()));

  async function consentTicket(extra = {}) {
    const p = pkce();
    const r = await authorize(s, codeParams(s, client, p.challenge, extra));
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.ok(r.body.includes(USER.replace(' ', ' ')), 'the page names the dev user');
    const ticket = /name="ticket" value="([^"]+)"/.exec(r.body)?.[1];
    assert.ok(ticket, r.body);
    return { ticket, verifier: p.verifier };
  }

  async function decide(ticket, decision) {
    const res = await fetch(s.url('/authorize'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ticket, decision }),
      redirect: 'manual',
    });
    return { status: res.status, location: res.headers.get('location') ? new URL(res.headers.get('location')) : null, body: await res.text() };
  }

  test('approve: the code works', async () => {
    const { ticket, verifier } = await consentTicket();
    const r = await decide(ticket, 'approve');
    assert.equal(r.status, 302);
    assert.equal(r.location.origin + r.location.pathname, REDIRECT);
    const t = await redeem(s, client, r.location.searchParams.get('code'), verifier);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    await expectGreeting(s, t.body.access_token, `Hello, ${USER}!`);
    // The ticket is single-use.
    const again = await decide(ticket, 'approve');
    assert.equal(again.status, 400);
  });

  test('deny: error=access_denied with state and iss', async () => {
    const { ticket } = await consentTicket();
    const r = await decide(ticket, 'deny');
    assert.equal(r.status, 302);
    assert.equal(r.location.searchParams.get('error'), 'access_denied');
    assert.equal(r.location.searchParams.get('state'), 'st-123');
    assert.equal(r.location.searchParams.get('iss'), s.origin);
    assert.equal(r.location.searchParams.get('code'), null);
  });

  test('a forged approval without a valid ticket is refused', async () => {
    const r = await decide('forged', 'approve');
    assert.equal(r.status, 400);
    assert.equal(r.location, null);
  });

  test('client names are escaped on the page', async () => {
    const evil = await register(s, { client_name: '<script>alert(1)</script>' });
    const r = await authorize(s, codeParams(s, evil, pkce().challenge));
    assert.equal(r.status, 200);
    assert.ok(!r.body.includes('<script>'));
    assert.ok(r.body.includes('&lt;script&gt;'));
  });
});

describe('serve --dev --dev-token-format opaque', () => {
  let s;
  let client;
  before(async () => {
    s = await devServe(['--dev-auto-approve', '--dev-token-format', 'opaque']);
    client = await register(s);
  });
  after(async () => assertCleanStop(await s?.stop()));

  test('opaque tokens are checked by introspection and greet the dev user', async () => {
    const { code, verifier } = await getCode(s, client);
    const t = await redeem(s, client, code, verifier);
    assert.equal(t.status, 200);
    assert.equal(t.body.access_token.split('.').length, 1, 'not a JWT');
    await expectGreeting(s, t.body.access_token, `Hello, ${USER}!`);
    const md = await json(await fetch(s.url('/.well-known/oauth-authorization-server')));
    assert.equal(md.access_token_signing_alg_values_supported, undefined);
  });

  test('a revoked opaque token is refused by the resource server', async () => {
    const r = await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic(client) });
    await fetch(s.url('/revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: new URLSearchParams({ token: r.body.access_token }),
    });
    const call = await callTool(s, r.body.access_token);
    assert.equal(call.status, 401);
  });
});

describe('serve --dev --introspect-jwt', () => {
  let s;
  before(async () => {
    s = await devServe(['--dev-auto-approve', '--introspect-jwt', '--cache-size', '0']);
  });
  after(async () => assertCleanStop(await s?.stop()));

  test('the resource server sees a revoked JWT through the built-in client', async () => {
    const client = await register(s);
    const r = await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic(client) });
    await expectGreeting(s, r.body.access_token, `Hello, user with ID ${client.client_id}!`);
    await fetch(s.url('/revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
      body: new URLSearchParams({ token: r.body.access_token }),
    });
    const call = await callTool(s, r.body.access_token);
    assert.equal(call.status, 401, call.text);
  });
});

describe('serve --dev --workers 4', () => {
  test('runs one worker, and says so: a client registered on one connection is known on the next', async () => {
    const s = await startServe(['--dev', '--workers', '4', '--stateless']);
    try {
      assert.doesNotMatch(s.stderr(), /4 workers/);
      assert.match(s.stderr(), /warning: --dev runs one worker, not 4/);
      for (let i = 0; i < 8; i++) {
        const client = await register(s);
        const r = await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic(client) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
    } finally {
      assertCleanStop(await s.stop());
    }
  });
});

describe('serve --dev from a --config file', () => {
  test('dev keys in the configuration file', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    fs.writeFileSync(file, JSON.stringify({ dev: true, 'dev-user': 'carol', 'dev-auto-approve': true, 'dev-token-format': 'opaque', stateless: true }));
    const s = await startServe(['--config', file]);
    try {
      const client = await register(s);
      const { code, verifier } = await getCode(s, client);
      const t = await redeem(s, client, code, verifier);
      assert.equal(t.body.access_token.split('.').length, 1);
      await expectGreeting(s, t.body.access_token, 'Hello, carol!');
    } finally {
      assertCleanStop(await s.stop());
    }
  });
});

describe('serve --dev --dev-state', () => {
  test('registrations survive a restart; the file is 0600 and holds no client secret', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'dev-state.json');
    const port = await freePort();
    const args = ['--dev', '--dev-auto-approve', '--dev-state', file, '--stateless'];
    let s = await startServe(args, { port });
    let client;
    let jwt;
    try {
      client = await register(s);
      jwt = (await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic(client) })).body.access_token;
    } finally {
      assertCleanStop(await s.stop());
    }
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    // A copy left readable by others is made private again at the next start.
    fs.chmodSync(file, 0o644);
    const text = fs.readFileSync(file, 'utf8');
    assert.ok(!text.includes(client.client_secret), 'the client secret is stored in the clear');
    assert.ok(!text.includes(client.registration_access_token));
    s = await startServe(args, { port });
    try {
      const r = await tokenRequest(s, { grant_type: 'client_credentials', resource: s.resource }, { auth: basic(client) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // The signing key survived too: the earlier JWT still verifies.
      await expectGreeting(s, jwt, `Hello, user with ID ${client.client_id}!`);
      const read = await fetch(client.registration_client_uri, { headers: { authorization: `Bearer ${client.registration_access_token}` } });
      assert.equal(read.status, 200);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    } finally {
      assertCleanStop(await s.stop());
    }
  });

  test('a corrupt state file stops the start with one line, exit 5', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{"version":1,"clients":[]}', { mode: 0o600 });
    const port = await freePort();
    const r = await run(['serve', '--dev', '--dev-state', file, '--listen', `127.0.0.1:${port}`, '--resource', `http://127.0.0.1:${port}/mcp`]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /--dev-state .*signing_key/);
  });
});

describe('serve --dev refusals', () => {
  test('a non-loopback listen address or resource: one line, exit 5', async () => {
    let r = await run(['serve', '--dev', '--listen', '0.0.0.0:8000', '--resource', 'http://127.0.0.1:8000/mcp']);
    assert.equal(r.code, 5, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /loopback/);
    r = await run(['serve', '--dev', '--listen', '127.0.0.1:8000', '--resource', 'https://mcp.example.com/mcp']);
    assert.equal(r.code, 5, r.stderr);
  });

  test('--dev with --issuer or --no-auth is a usage error; bad --dev-token-format too', async () => {
    let r = await run(['serve', '--dev', '--issuer', 'https://as.example']);
    assert.equal(r.code, 2, r.stderr);
    r = await run(['serve', '--dev', '--no-auth']);
    assert.equal(r.code, 2, r.stderr);
    r = await run(['serve', '--dev', '--dev-token-format', 'paseto']);
    assert.equal(r.code, 2, r.stderr);
  });
});

describe('mcpauth register, token and check-token against serve --dev', () => {
  let s;
  let dir;
  before(async () => {
    s = await devServe(['--dev-auto-approve']);
    dir = tmpDir();
  });
  after(async () => assertCleanStop(await s?.stop()));

  test('register --resource (discovery from the 401), then --show and --delete', async () => {
    const out = path.join(dir, 'client.json');
    let r = await run(['register', '--resource', s.resource, '-o', out, '--grant-type', 'client_credentials', '--scope', 'mcp']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    const creds = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(creds.issuer, s.origin);
    assert.match(creds.client.client_id, /^dev-/);
    r = await run(['register', '--show', out]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(creds.client.client_id));
    // --show keeps the secret the server no longer returns.
    const after = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(after.client.client_secret, creds.client.client_secret);
    r = await run(['token', '-c', out, '-g', 'client_credentials', '--resource', s.resource]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('token: client_credentials, then check-token --introspect and --verify', async () => {
    const out = path.join(dir, 'cc.json');
    let r = await run(['register', '--issuer', s.origin, '-o', out, '--grant-type', 'client_credentials']);
    assert.equal(r.code, 0, r.stderr);
    r = await run(['token', '-c', out, '-g', 'client_credentials', '--resource', s.resource]);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.equal(decodeJwt(token).payload.aud, s.resource);
    r = await run(['check-token', '--verify', '--issuer', s.origin, '--audience', s.resource, '--token-file', '-'], { input: token });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    r = await run(['check-token', '--introspect', '-c', out, '--token-file', '-'], { input: token });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    r = await run(['check-token', '--verify', '--issuer', s.origin, '--audience', 'https://other.example/mcp', '--token-file', '-'], { input: token });
    assert.equal(r.code, 1, r.stderr + r.stdout);
    // Revoked: introspection says so.
    await fetch(s.url('/revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(JSON.parse(fs.readFileSync(out, 'utf8')).client) },
      body: new URLSearchParams({ token }),
    });
    r = await run(['check-token', '--introspect', '-c', out, '--token-file', '-'], { input: token });
    assert.equal(r.code, 1, r.stderr + r.stdout);
  });

  test('check-token --resource probes serve --dev with a token', async () => {
    const out = path.join(dir, 'probe.json');
    let r = await run(['register', '--issuer', s.origin, '-o', out, '--grant-type', 'client_credentials']);
    assert.equal(r.code, 0, r.stderr);
    r = await run(['token', '-c', out, '-g', 'client_credentials', '--resource', s.resource]);
    const token = r.stdout.trim();
    r = await run(['check-token', '--resource', s.resource, '--token-file', '-'], { input: token });
    assert.doesNotMatch(r.stdout, /^FAIL/m, r.stdout + r.stderr);
  });

  test('token: authorization code with PKCE, the test following the printed URL', async () => {
    const out = path.join(dir, 'ac.json');
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    let r = await run(['register', '--issuer', s.origin, '-o', out, '--redirect-uri', redirectUri]);
    assert.equal(r.code, 0, r.stderr);
    const child = spawn(MCPAUTH_BIN, ['token', '-c', out, '-g', 'authorization_code', '--resource', s.resource, '--json'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '', UBSAN_OPTIONS: process.env.UBSAN_OPTIONS ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const url = await new Promise((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (d) => {
          stderr += d;
          const m = /^ {2}(https?:\/\/\S+)$/m.exec(stderr);
          if (m) resolve(m[1]);
        });
        exited.then(() => reject(new Error(`token exited:\n${stderr}`)));
      });
      const a = await fetch(url, { redirect: 'manual' });
      assert.equal(a.status, 302, await a.text());
      const back = await fetch(a.headers.get('location'));
      assert.equal(back.status, 200);
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
    }
    const tokens = JSON.parse(stdout);
    assert.ok(tokens.refresh_token);
    await expectGreeting(s, tokens.access_token, `Hello, ${USER}!`);
  });
});
