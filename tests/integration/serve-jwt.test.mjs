// Integration tests for `mcpauth serve` with local RFC 9068 JWT validation (issue 4,
// Part 2), against a FAKE authorization server that publishes RFC 8414 metadata with a
// jwks_uri (and, for some servers, an RFC 7662 introspection endpoint). Its JWK Set can
// be rotated, delayed and broken, and its fetches are counted.
// The tokens are signed here with node:crypto: RS256/RS384 (PKCS#1 v1.5), PS256 (RSA-PSS,
// salt as long as the hash), ES256/ES384 (raw r||s, "ieee-p1363"), EdDSA (Ed25519), and
// the attacks: alg none, HS256 keyed with the RSA public key's bytes, tampered payloads.
// Covered: each default algorithm accepted, the allow-list (--jwt-alg), typ (at+jwt,
// --jwt-typ-optional), iss/aud/exp/nbf/iat with --leeway, scopes (403), kid selection,
// key rotation (one refetch), 200 requests with unknown kids (one fetch per
// --jwks-cooldown), the JWKS endpoint failing (old keys kept; 503 before any key and for a
// new kid), a refetch that hangs (known kids not held up), the
// JWKS's Cache-Control, --jwks-file without network, --validation auto/jwt/introspect,
// --introspect-jwt (revocation), whoami's validated_by and cache fields, and start-up
// refusals.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-jwt.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyPair, run, startHttpServer, startServe, freePort, tmpDir, TIMEOUT_FACTOR } from '../lib/harness.mjs';
import { nowS, sleep, formDecode, request, parseChallenge } from '../lib/http.mjs';

// ---------------------------------------------------------------------------------------
// Keys and tokens

const CLIENT_ID = 'rs-client';
const CLIENT_SECRET = 'rs-secret';

/** A signing key: the private KeyObject and the public JWK an AS would publish. */
function makeKey(kind, kid, { alg } = {}) {
  const pair = kind === 'rsa' ? keyPair('rsa', { modulusLength: 2048 })
    : kind === 'rsa-1024' ? keyPair('rsa', { modulusLength: 1024 })
    : kind === 'P-256' || kind === 'P-384' ? keyPair('ec', { namedCurve: kind })
      : keyPair('ed25519');
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig' };
  if (alg) jwk.alg = alg;
  return { kid, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

/** The JWS signature of `input` (RFC 7518 §3): the form each algorithm defines. */
function signature(alg, key, input) {
  const data = Buffer.from(input);
  if (alg === 'none') return Buffer.alloc(0);
  if (alg === 'EdDSA') return crypto.sign(null, data, key);
  const hash = HASH[alg.slice(2)];
  if (alg.startsWith('HS')) return crypto.createHmac(hash, key).update(data).digest();
  if (alg.startsWith('PS')) {
    return crypto.sign(hash, data, {
      key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8,
    });
  }
  if (alg.startsWith('ES')) return crypto.sign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  return crypto.sign(hash, data, key); // RS*: PKCS#1 v1.5
}

// Under a wrapper (valgrind) everything is slower: cooldowns that a test must stay
// within are stretched by the harness's factor.

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

// Every token made here, to check that none reaches a log.
const issuedTokens = new Set();

/**
 * A compact JWS. `header` members set to undefined are left out (typ, kid); `signWith`
 * overrides the key the signature is made with (HS256 keyed with public key bytes).
 */
function jws(alg, key, header, claims, signWith) {
  const input = `${b64({ alg, typ: 'at+jwt', kid: key?.kid, ...header })}.${b64(claims)}`;
  const token = `${input}.${signature(alg, signWith ?? key?.privateKey, input).toString('base64url')}`;
  issuedTokens.add(token);
  return token;
}

/** Good RFC 9068 claims for `serve` from `as`, overridable (undefined drops a claim). */
function claimsFor(as, serve, extra = {}) {
  const now = nowS();
  return {
    iss: as.issuer, sub: 'u1', aud: serve.resource, client_id: 'client-1', scope: 'mcp',
    iat: now, exp: now + 600, jti: crypto.randomUUID(), ...extra,
  };
}

// ---------------------------------------------------------------------------------------
// The fake authorization server

/**
 * A fake RFC 8414 authorization server on 127.0.0.1.
 * - keys: the JWKs served at /jwks (assign a new array to rotate);
 *   jwksMode 'ok' | '500' | 'garbage'; jwksDelayMs; jwksCacheControl (a header value);
 *   jwksFetches counts GETs of /jwks.
 * - options: jwks (advertise jwks_uri), introspection (advertise introspection_endpoint).
 * - introspection: a token in `opaque` (Map token → claims) is active with those claims;
 *   a JWT is active with its own payload unless it is in `revoked`; anything else is
 *   {active: false}. introspections counts calls, introspectedTokens lists the tokens.
 */
async function startFakeAS({ jwks = true, introspection = false, keys = [] } = {}) {
  const as = {
    keys, jwksMode: 'ok', jwksDelayMs: 0, jwksCacheControl: null, jwksFetches: 0,
    opaque: new Map(), revoked: new Set(), introspections: 0, introspectedTokens: [],
    authFailures: 0,
  };
  const timers = new Set();
  const server = await startHttpServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer: as.issuer,
        token_endpoint: `${as.issuer}/token`,
        jwks_uri: jwks ? `${as.issuer}/jwks` : undefined,
        introspection_endpoint: introspection ? `${as.issuer}/introspect` : undefined,
        response_types_supported: ['code'],
      }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/jwks') {
      as.jwksFetches++;
      const answer = () => {
        if (res.destroyed) return;
        if (as.jwksMode === '500') {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":"server_error"}');
          return;
        }
        const headers = { 'content-type': 'application/jwk-set+json' };
        if (as.jwksCacheControl) headers['cache-control'] = as.jwksCacheControl;
        res.writeHead(200, headers);
        res.end(as.jwksMode === 'garbage' ? '{"keys": [' : JSON.stringify({ keys: as.keys }));
      };
      if (as.jwksDelayMs > 0) {
        const t = setTimeout(() => { timers.delete(t); answer(); }, as.jwksDelayMs);
        timers.add(t);
      } else {
        answer();
      }
      return;
    }
    if (req.method === 'POST' && url.pathname === '/introspect') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
        const decoded = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
        const colon = decoded.indexOf(':');
        if (colon < 0 || formDecode(decoded.slice(0, colon)) !== CLIENT_ID ||
            formDecode(decoded.slice(colon + 1)) !== CLIENT_SECRET) {
          as.authFailures++;
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end('{"error":"invalid_client"}');
          return;
        }
        const token = new URLSearchParams(body).get('token') ?? '';
        as.introspections++;
        as.introspectedTokens.push(token);
        let doc = { active: false };
        if (as.opaque.has(token)) {
          doc = { active: true, ...as.opaque.get(token) };
        } else if (token.split('.').length === 3 && !as.revoked.has(token)) {
          try {
            doc = { active: true, ...JSON.parse(Buffer.from(token.split('.')[1], 'base64url')) };
          } catch { /* not a JWT after all */ }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(doc));
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not_found"}');
  });
  as.port = server.port;
  as.issuer = server.origin;
  as.introspectionsOf = (token) => as.introspectedTokens.filter((t) => t === token).length;
  as.stop = () => {
    for (const t of timers) clearTimeout(t);
    return server.stop();
  };
  return as;
}

