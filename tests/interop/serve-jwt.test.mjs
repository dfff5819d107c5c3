// Interop tests for `mcpauth serve` with local JWT validation (issue 4, Part 2 and the
// Acceptance bullets on serve interop and JOSE vectors), against real peers:
// - oidc-provider 9.13.3 (lib/authserver.mjs) issuing RFC 9068 JWT access tokens
//   (resources configured with accessTokenFormat 'jwt': typ at+jwt, aud = the resource),
//   with serve started WITHOUT client credentials: auto mode, JWTs only, keys from the
//   jwks_uri of oidc-provider's metadata;
// - the official MCP TypeScript SDK client (@modelcontextprotocol/sdk 1.32.2), with a
//   static bearer JWT and with a ClientCredentialsProvider that discovers the AS
//   through our 401 and protected-resource metadata;
// - vectors minted by the npm `jose` package (6.x): SignJWT with typ
//   at+jwt for every algorithm serve verifies, served from a local JWKS endpoint.
// Run: cd tests/interop && npm ci && MCPAUTH_BIN=../../build/mcpauth node --test serve-jwt.test.mjs
//
// Facts about the peers these tests rely on (asserted below):
// - oidc-provider's JWT access token for client_credentials has header
//   {alg: RS256 (as configured), typ: at+jwt, kid} and claims iss, aud (the resource),
//   client_id, scope, exp, iat, jti, and sub = the client id (RFC 9068 §2.2 for tokens
//   issued to a client on its own behalf).
// - It refuses to introspect JWT access tokens (400 unsupported_token_type), so
//   `serve --introspect-jwt` in front of it cannot learn anything: it fails closed (503).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { exportJWK, SignJWT } from 'jose';
import { keyPair, run, startServe, startHttpServer, freePort, tmpDir } from '../lib/harness.mjs';
import { clientCredentials, rawInitialize, textOf, registerClientCredentials } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';

let as; // oidc-provider
let asMetadata;
let serve; // mcpauth serve, no credentials, RS256 JWTs for mcpUrl
let serveEs; // mcpauth serve for esUrl, whose JWTs oidc-provider signs with ES256
let mcpUrl;
let esUrl;
let otherUrl; // a resource oidc-provider knows that is not ours
let client; // the MCP client's registration (client_credentials), from `mcpauth register -o`
let secretFile;
const serves = [];

const decode = (segment) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));

/** client_credentials with a resource indicator (RFC 8707); returns the token response. */
async function tokenResponse({ resource = mcpUrl, scope = 'mcp' } = {}) {
  return clientCredentials(asMetadata.token_endpoint, client, { resource, scope });
}

async function getJwt(resource = mcpUrl) {
  const token = (await tokenResponse({ resource })).access_token;
  assert.equal(token.split('.').length, 3, 'a JWT');
  return token;
}

/** A connected SDK client on `url`; closed by the caller. */
async function sdkClient(url, transportOptions) {
  const c = new Client({ name: 'mcpauth-jwt-interop', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), transportOptions);
  await c.connect(transport);
  return { client: c, transport };
}

/** The error_description of a 401/403 challenge. */
function description(r) {
  const challenge = r.headers.get('www-authenticate') ?? '';
  return /error_description="([^"]*)"/.exec(challenge)?.[1];
}

before(async () => {
  const [port, esPort] = [await freePort(), await freePort()];
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  esUrl = `http://127.0.0.1:${esPort}/mcp`;
  otherUrl = 'https://other.example/mcp';
  as = await startAuthServer({
    resources: {
      [mcpUrl]: { scope: 'mcp', accessTokenFormat: 'jwt' },
      [esUrl]: { scope: 'mcp', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
      [otherUrl]: { scope: 'mcp', accessTokenFormat: 'jwt' },
    },
  });
  asMetadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();
  assert.ok(asMetadata.jwks_uri, 'oidc-provider publishes jwks_uri');

  // The MCP client, registered by mcpauth itself into a credentials file.
  const dir = tmpDir();
  const credFile = path.join(dir, 'client.json');
  await registerClientCredentials(as.issuer, 'mcp jwt client', { out: credFile });
  const saved = JSON.parse(fs.readFileSync(credFile, 'utf8'));
  client = { client_id: saved.client?.client_id, client_secret: saved.client?.client_secret };
  assert.ok(client.client_id && client.client_secret);
  secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, `${client.client_secret}\n`, { mode: 0o600 });

  // No credentials: auto mode can only verify JWTs, against oidc-provider's jwks_uri.
  serve = await startServe(['--issuer', as.issuer, '--resource', mcpUrl], { port });
  serveEs = await startServe(['--issuer', as.issuer, '--resource', esUrl, '--stateless'], { port: esPort });
  serves.push(serve, serveEs);
});

