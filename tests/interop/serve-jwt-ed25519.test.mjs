// oidc-provider with an OKP (Ed25519) signing key signs JWT access tokens with the
// RFC 9864 fully-specified algorithm name "Ed25519" (not the polymorphic "EdDSA"), and
// publishes the key with "alg":"Ed25519". serve and check-token --verify accept those
// tokens by default; a header that names Ed25519 over a key of another curve is refused;
// and --jwt-alg lists EdDSA and Ed25519 as separate entries.
// Run: MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/interop/serve-jwt-ed25519.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { freePort, keyPair, run, startServe } from '../lib/harness.mjs';
import { startAuthServer } from './lib/authserver.mjs';

let as;
let mcpUrl;
let client;
const serves = [];

const decode = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

async function getJwt() {
  const r = await fetch(as.url('/token'), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp', resource: mcpUrl }),
  });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json));
  return json.access_token;
}

function hello(url, token) {
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }),
  });
}

before(async () => {
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const ed = keyPair('ed25519').privateKey;
  as = await startAuthServer({
    resources: { [mcpUrl]: { scope: 'mcp', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'Ed25519' } } } },
    config: { jwks: { keys: [{ ...ed.export({ format: 'jwk' }), kid: 'ed', alg: 'Ed25519', use: 'sig' }] } },
  });
  const reg = await fetch(as.url('/reg'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_types: ['client_credentials'], response_types: [], scope: 'mcp',
      token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [],
      id_token_signed_response_alg: 'Ed25519' }), // the only key it has
  });
  client = await reg.json();
  assert.equal(reg.status, 201, JSON.stringify(client));
  serves.push(await startServe(['--issuer', as.issuer, '--resource', mcpUrl, '--stateless'], { port }));
});

after(async () => {
  await Promise.all(serves.map((s) => s.stop()));
  await as?.stop();
});

describe('oidc-provider signing access tokens with Ed25519 (RFC 9864)', () => {
  test('the token says alg Ed25519, and so does the published key', async () => {
    const header = decode((await getJwt()).split('.')[0]);
    assert.deepEqual([header.alg, header.kid, header.typ], ['Ed25519', 'ed', 'at+jwt']);
    const jwks = await (await fetch(as.url('/jwks'))).json();
    assert.deepEqual(jwks.keys.map((k) => [k.kty, k.crv, k.alg]), [['OKP', 'Ed25519', 'Ed25519']]);
  });

  test('the SDK client calls hello_world through serve with it', async () => {
    const token = await getJwt();
    const c = new Client({ name: 'mcpauth-ed25519-interop', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(mcpUrl),
      { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      const result = await c.callTool({ name: 'hello_world', arguments: {} });
      assert.equal(result.content[0].text, `Hello, user with ID ${client.client_id}!`);
    } finally {
      await c.close();
    }
  });

  test('check-token --verify exits 0 on it', async () => {
    const r = await run(['check-token', '--verify', '--issuer', as.issuer, '--audience', mcpUrl, '--token-file', '-'],
      { input: await getJwt() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^JWT: signature valid \(Ed25519, kid "ed"\)/m);
  });

  test('--jwt-alg EdDSA alone (without Ed25519) refuses it; --jwt-alg Ed25519 alone takes it', async () => {
    const token = await getJwt();
    const refused = await run(['check-token', '--verify', '--issuer', as.issuer, '--jwt-alg', 'EdDSA',
      '--token-file', '-'], { input: token });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /alg Ed25519 not allowed/);
    const taken = await run(['check-token', '--verify', '--issuer', as.issuer, '--jwt-alg', 'Ed25519',
      '--token-file', '-'], { input: token });
    assert.equal(taken.code, 0, taken.stderr);
  });

  test('a header naming Ed25519 over a key of another curve is refused (401)', async () => {
    // An Ed448 key published under the kid the header names: the curve must agree with the name.
    const ed448 = keyPair('ed448');
    const jwk = { ...ed448.publicKey.export({ format: 'jwk' }), kid: 'k448' };
    const http = await import('node:http');
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    const jwksUrl = `http://127.0.0.1:${server.address().port}/jwks`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    const s = await startServe(['--issuer', 'https://as.example', '--jwks-uri', jwksUrl, '--resource', url,
      '--stateless'], { port });
    try {
      const now = Math.floor(Date.now() / 1000);
      const h = Buffer.from(JSON.stringify({ alg: 'Ed25519', typ: 'at+jwt', kid: 'k448' })).toString('base64url');
      const p = Buffer.from(JSON.stringify({ iss: 'https://as.example', aud: url, sub: 'x', client_id: 'c',
        scope: 'mcp', iat: now, exp: now + 300, jti: 'j' })).toString('base64url');
      const sig = crypto.sign(null, Buffer.from(`${h}.${p}`), ed448.privateKey).toString('base64url');
      const r = await hello(url, `${h}.${p}.${sig}`);
      assert.equal(r.status, 401);
      assert.match(r.headers.get('www-authenticate'), /key k448 is OKP Ed448, not for Ed25519/);
      // The same key under its own name, EdDSA (polymorphic), verifies.
      const h2 = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k448' })).toString('base64url');
      const sig2 = crypto.sign(null, Buffer.from(`${h2}.${p}`), ed448.privateKey).toString('base64url');
      assert.equal((await hello(url, `${h2}.${p}.${sig2}`)).status, 200);
    } finally {
      await s.stop();
      server.close();
    }
  });
});