// ---------------------------------------------------------------------------------------
// HTTP and MCP helpers

/** tools/call `tool` on a --stateless serve (no initialize needed) with a bearer token. */
function callTool(serve, token, tool = 'hello_world') {
  const headers = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-protocol-version': '2025-11-25',
  };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return request(serve.url('/mcp'), {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: {} } }),
  });
}

/** Calls hello_world and expects 200 with the greeting `text`. */
async function expectGreeting(serve, token, text) {
  const r = await callTool(serve, token);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json().result?.content, [{ type: 'text', text }], r.body);
}

/** Calls whoami, expects 200, returns its structuredContent. */
async function whoami(serve, token) {
  const r = await callTool(serve, token, 'whoami');
  assert.equal(r.status, 200, r.body);
  assert.ok(!r.body.includes(token), 'whoami must not return the token');
  return r.json().result.structuredContent;
}

/**
 * Expects `status` (401 invalid_token by default) whose error_description matches
 * `description`; the JSON body says the same. Returns the description.
 */
async function expectRefused(serve, token, description, { status = 401, error = 'invalid_token' } = {}) {
  const r = await callTool(serve, token);
  assert.equal(r.status, status, r.body);
  const c = parseChallenge(r.headers['www-authenticate']);
  assert.equal(c.error, error, r.headers['www-authenticate']);
  assert.equal(c.resource_metadata, `${serve.origin}/.well-known/oauth-protected-resource/mcp`);
  assert.equal(c.scope, 'mcp');
  assert.match(c.error_description ?? '', description, r.headers['www-authenticate']);
  // The JSON body says the same; the header has only printable ASCII: each other byte,
  // and '"' and '\\', became '?'.
  const body = r.json();
  assert.equal(body.error, error);
  const ascii = [...Buffer.from(body.error_description ?? '')]
    .map((b) => (b < 0x20 || b > 0x7e || b === 0x22 || b === 0x5c ? '?' : String.fromCharCode(b))).join('');
  assert.equal(ascii, c.error_description);
  return c.error_description;
}

// ---------------------------------------------------------------------------------------
// Shared setup

const KEYS = {}; // kid → key
const serves = []; // stopped in after()
const authServers = [];
let secretFile;

async function fakeAS(options) {
  const as = await startFakeAS(options);
  authServers.push(as);
  return as;
}

/** `mcpauth serve --stateless --issuer AS ...args` (no credentials unless `creds`). */
async function serveOn(as, args = [], { creds = false } = {}) {
  const base = ['--stateless', '--issuer', as.issuer];
  if (creds) base.push('--client-id', CLIENT_ID, '--client-secret-file', secretFile);
  const s = await startServe([...base, ...args]);
  serves.push(s);
  return s;
}

before(() => {
  KEYS.rsa = makeKey('rsa', 'rsa-1');
  KEYS.rsaRs256 = makeKey('rsa', 'rsa-rs256', { alg: 'RS256' }); // a key bound to RS256
  KEYS.p256 = makeKey('P-256', 'ec-1', { alg: 'ES256' });
  KEYS.p384 = makeKey('P-384', 'ec-384');
  KEYS.ed = makeKey('ed25519', 'ed-1', { alg: 'EdDSA' });
  KEYS.rotated = makeKey('rsa', 'rsa-2');
  KEYS.stranger = makeKey('rsa', 'rsa-1'); // same kid as KEYS.rsa, another key
  const dir = tmpDir();
  secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
});

after(async () => {
  await Promise.all(serves.map((s) => s.stop('SIGKILL')));
  await Promise.all(authServers.map((as) => as.stop()));
});

const publicSet = (...keys) => keys.map((k) => k.jwk);

/** SIGTERM: the serve exits 0, and (in sanitizer builds) reports nothing. */
async function stopClean(serve) {
  const exit = await serve.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr().slice(-3000));
  assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
}

// ---------------------------------------------------------------------------------------