after(async () => {
  await Promise.all(serves.map((s) => s.stop()));
  await as?.stop();
});

describe('mcpauth serve with oidc-provider JWT access tokens (no credentials, auto mode)', () => {
  test('oidc-provider issues an RFC 9068 JWT for our resource: typ at+jwt, aud = the resource', async () => {
    const json = await tokenResponse();
    assert.equal(json.token_type, 'Bearer');
    const [h, p] = json.access_token.split('.');
    const header = decode(h);
    const claims = decode(p);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'RS256');
    assert.equal(header.kid, 'rs256');
    assert.equal(claims.iss, as.issuer);
    assert.equal(claims.aud, mcpUrl);
    assert.equal(claims.client_id, client.client_id);
    assert.equal(claims.scope, 'mcp');
    assert.equal(claims.sub, client.client_id);
    assert.equal(typeof claims.exp, 'number');
  });

  test('SDK client with a bearer JWT: initialize, listTools, hello_world, whoami says "jwt"', async () => {
    const token = await getJwt();
    const { client: c, transport } = await sdkClient(mcpUrl, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    try {
      assert.equal(c.getServerVersion()?.name, 'mcpauth');
      assert.ok(transport.sessionId, 'a session was opened');
      const { tools } = await c.listTools();
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('hello_world') && names.includes('whoami'), names.join());
      assert.equal(textOf(await c.callTool({ name: 'hello_world', arguments: {} })),
        `Hello, user with ID ${client.client_id}!`);
      const who = await c.callTool({ name: 'whoami', arguments: {} });
      const id = who.structuredContent;
      assert.equal(id.validated_by, 'jwt');
      assert.equal(id.cache, 'hit', 'initialize verified the token; later requests reuse the result');
      assert.equal(id.client_id, client.client_id);
      assert.equal(id.subject, client.client_id);
      assert.deepEqual(id.audiences, [mcpUrl]);
      assert.deepEqual(id.scopes, ['mcp']);
      assert.equal(id.issuer, as.issuer);
      assert.ok(!JSON.stringify(who).includes(token), 'whoami must not return the token');
      await transport.terminateSession();
    } finally {
      await c.close();
    }
  });

  test('SDK client with a ClientCredentialsProvider: discovers oidc-provider through the 401, gets a JWT', async () => {
    const provider = new ClientCredentialsProvider({
      clientId: client.client_id, clientSecret: client.client_secret, scope: 'mcp',
    });
    const { client: c } = await sdkClient(mcpUrl, { authProvider: provider });
    try {
      const token = provider.tokens()?.access_token;
      assert.ok(token, 'the provider obtained a token');
      assert.equal(token.split('.').length, 3, 'a JWT');
      assert.equal(decode(token.split('.')[1]).aud, mcpUrl, 'the SDK asked for a token for our resource (RFC 8707)');
      assert.equal(textOf(await c.callTool({ name: 'hello_world', arguments: {} })),
        `Hello, user with ID ${client.client_id}!`);
      assert.equal((await c.callTool({ name: 'whoami', arguments: {} })).structuredContent.validated_by, 'jwt');
    } finally {
      await c.close();
    }
  });

  test('ES256 JWTs from oidc-provider (kid es256) verify too', async () => {
    const token = await getJwt(esUrl);
    assert.equal(decode(token.split('.')[0]).alg, 'ES256');
    assert.equal(decode(token.split('.')[0]).kid, 'es256');
    const { client: c } = await sdkClient(esUrl, { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    try {
      assert.equal(textOf(await c.callTool({ name: 'hello_world', arguments: {} })),
        `Hello, user with ID ${client.client_id}!`);
    } finally {
      await c.close();
    }
  });

  test('a JWT for another resource → 401 invalid_token naming the audience', async () => {
    const r = await rawInitialize(mcpUrl, await getJwt(otherUrl));
    assert.equal(r.status, 401, await r.text());
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
    assert.match(description(r), /^audience \[.https:\/\/other\.example\/mcp.\] does not include /);
    // And our JWT is no good at the ES256 server either (another resource).
    const cross = await rawInitialize(esUrl, await getJwt(mcpUrl));
    assert.equal(cross.status, 401);
  });

  test('an opaque token (no resource indicator) → 401: nothing here can introspect it', async () => {
    const token = (await tokenResponse({ resource: null })).access_token;
    assert.equal(token.split('.').length, 1, 'opaque');
    const r = await rawInitialize(mcpUrl, token);
    assert.equal(r.status, 401, await r.text());
    assert.match(description(r), /not a JWT, and no introspection endpoint is configured/);
  });

  test('a tampered oidc-provider JWT → 401 bad signature', async () => {
    const [h, p, s] = (await getJwt()).split('.');
    const claims = { ...decode(p), sub: 'admin' };
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const r = await rawInitialize(mcpUrl, forged);
    assert.equal(r.status, 401);
    assert.equal(description(r), 'bad signature');
  });

  test('--introspect-jwt in front of oidc-provider (it refuses to introspect JWTs) fails closed: 503', async () => {
    // The token names mcpUrl, and oidc-provider issues tokens only for the resources it
    // knows: this serve (on another port) accepts that audience through --audience.
    const s = await startServe(['--issuer', as.issuer, '--client-id', client.client_id,
      '--client-secret-file', secretFile, '--introspect-jwt', '--stateless', '--audience', mcpUrl]);
    serves.push(s);
    const token = await getJwt();
    const r = await rawInitialize(s.url('/mcp'), token);
    assert.equal(r.status, 503, await r.text());
    assert.equal(r.headers.get('retry-after'), '5');
    await s.waitForLog(/cannot validate token [0-9a-f]{12}: .*(400|unsupported_token_type)/);
    await s.stop();
  });

  test('no token reached the log, and nothing went wrong', async () => {
    const token = await getJwt();
    assert.equal((await rawInitialize(mcpUrl, token)).status, 200);
    await serve.waitForLog(/"POST \/mcp" 200/);
    assert.ok(!serve.stderr().includes(token));
    assert.doesNotMatch(serve.stderr(), /error:/);
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', async () => {
    const exit = await serve.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr().slice(-3000));
    assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  });
});