describe('auto mode without credentials: JWTs verified locally against jwks_uri', () => {
  let as;
  let s;
  const mint = (alg, key, claims = {}, header = {}) => jws(alg, key, header, claimsFor(as, s, claims));

  before(async () => {
    as = await fakeAS({ keys: publicSet(KEYS.rsa, KEYS.rsaRs256, KEYS.p256, KEYS.p384, KEYS.ed) });
    s = await serveOn(as);
  });

  for (const [alg, key] of [['RS256', 'rsa'], ['ES256', 'p256'], ['EdDSA', 'ed'], ['PS256', 'rsa']]) {
    test(`${alg} is accepted: hello_world greets by username, then by sub`, async () => {
      await expectGreeting(s, mint(alg, KEYS[key], { username: `alice-${alg}` }), `Hello, alice-${alg}!`);
      await expectGreeting(s, mint(alg, KEYS[key]), 'Hello, user with ID u1!');
    });
  }

  // Its own AS and serve, so that it holds when run alone (--test-name-pattern).
  test('JWTs of each default algorithm: the keys are fetched once, and no token is introspected', async () => {
    const own = await fakeAS({ keys: publicSet(KEYS.rsa, KEYS.p256, KEYS.ed) });
    const server = await serveOn(own);
    const ownMint = (alg, key, claims = {}) => jws(alg, key, {}, claimsFor(own, server, claims));
    for (const [alg, key] of [['RS256', 'rsa'], ['ES256', 'p256'], ['EdDSA', 'ed'], ['PS256', 'rsa']]) {
      await expectGreeting(server, ownMint(alg, KEYS[key], { username: `alice-${alg}` }), `Hello, alice-${alg}!`);
      await expectGreeting(server, ownMint(alg, KEYS[key]), 'Hello, user with ID u1!');
    }
    assert.equal(own.jwksFetches, 1);
    assert.equal(own.introspections, 0);
    await stopClean(server);
  });

  test('a JWK with "alg": RS256 verifies RS256 but not PS256 (the key is bound to its algorithm)', async () => {
    await expectGreeting(s, mint('RS256', KEYS.rsaRs256), 'Hello, user with ID u1!');
    await expectRefused(s, mint('PS256', KEYS.rsaRs256), /^key rsa-rs256 is for RS256, not PS256$/);
  });

  test('RS384 and ES384 are refused under the default allow-list', async () => {
    await expectRefused(s, mint('RS384', KEYS.rsa), /^alg RS384 not allowed$/);
    await expectRefused(s, mint('ES384', KEYS.p384), /^alg ES384 not allowed$/);
  });

  test('alg none (empty and non-empty signature) → 401 invalid_token', async () => {
    const claims = claimsFor(as, s);
    const input = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}`;
    issuedTokens.add(`${input}.`);
    await expectRefused(s, `${input}.`, /^alg none not allowed$/);
    await expectRefused(s, mint('none', KEYS.rsa), /^alg none not allowed$/);
  });

  test('HS256 keyed with the RSA public key\'s bytes (PEM and DER) → 401 invalid_token', async () => {
    for (const secret of [
      KEYS.rsa.publicKey.export({ type: 'spki', format: 'pem' }),
      KEYS.rsa.publicKey.export({ type: 'spki', format: 'der' }),
      JSON.stringify(KEYS.rsa.jwk),
    ]) {
      const token = jws('HS256', KEYS.rsa, {}, claimsFor(as, s), secret);
      await expectRefused(s, token, /^alg HS256 not allowed$/);
    }
  });

  test('a key of the wrong type for alg (ES256 header, RSA kid) → 401', async () => {
    const token = jws('ES256', KEYS.p256, { kid: 'rsa-1' }, claimsFor(as, s));
    await expectRefused(s, token, /^key rsa-1 is RSA, not for ES256$/);
  });

  test('typ JWT → 401; typ application/at+jwt (any case) is accepted; no typ → 401', async () => {
    await expectRefused(s, mint('RS256', KEYS.rsa, {}, { typ: 'JWT' }), /^typ JWT is not at\+jwt$/);
    await expectGreeting(s, mint('RS256', KEYS.rsa, {}, { typ: 'application/at+jwt' }), 'Hello, user with ID u1!');
    await expectGreeting(s, mint('RS256', KEYS.rsa, {}, { typ: 'AT+JWT' }), 'Hello, user with ID u1!');
    await expectRefused(s, mint('RS256', KEYS.rsa, {}, { typ: undefined }), /^no typ in the JWT header/);
  });

  test('a crit header → 401', async () => {
    await expectRefused(s, mint('RS256', KEYS.rsa, {}, { crit: ['exp'], exp: 1 }), /crit header not supported/);
  });

  test('wrong iss → 401 naming both issuers', async () => {
    await expectRefused(s, mint('ES256', KEYS.p256, { iss: 'https://evil.example' }),
      new RegExp(`^issuer .https://evil\\.example. is not ${as.issuer.replace(/\./g, '\\.')}$`));
  });

  test('wrong aud → 401 naming the audience and the resource', async () => {
    const d = await expectRefused(s, mint('ES256', KEYS.p256, { aud: 'https://other.example/mcp' }),
      /^audience \[.https:\/\/other\.example\/mcp.\] does not include /);
    assert.ok(d.endsWith(s.resource), d);
    await expectRefused(s, mint('ES256', KEYS.p256, { aud: undefined }), /^token has no audience$/);
    // An array that includes the resource is fine.
    await expectGreeting(s, mint('ES256', KEYS.p256, { aud: ['urn:x', s.resource] }), 'Hello, user with ID u1!');
  });

  test('exp: within the leeway (30 s) accepted, beyond it → "expired N s ago"; no exp → 401', async () => {
    const now = nowS();
    await expectGreeting(s, mint('EdDSA', KEYS.ed, { exp: now - 10 }), 'Hello, user with ID u1!');
    await expectRefused(s, mint('EdDSA', KEYS.ed, { exp: now - 100 }), /^expired 10[01] s ago$/);
    await expectRefused(s, mint('EdDSA', KEYS.ed, { exp: undefined }), /^token has no expiry \(exp\)$/);
  });

  test('nbf: within the leeway accepted, beyond it → "not valid for another N s"; iat from the future → 401', async () => {
    const now = nowS();
    await expectGreeting(s, mint('EdDSA', KEYS.ed, { nbf: now + 10 }), 'Hello, user with ID u1!');
    await expectRefused(s, mint('EdDSA', KEYS.ed, { nbf: now + 100 }), /^not valid for another (99|100|101) s$/);
    await expectRefused(s, mint('EdDSA', KEYS.ed, { iat: now + 100 }), /^issued (99|100|101) s in the future$/);
  });

  test('missing scope → 403 insufficient_scope; scp as an array counts', async () => {
    await expectRefused(s, mint('RS256', KEYS.rsa, { scope: 'other' }), /^missing scope mcp$/,
      { status: 403, error: 'insufficient_scope' });
    await expectRefused(s, mint('RS256', KEYS.rsa, { scope: undefined }), /^missing scope mcp$/,
      { status: 403, error: 'insufficient_scope' });
    await expectGreeting(s, mint('RS256', KEYS.rsa, { scope: undefined, scp: ['x', 'mcp'] }), 'Hello, user with ID u1!');
  });

  test('a tampered payload (each algorithm) → 401 bad signature', async () => {
    for (const [alg, key] of [['RS256', 'rsa'], ['PS256', 'rsa'], ['ES256', 'p256'], ['EdDSA', 'ed']]) {
      const [h, , sig] = mint(alg, KEYS[key]).split('.');
      const forged = `${h}.${b64(claimsFor(as, s, { sub: 'admin' }))}.${sig}`;
      issuedTokens.add(forged);
      await expectRefused(s, forged, /^bad signature/);
    }
  });

  test('a signature by another key with a known kid → 401 bad signature', async () => {
    await expectRefused(s, mint('RS256', KEYS.stranger), /^bad signature$/);
  });

  test('a signature of the wrong length → 401 naming the sizes', async () => {
    const [h, p] = mint('ES256', KEYS.p256).split('.');
    const token = `${h}.${p}.${Buffer.alloc(70).toString('base64url')}`;
    issuedTokens.add(token);
    await expectRefused(s, token, /^ES256 signature is 70 bytes, not 64$/);
  });

  test('an unknown kid within the cooldown → 401 "no key with kid", no refetch', async () => {
    const fetches = as.jwksFetches;
    await expectRefused(s, jws('RS256', KEYS.rotated, {}, claimsFor(as, s)), /^no key with kid rsa-2$/);
    assert.equal(as.jwksFetches, fetches);
  });

  test('no kid with several keys that fit → 401; an opaque token → 401 (no introspection here)', async () => {
    await expectRefused(s, mint('RS256', KEYS.rsa, {}, { kid: undefined }), /^no kid and several keys for RS256$/);
    await expectRefused(s, 'opaque-token-value', /not a JWT, and no introspection endpoint is configured/);
  });

  test('whoami: validated_by "jwt", the claims, cache miss then hit (verified once)', async () => {
    const token = mint('ES256', KEYS.p256, { username: 'bob' });
    const first = await whoami(s, token);
    assert.equal(first.validated_by, 'jwt');
    assert.equal(first.cache, 'miss');
    assert.equal(first.subject, 'u1');
    assert.equal(first.client_id, 'client-1');
    assert.equal(first.username, 'bob');
    assert.deepEqual(first.scopes, ['mcp']);
    assert.deepEqual(first.audiences, [s.resource]);
    assert.equal(first.issuer, as.issuer);
    assert.equal(typeof first.expires_at, 'number');
    const second = await whoami(s, token);
    assert.equal(second.cache, 'hit');
    assert.equal(second.validated_by, 'jwt');
  });

  test('a refused JWT is cached too (negative cache), and no token ever reaches the log', async () => {
    const token = mint('RS256', KEYS.rsa, {}, { typ: 'JWT' });
    await expectRefused(s, token, /^typ JWT is not at\+jwt$/);
    await expectRefused(s, token, /^typ JWT is not at\+jwt$/);
    const hash = crypto.createHash('sha256').update(token).digest('hex').slice(0, 12);
    await s.waitForLog(new RegExp(`" 401 [0-9.]+ms token=${hash} sub=- cache=miss \\(typ JWT is not at\\+jwt\\)`));
    await s.waitForLog(new RegExp(`" 401 [0-9.]+ms token=${hash} sub=- cache=hit \\(typ JWT is not at\\+jwt\\)`));
    const log = s.stderr();
    for (const t of issuedTokens) assert.ok(!log.includes(t), 'a token is in the log');
    for (const t of issuedTokens) assert.ok(!log.includes(t.split('.')[2] || '\0'), 'a signature is in the log');
  });

  test('the server stops cleanly after all that (exit 0, no sanitizer report)', async () => {
    await stopClean(s);
  });
});

describe('claims, keys and documents that must not pass', () => {
  let as;
  let s;
  before(async () => {
    const small = makeKey('rsa-1024', 'rsa-small');
    const enc = makeKey('rsa', 'rsa-enc');
    KEYS.small = small;
    KEYS.enc = enc;
    as = await fakeAS({
      keys: [...publicSet(KEYS.rsa, KEYS.p256), small.jwk, { ...enc.jwk, use: 'enc' }],
    });
    s = await serveOn(as, ['--timeout', '1', '--jwks-cooldown', '0']);
  });

  test('no iss → 401 (RFC 9068 §2.2: iss is required, §4: it must match the issuer)', async () => {
    await expectRefused(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s, { iss: undefined })), /iss/);
  });

  test('claims of the wrong type (exp a string, aud a number, scope an array) → 401', async () => {
    await expectRefused(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s, { exp: String(nowS() + 600) })), /exp/);
    await expectRefused(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s, { aud: 5 })), /aud/);
    await expectRefused(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s, { scope: ['mcp'] })), /scope/);
  });

  test('a payload that is not a JSON object → 401', async () => {
    await expectRefused(s, jws('ES256', KEYS.p256, {}, ['mcp']), /JSON object/);
  });

  test('ES256 signatures whose r or s has leading zero bytes are accepted (raw r||s → DER)', async () => {
    for (const half of [0, 1]) {
      let token;
      for (let i = 0; i < 5000 && !token; i++) {
        const t = jws('ES256', KEYS.p256, {}, claimsFor(as, s));
        const sig = Buffer.from(t.split('.')[2], 'base64url');
        if (sig[half * 32] === 0) token = t;
      }
      assert.ok(token, 'no signature with a leading zero byte in 5000 tries');
      await expectGreeting(s, token, 'Hello, user with ID u1!');
    }
  });

  test('keys the set must not use (RSA 1024 bits, "use": "enc") → their kids are unknown', async () => {
    await expectRefused(s, jws('RS256', KEYS.small, {}, claimsFor(as, s)), /^no key with kid rsa-small$/);
    await expectRefused(s, jws('RS256', KEYS.enc, {}, claimsFor(as, s)), /^no key with kid rsa-enc$/);
  });

  test('a key embedded in the header (jwk, jku, x5c) is never used', async () => {
    const attacker = makeKey('rsa', 'rsa-1');
    const header = { jwk: attacker.jwk, jku: `${as.issuer}/evil-jwks`, x5u: `${as.issuer}/evil.pem` };
    await expectRefused(s, jws('RS256', attacker, header, claimsFor(as, s)), /^bad signature$/);
    await expectRefused(s, jws('RS256', { ...attacker, kid: 'evil' }, header, claimsFor(as, s)), /^no key with kid evil$/);
  });

  test('a deeply nested header is refused, not crashed on', async () => {
    let nested = 'x';
    for (let i = 0; i < 2000; i++) nested = [nested];
    await expectRefused(s, jws('ES256', KEYS.p256, { deep: nested }, claimsFor(as, s)), /./);
    assert.equal((await request(s.url('/healthz'))).status, 200);
  });

  test('single flight while the keys load: 50 requests with one token → one JWKS fetch, 50 × 200', async () => {
    const as2 = await fakeAS({ keys: publicSet(KEYS.ed) });
    as2.jwksDelayMs = 300;
    const s2 = await serveOn(as2);
    const token = jws('EdDSA', KEYS.ed, {}, claimsFor(as2, s2));
    const results = await Promise.all(Array.from({ length: 50 }, () => callTool(s2, token)));
    assert.deepEqual(results.map((r) => r.status), Array(50).fill(200));
    assert.equal(as2.jwksFetches, 1);
    await stopClean(s2);
  });

  test('a JWKS endpoint that does not answer within --timeout → 503, no hang', async () => {
    const as2 = await fakeAS({ keys: publicSet(KEYS.ed) });
    as2.jwksDelayMs = 5000;
    const s2 = await serveOn(as2, ['--timeout', '1']);
    const started = Date.now();
    const r = await callTool(s2, jws('EdDSA', KEYS.ed, {}, claimsFor(as2, s2)));
    assert.equal(r.status, 503, r.body);
    assert.ok(Date.now() - started < 4000, `answered after ${Date.now() - started} ms`);
    await stopClean(s2);
  });

  test('a JWKS over the 1 MiB response limit → 503, the reason logged', async () => {
    const as2 = await fakeAS({ keys: [...publicSet(KEYS.ed), { kty: 'oct', k: 'A'.repeat(1100 * 1024), kid: 'huge' }] });
    const s2 = await serveOn(as2);
    const r = await callTool(s2, jws('EdDSA', KEYS.ed, {}, claimsFor(as2, s2)));
    assert.equal(r.status, 503, r.body);
    await s2.waitForLog(/cannot validate token [0-9a-f]{12}: fetching the JWKS failed: .*limit/);
    await stopClean(s2);
  });

  test('the server stops cleanly (exit 0, no sanitizer report)', async () => {
    await stopClean(s);
  });
});