describe('JOSE vectors minted by the npm jose package, verified through serve', () => {
  const ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
  // The key each algorithm takes (jose's generateKeyPair would make the same kinds).
  const keyPairFor = (alg) => (alg.startsWith('ES')
    ? keyPair('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg] })
    : alg === 'EdDSA' ? keyPair('ed25519') : keyPair('rsa', { modulusLength: 2048 }));
  const keys = {}; // alg → {privateKey, jwk}
  let jwksServer;
  let s; // every algorithm allowed
  let defaults; // the default allow-list

  before(async () => {
    for (const alg of ALGS) {
      const { publicKey, privateKey } = keyPairFor(alg);
      keys[alg] = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `jose-${alg}`, alg, use: 'sig' } };
    }
    ({ jwksServer, s, defaults } = await startPair(() => {}));
  });

  after(() => jwksServer?.stop());

  /** A JWK Set server (calling onFetch per fetch) and two serves using it: one allowing
   * every algorithm, one with the default allow-list. */
  async function startPair(onFetch) {
    const server = await startHttpServer((req, res) => {
      onFetch();
      res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify({ keys: ALGS.map((a) => keys[a].jwk) }));
    });
    const base = ['--stateless', '--issuer', server.origin, '--jwks-uri', server.url('/jwks')];
    const all = await startServe([...base, ...ALGS.flatMap((a) => ['--jwt-alg', a])]);
    const plain = await startServe(base);
    serves.push(all, plain);
    return { jwksServer: server, s: all, defaults: plain };
  }

  /** A jose-made access token for `server`. */
  function mint(alg, server, { typ = 'at+jwt', exp = '5m', claims = {}, issuer = jwksServer.origin } = {}) {
    const header = { alg, kid: `jose-${alg}` };
    if (typ) header.typ = typ;
    return new SignJWT({ scope: 'mcp', client_id: 'jose-client', ...claims })
      .setProtectedHeader(header)
      .setIssuer(issuer)
      .setAudience(server.resource)
      .setSubject(`sub-${alg}`)
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(keys[alg].privateKey);
  }

  async function hello(server, token) {
    const r = await fetch(server.url('/mcp'), {
      method: 'POST',
      headers: {
        accept: 'application/json, text/event-stream', 'content-type': 'application/json',
        'mcp-protocol-version': '2025-11-25', authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }),
    });
    return { status: r.status, description: description(r), body: await r.text() };
  }

  for (const alg of ALGS) {
    test(`${alg}: valid → 200; tampered, expired, no typ → 401`, async () => {
      const good = await hello(s, await mint(alg, s));
      assert.equal(good.status, 200, good.body);
      assert.equal(JSON.parse(good.body).result.content[0].text, `Hello, user with ID sub-${alg}!`);

      const [h, p, sig] = (await mint(alg, s)).split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url'));
      claims.scope = 'mcp admin';
      const tampered = await hello(s, `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`);
      assert.equal(tampered.status, 401, tampered.body);
      assert.equal(tampered.description, 'bad signature');
      // A signature bit flipped (the last byte, so the length stays right).
      const raw = Buffer.from(sig, 'base64url');
      raw[raw.length - 1] ^= 0x01;
      const flipped = await hello(s, `${h}.${p}.${raw.toString('base64url')}`);
      assert.equal(flipped.status, 401, flipped.body);
      assert.match(flipped.description, /^bad signature/);

      const expired = await hello(s, await mint(alg, s, { exp: Math.floor(Date.now() / 1000) - 120 }));
      assert.equal(expired.status, 401);
      assert.match(expired.description, /^expired 1[12]\d s ago$/);

      const untyped = await hello(s, await mint(alg, s, { typ: null }));
      assert.equal(untyped.status, 401);
      assert.match(untyped.description, /^no typ in the JWT header/);
    });
  }

  test('the default allow-list takes RS256, PS256, ES256 and EdDSA, and refuses the rest by name', async () => {
    for (const alg of ALGS) {
      const r = await hello(defaults, await mint(alg, defaults));
      if (['RS256', 'PS256', 'ES256', 'EdDSA'].includes(alg)) {
        assert.equal(r.status, 200, `${alg}: ${r.body}`);
      } else {
        assert.equal(r.status, 401, `${alg}: ${r.body}`);
        assert.equal(r.description, `alg ${alg} not allowed`);
      }
    }
  });

  // Its own JWK Set server and serves, so that it holds when run alone.
  test('each serve fetches the JWK Set once for every algorithm (Cache-Control max-age=300)', async () => {
    let fetches = 0;
    const own = await startPair(() => { fetches++; });
    try {
      for (const alg of ALGS) {
        for (const server of [own.s, own.defaults]) {
          const r = await hello(server, await mint(alg, server, { issuer: own.jwksServer.origin }));
          assert.equal(r.status, server === own.s || ['RS256', 'PS256', 'ES256', 'EdDSA'].includes(alg) ? 200 : 401, `${alg}: ${r.body}`);
        }
        // Refused tokens with a known kid (a flipped signature bit, expired) fetch nothing.
        const [h, p, sig] = (await mint(alg, own.s, { issuer: own.jwksServer.origin })).split('.');
        const raw = Buffer.from(sig, 'base64url');
        raw[raw.length - 1] ^= 0x01;
        assert.equal((await hello(own.s, `${h}.${p}.${raw.toString('base64url')}`)).status, 401);
        const expired = await mint(alg, own.s, { issuer: own.jwksServer.origin, exp: Math.floor(Date.now() / 1000) - 120 });
        assert.equal((await hello(own.s, expired)).status, 401);
      }
      assert.equal(fetches, 2);
    } finally {
      await Promise.all([own.s.stop(), own.defaults.stop()]);
      await own.jwksServer.stop();
    }
  });

  test('both servers stop cleanly (exit 0, no sanitizer report)', async () => {
    for (const server of [s, defaults]) {
      const exit = await server.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, server.stderr().slice(-3000));
      assert.doesNotMatch(server.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
    }
  });
});