describe('the allow-list and typ options', () => {
  let as;
  before(async () => { as = await fakeAS({ keys: publicSet(KEYS.rsa, KEYS.p384, KEYS.ed) }); });

  test('--jwt-alg RS384 --jwt-alg ES384: those are accepted, and the default list is replaced', async () => {
    const s = await serveOn(as, ['--jwt-alg', 'RS384', '--jwt-alg', 'ES384']);
    await expectGreeting(s, jws('RS384', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectGreeting(s, jws('ES384', KEYS.p384, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectRefused(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), /^alg RS256 not allowed$/);
    await expectRefused(s, jws('EdDSA', KEYS.ed, {}, claimsFor(as, s)), /^alg EdDSA not allowed$/);
    await stopClean(s);
  });

  test('--jwt-alg refuses none, HS256 and unknown names at start (exit 2, one line)', async () => {
    for (const alg of ['none', 'HS256', 'rs256']) {
      const r = await run(['serve', '--issuer', as.issuer, '--jwt-alg', alg, '--listen', '127.0.0.1:0'], { timeoutMs: 10000 });
      assert.equal(r.code, 2, `${alg}: ${r.stderr}`);
      assert.match(r.stderr.split('\n')[0], new RegExp(`^mcpauth serve: --jwt-alg: '${alg}' is not allowed`));
    }
  });

  test('--jwt-typ-optional: a missing or generic typ is accepted, other types still refused', async () => {
    const s = await serveOn(as, ['--jwt-typ-optional']);
    await expectGreeting(s, jws('EdDSA', KEYS.ed, { typ: undefined }, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectGreeting(s, jws('EdDSA', KEYS.ed, { typ: 'JWT' }, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectRefused(s, jws('EdDSA', KEYS.ed, { typ: 'dpop+jwt' }, claimsFor(as, s)), /^typ dpop\+jwt is not at\+jwt$/);
    await expectGreeting(s, jws('EdDSA', KEYS.ed, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await stopClean(s);
  });

  test('--config: "jwt-alg" list, "jwt-typ-optional" and "validation" from a JSON file', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    fs.writeFileSync(file, JSON.stringify({ 'jwt-alg': ['ES384', 'RS384'], 'jwt-typ-optional': true, validation: 'jwt' }));
    const s = await serveOn(as, ['--config', file]);
    await expectGreeting(s, jws('ES384', KEYS.p384, { typ: undefined }, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectGreeting(s, jws('RS384', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectRefused(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), /^alg RS256 not allowed$/);
    await stopClean(s);
  });

  test('--config with "jwt-alg", then --jwt-alg on the command line: the flag replaces the file\'s list', async () => {
    // mcpauth-serve(1), CONFIGURATION FILE: "a repeatable option on the command line
    // replaces the file's list rather than adding to it".
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    fs.writeFileSync(file, JSON.stringify({ 'jwt-alg': ['ES384'] }));
    const s = await serveOn(as, ['--config', file, '--jwt-alg', 'RS384']);
    await expectGreeting(s, jws('RS384', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectRefused(s, jws('ES384', KEYS.p384, {}, claimsFor(as, s)), /^alg ES384 not allowed$/);
    await stopClean(s);
  });

  test('--leeway 0: expired a few seconds ago is refused', async () => {
    const s = await serveOn(as, ['--leeway', '0']);
    await expectRefused(s, jws('EdDSA', KEYS.ed, {}, claimsFor(as, s, { exp: nowS() - 3 })), /^expired [34] s ago$/);
    await stopClean(s);
  });
});

describe('the JWK Set: rotation, cooldown, failures, Cache-Control', () => {
  test('rotation: a token with a new kid → exactly one extra JWKS fetch, then success', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.rsa) });
    const s = await serveOn(as, ['--jwks-cooldown', '1']);
    await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    assert.equal(as.jwksFetches, 1);
    await sleep(1100); // past the cooldown since the first load
    as.keys = publicSet(KEYS.rsa, KEYS.rotated); // the AS rotates: a new key appears
    await expectGreeting(s, jws('RS256', KEYS.rotated, {}, claimsFor(as, s, { username: 'new' })), 'Hello, new!');
    assert.equal(as.jwksFetches, 2, 'exactly one refetch for the new kid');
    // Both keys work now, without any more fetches.
    await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await expectGreeting(s, jws('RS256', KEYS.rotated, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    assert.equal(as.jwksFetches, 2);
    // The old key is retired: once refetched, its tokens fail.
    await sleep(1100);
    as.keys = publicSet(KEYS.rotated, KEYS.ed);
    await expectGreeting(s, jws('EdDSA', KEYS.ed, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    assert.equal(as.jwksFetches, 3);
    await expectRefused(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), /^no key with kid rsa-1$/);
    await stopClean(s);
  });

  test('200 concurrent requests, different tokens, unknown kids → one fetch per --jwks-cooldown', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.rsa) });
    const cooldownS = 3 * TIMEOUT_FACTOR;
    const s = await serveOn(as, ['--jwks-cooldown', String(cooldownS)]);
    await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    const loaded = Date.now();
    assert.equal(as.jwksFetches, 1);

    // Within the cooldown of that first load: no fetch at all.
    const early = Array.from({ length: 50 }, (_, i) => jws('RS256', KEYS.rotated, { kid: `early-${i}` }, claimsFor(as, s)));
    const earlyResults = await Promise.all(early.map((t) => callTool(s, t)));
    assert.ok(Date.now() - loaded < cooldownS * 1000, 'the first burst took too long to be meaningful');
    assert.deepEqual(earlyResults.map((r) => r.status), Array(50).fill(401));
    assert.equal(as.jwksFetches, 1, 'unknown kids within the cooldown must not cause fetches');

    await sleep(cooldownS * 1000 + 100 - (Date.now() - loaded));
    as.jwksDelayMs = 300; // the fetch stays in flight while the requests pile up
    const tokens = Array.from({ length: 200 }, (_, i) => jws('RS256', KEYS.rotated, { kid: `attacker-${i}` }, claimsFor(as, s)));
    const started = Date.now();
    const results = await Promise.all(tokens.map((t) => callTool(s, t)));
    const elapsed = Date.now() - started;
    assert.deepEqual(results.map((r) => r.status), Array(200).fill(401));
    for (const [i, r] of results.entries()) {
      assert.equal(parseChallenge(r.headers['www-authenticate']).error_description, `no key with kid attacker-${i}`);
    }
    const allowed = 1 + Math.floor(elapsed / (cooldownS * 1000));
    assert.ok(as.jwksFetches - 1 >= 1, 'the first unknown kid after the cooldown refetches');
    assert.ok(as.jwksFetches - 1 <= allowed, `${as.jwksFetches - 1} fetches in ${elapsed} ms (cooldown ${cooldownS} s)`);
    // The known key kept working through it all.
    await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await stopClean(s);
  });

  test('the JWKS endpoint down after the first load → old keys still work; a new kid → 503, not cached', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.rsa, KEYS.ed) });
    const s = await serveOn(as, ['--jwks-cooldown', '1']);
    await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    const rotatedToken = jws('RS256', KEYS.rotated, {}, claimsFor(as, s, { username: 'rotated' }));
    // The AS rotates during an outage: the new kid cannot be checked, which is not the
    // client's fault (503 with Retry-After, no challenge), and is not remembered as a
    // rejection; the keys already held keep verifying their tokens.
    const expectUnavailable = async (mode, fetches) => {
      as.jwksMode = mode;
      await sleep(1100);
      for (let i = 0; i < 2; i++) {
        const r = await callTool(s, rotatedToken);
        assert.equal(r.status, 503, `${mode}: ${r.body}`);
        assert.equal(r.headers['retry-after'], '5');
        assert.equal(r.json().error, 'temporarily_unavailable');
        assert.equal(r.headers['www-authenticate'], undefined);
      }
      assert.equal(as.jwksFetches, fetches, 'within the cooldown the failure is repeated, not the fetch');
      await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
      await expectGreeting(s, jws('EdDSA', KEYS.ed, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    };
    await expectUnavailable('500', 2);
    await s.waitForLog(/cannot validate token [0-9a-f]{12}: no key with kid rsa-2, and fetching the JWKS failed: .*HTTP 500/);
    // A JWK Set that is not JSON is a failure too.
    await expectUnavailable('garbage', 3);
    // Back up with the new key: the same token now passes (nothing was cached).
    as.jwksMode = 'ok';
    as.keys = publicSet(KEYS.rsa, KEYS.rotated);
    await sleep(1100);
    await expectGreeting(s, rotatedToken, 'Hello, rotated!');
    assert.equal(as.jwksFetches, 4);
    // A successful fetch that lacks the kid is a genuine refusal, within the cooldown too.
    await expectRefused(s, jws('RS256', KEYS.stranger, { kid: 'never-published' }, claimsFor(as, s)), /^no key with kid never-published$/);
    await stopClean(s);
  });

  test('a known-kid token is answered at once while an unknown kid\'s refetch hangs', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.rsa) });
    const s = await serveOn(as, ['--jwks-cooldown', '1', '--timeout', String(10 * TIMEOUT_FACTOR)]);
    await expectGreeting(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await sleep(1100);
    as.jwksDelayMs = 3000 * TIMEOUT_FACTOR;
    as.keys = publicSet(KEYS.rsa, KEYS.rotated);
    const pending = callTool(s, jws('RS256', KEYS.rotated, {}, claimsFor(as, s, { username: 'new' })));
    while (as.jwksFetches < 2) await sleep(10); // the refetch is out
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, (_, i) => expectGreeting(
      s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s, { username: `known-${i}` })), `Hello, known-${i}!`)));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1000 * TIMEOUT_FACTOR, `known-kid tokens took ${elapsed} ms behind the refetch`);
    const r = await pending;
    assert.equal(r.status, 200, r.body);
    assert.ok(Date.now() - started > 2000 * TIMEOUT_FACTOR - 500, 'the unknown kid waited for its refetch');
    assert.equal(as.jwksFetches, 2);
    await stopClean(s);
  });

  test('no keys yet and the JWKS endpoint failing → 503 (not cached); it recovers after the cooldown', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.rsa) });
    as.jwksMode = '500';
    const cooldownS = 2 * TIMEOUT_FACTOR;
    const s = await serveOn(as, ['--jwks-cooldown', String(cooldownS)]);
    const token = jws('RS256', KEYS.rsa, {}, claimsFor(as, s));
    const started = Date.now();
    const r = await callTool(s, token);
    assert.equal(r.status, 503, r.body);
    assert.equal(r.headers['retry-after'], '5');
    assert.equal(r.json().error, 'temporarily_unavailable');
    assert.equal(r.headers['www-authenticate'], undefined, 'the client is not at fault: no challenge');
    await s.waitForLog(/cannot validate token [0-9a-f]{12}: fetching the JWKS failed: .*HTTP 500/);
    // Within the cooldown no second fetch, still 503.
    assert.equal((await callTool(s, token)).status, 503);
    assert.equal(as.jwksFetches, 1);
    as.jwksMode = 'ok';
    await sleep(cooldownS * 1000 + 100 - (Date.now() - started));
    await expectGreeting(s, token, 'Hello, user with ID u1!');
    assert.equal(as.jwksFetches, 2);
    await stopClean(s);
  });

  test('/metrics: a JWKS that cannot be fetched is no introspection failure (none was made)', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.rsa) });
    as.jwksMode = '500';
    const s = await serveOn(as);
    assert.equal((await callTool(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)))).status, 503);
    const metrics = (await request(s.url('/metrics'))).body;
    const value = (name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(value('mcpauth_token_validations_total\\{outcome="unavailable"\\}'), 1, metrics);
    assert.equal(value('mcpauth_introspection_requests_total'), 0, metrics);
    // mcpauth-serve(1), METRICS: "introspection calls made, and those that got no usable
    // answer" — the failures can never outnumber the calls.
    assert.equal(value('mcpauth_introspection_failures_total'), 0, metrics);
    await stopClean(s);
  });

  test('Cache-Control: max-age=1 is bounded (60 s minimum): not refetched per request', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.p256) });
    as.jwksCacheControl = 'public, max-age=1';
    const s = await serveOn(as, ['--jwks-cooldown', '0']);
    await expectGreeting(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    await sleep(1500); // past max-age=1
    for (let i = 0; i < 10; i++) {
      await expectGreeting(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    }
    assert.equal(as.jwksFetches, 1);
    await stopClean(s);
  });

  test('Cache-Control: no-store, max-age=0 → still one fetch for many tokens', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.p256) });
    as.jwksCacheControl = 'no-store, max-age=0';
    const s = await serveOn(as);
    for (let i = 0; i < 10; i++) {
      await expectGreeting(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    }
    assert.equal(as.jwksFetches, 1);
    await stopClean(s);
  });

  test('--jwks-file: verifies with no network at all (the issuer does not even listen)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: publicSet(KEYS.ed, KEYS.p256) }));
    const issuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const s = await startServe(['--stateless', '--issuer', issuer, '--jwks-file', file]);
    serves.push(s);
    const fake = { issuer };
    await expectGreeting(s, jws('EdDSA', KEYS.ed, {}, claimsFor(fake, s, { username: 'offline' })), 'Hello, offline!');
    await expectGreeting(s, jws('ES256', KEYS.p256, {}, claimsFor(fake, s)), 'Hello, user with ID u1!');
    const id = await whoami(s, jws('ES256', KEYS.p256, {}, claimsFor(fake, s)));
    assert.equal(id.validated_by, 'jwt');
    // A file is never refetched: an unknown kid is simply unknown.
    await expectRefused(s, jws('RS256', KEYS.rsa, {}, claimsFor(fake, s)), /^no key with kid rsa-1$/);
    await stopClean(s);
  });

  test('a JWK Set with one key: a token without kid is verified with it', async () => {
    const as = await fakeAS({ keys: [{ ...KEYS.ed.jwk, kid: undefined }] });
    const s = await serveOn(as);
    await expectGreeting(s, jws('EdDSA', KEYS.ed, { kid: undefined }, claimsFor(as, s)), 'Hello, user with ID u1!');
    // ... but not with an algorithm that key is not for.
    await expectRefused(s, jws('RS256', KEYS.rsa, { kid: undefined }, claimsFor(as, s)), /^no kid and no keys for RS256$/);
    await stopClean(s);
  });

  test('--workers 2: JWTs verify in every worker, each fetching the keys at most once', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.p256) });
    const s = await serveOn(as, ['--workers', '2']);
    const results = await Promise.all(Array.from({ length: 20 }, () => callTool(s, jws('ES256', KEYS.p256, {}, claimsFor(as, s)))));
    assert.deepEqual(results.map((r) => r.status), Array(20).fill(200));
    assert.ok(as.jwksFetches >= 1 && as.jwksFetches <= 2, `${as.jwksFetches} fetches`);
    await stopClean(s);
  });

  test('--jwks-uri overrides the metadata; the AS metadata is then not needed', async () => {
    const as = await fakeAS({ keys: publicSet(KEYS.ed), jwks: false });
    const s = await serveOn(as, ['--jwks-uri', `${as.issuer}/jwks`]);
    await expectGreeting(s, jws('EdDSA', KEYS.ed, {}, claimsFor(as, s)), 'Hello, user with ID u1!');
    assert.equal(as.jwksFetches, 1);
    await stopClean(s);
  });

  // A JWK Set file that is not one is a local file error (exit 5, the exit-status table),
  // found before serving, whatever the number of workers.
  for (const workers of ['1', '2']) {
    test(`--jwks-file holding no JWK Set, --workers ${workers} → exit 5 at start, one line`, async () => {
      const dir = tmpDir();
      const file = path.join(dir, 'bad.json');
      fs.writeFileSync(file, '{"keys": "nope"}');
      const r = await run(['serve', '--issuer', 'http://127.0.0.1:9', '--jwks-file', file,
        '--listen', '127.0.0.1:0', '--workers', workers], { timeoutMs: 5000 });
      assert.ok(!r.timedOut, `still running after 5 s (workers restarted in a loop?):\n${r.stderr.slice(0, 600)}`);
      assert.equal(r.code, 5, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /keys/);
    });
  }
});

describe('--validation modes, introspection and --introspect-jwt (credentials given)', () => {
  let as;
  before(async () => {
    as = await fakeAS({ keys: publicSet(KEYS.rsa, KEYS.ed), introspection: true });
  });

  test('auto: an opaque token is introspected, a JWT is not', async () => {
    const s = await serveOn(as, [], { creds: true });
    const opaque = `opaque-${crypto.randomBytes(12).toString('base64url')}`;
    issuedTokens.add(opaque);
    as.opaque.set(opaque, claimsFor(as, s, { username: 'olga' }));
    await expectGreeting(s, opaque, 'Hello, olga!');
    assert.equal(as.introspectionsOf(opaque), 1);
    const id = await whoami(s, opaque);
    assert.equal(id.validated_by, 'introspection');
    assert.equal(id.cache, 'hit');

    const before = as.introspections;
    const token = jws('RS256', KEYS.rsa, {}, claimsFor(as, s, { username: 'jay' }));
    await expectGreeting(s, token, 'Hello, jay!');
    const jid = await whoami(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)));
    assert.equal(jid.validated_by, 'jwt');
    assert.equal(jid.cache, 'miss');
    assert.equal(as.introspections, before, 'a JWT must not be introspected in auto mode');
    // A bad JWT is refused locally, not handed to introspection either.
    await expectRefused(s, jws('RS256', KEYS.stranger, {}, claimsFor(as, s)), /^bad signature$/);
    assert.equal(as.introspections, before);
    await stopClean(s);
  });

  test('auto with --introspection-endpoint: introspection only, even for JWTs', async () => {
    const fetches = as.jwksFetches;
    const s = await serveOn(as, ['--introspection-endpoint', `${as.issuer}/introspect`], { creds: true });
    const token = jws('RS256', KEYS.rsa, {}, claimsFor(as, s));
    const id = await whoami(s, token);
    assert.equal(id.validated_by, 'introspection');
    assert.equal(as.introspectionsOf(token), 1);
    assert.equal(as.jwksFetches, fetches);
    await stopClean(s);
  });

  test('--validation introspect: a JWT is introspected (the AS is asked), no JWKS fetch', async () => {
    const fetches = as.jwksFetches;
    const s = await serveOn(as, ['--validation', 'introspect'], { creds: true });
    const token = jws('EdDSA', KEYS.ed, {}, claimsFor(as, s, { username: 'ivy' }));
    await expectGreeting(s, token, 'Hello, ivy!');
    assert.equal(as.introspectionsOf(token), 1);
    const id = await whoami(s, token);
    assert.equal(id.validated_by, 'introspection');
    assert.equal(id.cache, 'hit');
    assert.equal(as.introspectionsOf(token), 1);
    // Even a JWT signed by nobody we know: introspection decides (the fake AS says active).
    const unsigned = jws('RS256', KEYS.stranger, {}, claimsFor(as, s));
    await expectGreeting(s, unsigned, 'Hello, user with ID u1!');
    assert.equal(as.jwksFetches, fetches, 'introspect mode must not fetch keys');
    await stopClean(s);
  });

  test('--validation jwt: an opaque token → 401 without introspection; a JWT is verified locally', async () => {
    const s = await serveOn(as, ['--validation', 'jwt'], { creds: true });
    const opaque = `opaque-${crypto.randomBytes(12).toString('base64url')}`;
    issuedTokens.add(opaque);
    as.opaque.set(opaque, claimsFor(as, s));
    const before = as.introspections;
    await expectRefused(s, opaque, /^(token has 1 segments, not 3|not a JWT)/);
    assert.equal(as.introspections, before);
    const id = await whoami(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)));
    assert.equal(id.validated_by, 'jwt');
    assert.equal(as.introspections, before);
    await stopClean(s);
  });

  test('--introspect-jwt: verified, then introspected: active → 200 "jwt+introspection", revoked → 401 "revoked?"', async () => {
    const s = await serveOn(as, ['--introspect-jwt'], { creds: true });
    const token = jws('RS256', KEYS.rsa, {}, claimsFor(as, s, { username: 'rita' }));
    await expectGreeting(s, token, 'Hello, rita!');
    assert.equal(as.introspectionsOf(token), 1);
    const id = await whoami(s, jws('RS256', KEYS.rsa, {}, claimsFor(as, s)));
    assert.equal(id.validated_by, 'jwt+introspection');
    assert.equal(id.cache, 'miss');

    const revoked = jws('RS256', KEYS.rsa, {}, claimsFor(as, s));
    as.revoked.add(revoked);
    const d = await expectRefused(s, revoked, /revoked\?/);
    assert.equal(d, 'signature valid, but introspection says the token is not active (revoked?)');
    assert.equal(as.introspectionsOf(revoked), 1);

    // A JWT with a bad signature is refused before any introspection.
    const forged = jws('RS256', KEYS.stranger, {}, claimsFor(as, s));
    await expectRefused(s, forged, /^bad signature$/);
    assert.equal(as.introspectionsOf(forged), 0);
    // Opaque tokens are still introspected as usual.
    const opaque = `opaque-${crypto.randomBytes(12).toString('base64url')}`;
    issuedTokens.add(opaque);
    as.opaque.set(opaque, claimsFor(as, s));
    assert.equal((await whoami(s, opaque)).validated_by, 'introspection');
    await stopClean(s);
  });

  test('--introspect-jwt: the claims come from the JWT, and a cached result is not reintrospected', async () => {
    const s = await serveOn(as, ['--introspect-jwt'], { creds: true });
    const token = jws('EdDSA', KEYS.ed, {}, claimsFor(as, s, { username: 'from-jwt' }));
    await expectGreeting(s, token, 'Hello, from-jwt!');
    const id = await whoami(s, token);
    assert.equal(id.cache, 'hit');
    assert.equal(id.validated_by, 'jwt+introspection');
    assert.equal(as.introspectionsOf(token), 1);
    await stopClean(s);
  });

  test('--cache-size 0: the same JWT is verified on every request (whoami says miss)', async () => {
    const s = await serveOn(as, ['--cache-size', '0'], { creds: true });
    const token = jws('RS256', KEYS.rsa, {}, claimsFor(as, s));
    assert.equal((await whoami(s, token)).cache, 'miss');
    assert.equal((await whoami(s, token)).cache, 'miss');
    await stopClean(s);
  });
});

describe('start-up: how tokens can be checked', () => {
  test('an AS with neither jwks_uri nor credentials given → exit 2, one line', async () => {
    const as = await fakeAS({ jwks: false, introspection: true });
    const r = await run(['serve', '--issuer', as.issuer, '--listen', '127.0.0.1:0', '--workers', '1'], { timeoutMs: 10000 });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /no way to check tokens: .*publishes no jwks_uri/);
    assert.match(lines[0], /--credentials/);
  });

  test('--validation jwt with an AS that publishes no jwks_uri → exit 4, one line naming --jwks-uri', async () => {
    const as = await fakeAS({ jwks: false, introspection: true });
    const r = await run(['serve', '--issuer', as.issuer, '--validation', 'jwt', '--listen', '127.0.0.1:0'], { timeoutMs: 10000 });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /publishes no jwks_uri; give --jwks-uri or --jwks-file/);
  });

  test('--introspect-jwt or --validation introspect without credentials → exit 2', async () => {
    const as = await fakeAS({ introspection: true });
    for (const extra of [['--introspect-jwt'], ['--validation', 'introspect']]) {
      const r = await run(['serve', '--issuer', as.issuer, ...extra, '--listen', '127.0.0.1:0'], { timeoutMs: 10000 });
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      // A usage error: the reason, then the usual "Try 'mcpauth serve --help'" line.
      assert.match(r.stderr.split('\n')[0], /^mcpauth serve: token introspection needs the resource server's client credentials/);
    }
  });

  test('--validation with a bad value, --jwks-uri with --jwks-file, plain-http --jwks-uri → exit 2', async () => {
    for (const [extra, message] of [
      [['--validation', 'local'], /^--validation: 'local' is not auto, jwt or introspect$/],
      [['--jwks-uri', 'http://127.0.0.1:9/jwks', '--jwks-file', '/nonexistent'], /^give --jwks-uri or --jwks-file, not both$/],
      [['--jwks-uri', 'http://keys.example/jwks'], /^--jwks-uri: refusing plain http:\/\/ to non-loopback host keys\.example/],
      [['--validation', 'introspect', '--jwks-uri', 'http://127.0.0.1:9/jwks'], /^--validation introspect does not use --jwks-uri or --jwks-file$/],
    ]) {
      const r = await run(['serve', '--issuer', 'http://127.0.0.1:9', ...extra, '--listen', '127.0.0.1:0'], { timeoutMs: 10000 });
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.split('\n')[0].replace(/^mcpauth serve: /, ''), message);
    }
  });
});
