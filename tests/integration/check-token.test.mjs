// Integration tests for `mcpauth check-token` (issue 4, Part 3): the real binary against
// fake, in-process servers. Node built-ins only (no npm install needed): JWTs are signed
// here with node:crypto.
// - a fake authorization server (metadata, JWKS, RFC 7662 introspection) for every exit
//   status of --introspect, --verify, both together, and --decode;
// - a fake MCP server that passes every probe check, and variants of it that each break
//   exactly one check, which the probe must name.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/integration/check-token.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyPair, run, startHttpServer, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { readBody, sendJson } from '../lib/http.mjs';
import { describeRun, assertExit, assertFail as assertFailure } from '../lib/cli.mjs';

const assertFail = (r, code, re) => assertFailure(r, code, re, { hint: /^Try 'mcpauth check-token --help'/ });

// ---------------------------------------------------------------------------------------
// JWTs

const { privateKey, publicKey } = keyPair('rsa', { modulusLength: 2048 });
const otherKey = keyPair('rsa', { modulusLength: 2048 }).privateKey;
const PUBLIC_JWK = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };

const b64u = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function signJwt(claims, { header = {}, key = privateKey } = {}) {
  const h = b64u({ alg: 'RS256', typ: 'at+jwt', kid: 'k1', ...header });
  const p = b64u(claims);
  const signature = crypto.sign('sha256', Buffer.from(`${h}.${p}`), key).toString('base64url');
  return `${h}.${p}.${signature}`;
}

const RESOURCE = 'https://mcp.example.com/mcp';
const A_JWT = signJwt({ iss: 'https://as.example.com', sub: 'x', exp: now() + 60 });

function claimsFor(issuer, extra = {}) {
  const t = now();
  return {
    iss: issuer, sub: 'alice', aud: RESOURCE, client_id: 'mcp-client', scope: 'mcp tools',
    iat: t - 60, exp: t + 3600, jti: crypto.randomUUID(), ...extra,
  };
}

// ---------------------------------------------------------------------------------------
// A fake authorization server

const RS_ID = 'resource-server';
const RS_SECRET = 's3cret/+&=';

/**
 * options.introspect(token) → { status?, body } (body an object or raw text); default
 * active with claimsFor(issuer). options.metadata adds to/overrides the metadata
 * (undefined values remove members); options.jwksStatus, options.metadataStatus.
 * srv.introspections lists { authorization, form } of every introspection request.
 */
async function startAs(options = {}) {
  const introspections = [];
  const srv = await startHttpServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    const body = await readBody(req);
    if (req.method === 'GET' && pathname === '/.well-known/oauth-authorization-server') {
      if (options.metadataStatus) return sendJson(res, options.metadataStatus, { error: 'nope' });
      const doc = {
        issuer: srv.origin, jwks_uri: `${srv.origin}/jwks`,
        introspection_endpoint: `${srv.origin}/introspect`, token_endpoint: `${srv.origin}/token`,
        ...options.metadata,
      };
      return sendJson(res, 200, doc);
    }
    if (req.method === 'GET' && pathname === '/jwks') {
      return sendJson(res, options.jwksStatus ?? 200, { keys: [PUBLIC_JWK] });
    }
    if (req.method === 'POST' && pathname === '/introspect') {
      const form = Object.fromEntries(new URLSearchParams(body));
      introspections.push({ authorization: req.headers.authorization, form });
      const answer = options.introspect
        ? options.introspect(form.token)
        : { body: { active: true, ...claimsFor(srv.origin) } };
      res.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'application/json' });
      return res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    }
    return sendJson(res, 404, { error: 'not_found' });
  });
  srv.introspections = introspections;
  return srv;
}

let dir;
let secretFile;
let credentialsFile;

before(() => {
  dir = tmpDir();
  secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, `${RS_SECRET}\n`, { mode: 0o600 });
  credentialsFile = path.join(dir, 'rs.json');
});

/** check-token with the token in MCPAUTH_TOKEN (when given). */
function checkToken(args, token, env = {}) {
  return run(['check-token', ...args], { env: { MCPAUTH_TOKEN: token, ...env } });
}

const rsArgs = (as) => ['--issuer', as.origin, '--client-id', RS_ID, '--client-secret-file', secretFile];

// ---------------------------------------------------------------------------------------

describe('usage errors (exit 2)', () => {
  test('no mode', async () => {
    assertFail(await checkToken([], 'x'), 2, /say what to check: --introspect, --verify, --decode or --resource/);
  });

  test('--token is refused with the reason, and its value never echoed', async () => {
    for (const args of [['--verify', '--token', 'SECRET-VALUE'], ['--verify', '--token=SECRET-VALUE']]) {
      const r = await run(['check-token', ...args]);
      assertFail(r, 2, /there is no --token option: a token on the command line is visible in ps\(1\) and shell history/);
      assert.ok(!r.stderr.includes('SECRET-VALUE'));
    }
  });

  test('a stray argument (maybe a token) is refused without being echoed', async () => {
    const r = await run(['check-token', '--decode', 'eyJhbGciOiJSUzI1NiJ9.SECRET.x']);
    assertFail(r, 2, /unexpected argument \(not shown, in case it is a token\)/);
    assert.ok(!r.stderr.includes('SECRET'));
  });

  test('no token', async () => {
    assertFail(await checkToken(['--decode'], undefined), 2, /no token: give --token-file FILE .* or set MCPAUTH_TOKEN/);
    assertFail(await checkToken(['--decode'], ''), 2, /no token/);
  });

  test('modes that do not go together', async () => {
    assertFail(await checkToken(['--decode', '--verify'], 'x'), 2, /--decode verifies nothing/);
    assertFail(await checkToken(['--resource', RESOURCE, '--introspect'], 'x'), 2, /--resource probes the server on its own/);
  });

  test('--introspect without the resource server\'s credentials', async () => {
    assertFail(await checkToken(['--introspect', '--issuer', 'https://as.example.com'], 'x'), 2,
      /--introspect needs the resource server's client credentials/);
  });

  test('--verify without keys or issuer', async () => {
    assertFail(await checkToken(['--verify'], A_JWT), 2, /--verify needs the issuer's keys/);
  });

  test('bad values', async () => {
    assertFail(await checkToken(['--verify', '--jwt-alg', 'HS256', '--issuer', 'https://as.example.com'], 'x'), 2,
      /--jwt-alg: 'HS256' is not allowed/);
    assertFail(await checkToken(['--verify', '--issuer', 'http://as.example.com'], 'x'), 2,
      /--issuer: refusing plain http:\/\/ to non-loopback host as\.example\.com/);
    assertFail(await checkToken(['--verify', '--jwks-uri', 'https://a.example/j', '--jwks-file', 'f'], 'x'), 2,
      /give --jwks-uri or --jwks-file, not both/);
    assertFail(await checkToken(['--introspect', '--client-auth', 'none'], 'x'), 2, /--client-auth: 'none'/);
    assertFail(await checkToken(['--verify', '--leeway', '-1'], 'x'), 2, /--leeway/);
    assertFail(await run(['check-token', '--introspect', '--token-file', '-', '--client-secret-file', '-']), 2,
      /cannot both come from standard input/);
  });
});

describe('--introspect', () => {
  let as;
  before(async () => { as = await startAs(); });
  after(() => as.stop());

  test('active: exit 0; RFC 7662 request with the resource server\'s Basic credentials', async () => {
    const r = await checkToken(rsArgs(as), 'opaque-token-1');
    assertFail(r, 2, /say what to check/); // guard: the mode is required
    const ok = await checkToken(['--introspect', ...rsArgs(as), '--audience', RESOURCE, '--require-scope', 'mcp'], 'opaque-token-1');
    assertExit(ok, 0);
    assert.equal(ok.stderr, '');
    const last = as.introspections.at(-1);
    assert.deepEqual(last.form, { token: 'opaque-token-1', token_type_hint: 'access_token' });
    const expected = `Basic ${Buffer.from(`${encodeURIComponent(RS_ID)}:${encodeURIComponent(RS_SECRET)}`).toString('base64')}`;
    assert.equal(last.authorization, expected);
    assert.match(ok.stdout, /^Introspection: active, at http:\/\/127\.0\.0\.1:\d+\/introspect$/m);
    assert.match(ok.stdout, /^ {2}subject: +alice$/m);
    assert.match(ok.stdout, /^ {2}client id: +mcp-client$/m);
    assert.match(ok.stdout, /^ {2}scopes: +mcp tools$/m);
    assert.match(ok.stdout, /^ {2}audience: +https:\/\/mcp\.example\.com\/mcp$/m);
    assert.match(ok.stdout, /^ {2}expires: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \((in 59 min|in 60 min)\)$/m);
    assert.match(ok.stdout, /^ {2}issued: +.* UTC \((60 s|59 s|61 s) ago\)$/m);
    assert.doesNotMatch(ok.stdout, /Audience: not checked/);
    assert.match(ok.stdout, /^Result: good$/m);
  });

  test('client_secret_post, the secret from MCPAUTH_CLIENT_SECRET', async () => {
    const r = await checkToken(['--introspect', '--issuer', as.origin, '--client-id', RS_ID, '--client-auth', 'client_secret_post'],
      'opaque-token-2', { MCPAUTH_CLIENT_SECRET: RS_SECRET });
    assertExit(r, 0);
    const last = as.introspections.at(-1);
    assert.equal(last.authorization, undefined);
    assert.equal(last.form.client_id, RS_ID);
    assert.equal(last.form.client_secret, RS_SECRET);
  });

  test('--credentials FILE gives the issuer, client id and secret; no --audience is said', async () => {
    fs.writeFileSync(credentialsFile, JSON.stringify({
      version: 1, issuer: as.origin, client: { client_id: RS_ID, client_secret: RS_SECRET },
    }), { mode: 0o600 });
    const r = await checkToken(['--introspect', '-c', credentialsFile], 'opaque-token-3');
    assertExit(r, 0);
    assert.match(r.stdout, /^Audience: not checked \(no --audience\)$/m);
    assert.doesNotMatch(r.stdout, /Issuer: not checked/);
  });

  test('--json prints the raw response', async () => {
    const r = await checkToken(['--introspect', ...rsArgs(as), '--json'], 'opaque-token-4');
    assertExit(r, 0);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.introspection.active, true);
    assert.equal(doc.introspection.sub, 'alice');
    assert.equal(doc.good, true);
    assert.equal(doc.audience_checked, false);
    assert.equal(doc.issuer_checked, true);
  });

  test('the token from --token-file and from standard input', async () => {
    const file = path.join(dir, 'tok');
    fs.writeFileSync(file, '  opaque-token-5\n', { mode: 0o600 });
    assertExit(await run(['check-token', '--introspect', ...rsArgs(as), '--token-file', file]), 0);
    assert.equal(as.introspections.at(-1).form.token, 'opaque-token-5');
    assertExit(await run(['check-token', '--introspect', ...rsArgs(as), '--token-file', '-'], { input: 'opaque-token-6\n' }), 0);
    assert.equal(as.introspections.at(-1).form.token, 'opaque-token-6');
  });
});

describe('exit 1: the token is not good', () => {
  let as;
  const answers = new Map();
  before(async () => {
    as = await startAs({ introspect: (token) => answers.get(token) ?? { body: { active: false } } });
  });
  after(() => as.stop());

  const active = (extra) => ({ body: { active: true, ...claimsFor(as.origin), ...extra } });

  test('not active', async () => {
    const r = await checkToken(['--introspect', ...rsArgs(as)], 'revoked');
    assertFail(r, 1, /^mcpauth check-token: token is not active$/);
    assert.match(r.stdout, /^Introspection: REJECTED \(token is not active\)/m);
    assert.match(r.stdout, /^Result: NOT GOOD: token is not active$/m);
  });

  test('expired, beyond the leeway', async () => {
    answers.set('old', active({ exp: now() - 100 }));
    assertFail(await checkToken(['--introspect', ...rsArgs(as)], 'old'), 1, /^mcpauth check-token: expired (99|100|101) s ago$/);
    // Within a larger leeway it is good.
    assertExit(await checkToken(['--introspect', ...rsArgs(as), '--leeway', '300'], 'old'), 0);
  });

  test('missing scope, wrong audience, other issuer', async () => {
    answers.set('t', active());
    assertFail(await checkToken(['--introspect', ...rsArgs(as), '--require-scope', 'mcp', '--require-scope', 'admin'], 't'), 1,
      /^mcpauth check-token: missing scope admin$/);
    assertFail(await checkToken(['--introspect', ...rsArgs(as), '--audience', 'https://other.example.com/mcp'], 't'), 1,
      /^mcpauth check-token: audience \["https:\/\/mcp\.example\.com\/mcp"\] does not include https:\/\/other\.example\.com\/mcp$/);
    answers.set('foreign', active({ iss: 'https://evil.example.com' }));
    assertFail(await checkToken(['--introspect', ...rsArgs(as)], 'foreign'), 1,
      /^mcpauth check-token: issuer "https:\/\/evil\.example\.com" is not http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('no expiry at all', async () => {
    answers.set('forever', active({ exp: undefined }));
    assertFail(await checkToken(['--introspect', ...rsArgs(as)], 'forever'), 1, /token has no expiry \(exp\)/);
  });
});

describe('--verify', () => {
  let as;
  before(async () => { as = await startAs(); });
  after(() => as.stop());

  test('a good JWT: exit 0, keys from the discovered jwks_uri', async () => {
    const token = signJwt(claimsFor(as.origin));
    const r = await checkToken(['--verify', '--issuer', as.origin, '--audience', RESOURCE, '--require-scope', 'tools'], token);
    assertExit(r, 0);
    assert.match(r.stdout, /^JWT: signature valid \(RS256, kid "k1"\), keys from http:\/\/127\.0\.0\.1:\d+\/jwks$/m);
    assert.match(r.stdout, /^Result: good$/m);
    assert.equal(r.stderr, '');
  });

  test('--jwks-file and --jwks-uri instead of discovery; without --issuer that is said', async () => {
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [PUBLIC_JWK] }));
    const token = signJwt(claimsFor(as.origin));
    const r = await checkToken(['--verify', '--jwks-file', file], token);
    assertExit(r, 0);
    assert.match(r.stdout, /^Issuer: not checked \(no --issuer\)$/m);
    assert.match(r.stdout, /^Audience: not checked \(no --audience\)$/m);
    assertExit(await checkToken(['--verify', '--jwks-uri', `${as.origin}/jwks`], token), 0);
  });

  test('the same reasons as serve: each a one-line exit 1', async () => {
    const good = claimsFor(as.origin);
    const cases = [
      [signJwt(good, { key: otherKey }), /bad signature|signature/],
      [signJwt({ ...good, exp: now() - 720 }), /^mcpauth check-token: expired 7\d\d s ago$/],
      [signJwt({ ...good, nbf: now() + 600 }), /not valid for another \d+ s/],
      [signJwt(good, { header: { typ: 'JWT' } }), /typ "JWT" is not at\+jwt|typ JWT/],
      [signJwt(good, { header: { kid: 'k2' } }), /no key with kid "?k2"?$/],
      [signJwt(good, { header: { alg: 'RS384' } }), /alg RS384 not allowed|RS384/],
      [`${b64u({ alg: 'none', typ: 'at+jwt' })}.${b64u(good)}.`, /none/],
      [signJwt({ ...good, iss: 'https://evil.example.com' }), /issuer "https:\/\/evil\.example\.com" is not/],
      ['opaque-token', /not a JWT/],
    ];
    for (const [token, re] of cases) {
      const r = await checkToken(['--verify', '--issuer', as.origin], token);
      assertFail(r, 1, re);
      assert.match(r.stdout, /^JWT: REJECTED|^Result: NOT GOOD/m);
    }
    // Missing scope and wrong audience with a valid signature.
    assertFail(await checkToken(['--verify', '--issuer', as.origin, '--require-scope', 'admin'], signJwt(good)), 1,
      /^mcpauth check-token: missing scope admin$/);
    assertFail(await checkToken(['--verify', '--issuer', as.origin, '--audience', 'https://x.example/mcp'], signJwt(good)), 1,
      /does not include https:\/\/x\.example\/mcp/);
  });

  test('--jwt-typ-optional accepts a JWT without typ, --jwt-alg widens the list', async () => {
    const good = claimsFor(as.origin);
    assertFail(await checkToken(['--verify', '--issuer', as.origin], signJwt(good, { header: { typ: undefined } })), 1, /typ/);
    assertExit(await checkToken(['--verify', '--issuer', as.origin, '--jwt-typ-optional'], signJwt(good, { header: { typ: undefined } })), 0);
    const file = path.join(dir, 'jwks384.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [{ ...PUBLIC_JWK, alg: 'RS384' }] }));
    const rs384 = (() => {
      const h = b64u({ alg: 'RS384', typ: 'at+jwt', kid: 'k1' });
      const p = b64u(good);
      return `${h}.${p}.${crypto.sign('sha384', Buffer.from(`${h}.${p}`), privateKey).toString('base64url')}`;
    })();
    assertExit(await checkToken(['--verify', '--jwks-file', file, '--jwt-alg', 'RS384'], rs384), 0);
  });

  test('--json: decoded header and claims with signature_valid', async () => {
    const r = await checkToken(['--verify', '--issuer', as.origin, '--json'], signJwt(claimsFor(as.origin), { key: otherKey }));
    assertExit(r, 1);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.jwt.signature_valid, false);
    assert.equal(doc.jwt.header.kid, 'k1');
    assert.equal(doc.jwt.claims.sub, 'alice');
    assert.equal(doc.good, false);
    assert.ok(doc.reason);
  });
});

describe('--introspect --verify: where they disagree', () => {
  let as;
  const answers = new Map();
  before(async () => {
    as = await startAs({ introspect: (token) => answers.get(token) ?? { body: { active: false } } });
  });
  after(() => as.stop());

  test('signature valid, but introspection says inactive: exit 1, "revoked?"', async () => {
    const token = signJwt(claimsFor(as.origin));
    const r = await checkToken(['--introspect', '--verify', ...rsArgs(as)], token);
    assertFail(r, 1, /^mcpauth check-token: signature valid, but introspection says inactive: revoked\?$/);
    assert.match(r.stdout, /^JWT: signature valid/m);
    assert.match(r.stdout, /^Introspection: REJECTED \(token is not active\)/m);
  });

  test('introspection says active, but the signature is bad: exit 1', async () => {
    const token = signJwt(claimsFor(as.origin), { key: otherKey });
    answers.set(token, { body: { active: true, ...claimsFor(as.origin) } });
    assertFail(await checkToken(['--introspect', '--verify', ...rsArgs(as)], token), 1,
      /^mcpauth check-token: introspection says active, but local verification failed: .*signature/);
  });

  test('both accept: exit 0; claims that differ are named', async () => {
    const claims = claimsFor(as.origin);
    const token = signJwt(claims);
    answers.set(token, { body: { active: true, ...claims, exp: claims.exp + 60, scope: 'mcp' } });
    const r = await checkToken(['--introspect', '--verify', ...rsArgs(as)], token);
    assertExit(r, 0);
    assert.match(r.stdout, /^JWT and introspection disagree on exp, scope$/m);
    const same = signJwt(claimsFor(as.origin));
    answers.set(same, { body: { active: true, ...JSON.parse(Buffer.from(same.split('.')[1], 'base64url')) } });
    const agree = await checkToken(['--introspect', '--verify', ...rsArgs(as), '--json'], same);
    assertExit(agree, 0);
    assert.equal(JSON.parse(agree.stdout).disagree, undefined);
  });
});

describe('--decode', () => {
  test('decodes, says loudly that nothing was verified, flags missing RFC 9068 claims and typ', async () => {
    const token = signJwt({ iss: 'https://as.example.com', sub: 'bob', exp: now() + 60 }, { header: { typ: 'JWT' }, key: otherKey });
    const r = await checkToken(['--decode'], token);
    assertExit(r, 0);
    assert.match(r.stderr, /^mcpauth check-token: decoded only: nothing was verified/);
    assert.match(r.stdout, /^Header \(not verified\):\n\{\n {2}"alg": "RS256",/m);
    assert.match(r.stdout, /"sub": "bob"/);
    assert.match(r.stdout, /^Missing RFC 9068 claims: aud client_id iat jti$/m);
    assert.match(r.stdout, /^typ: JWT, not at\+jwt \(RFC 9068 §2\.1\)$/m);
    const json = JSON.parse((await checkToken(['--decode', '--json'], token)).stdout);
    assert.deepEqual(json.missing_claims, ['aud', 'client_id', 'iat', 'jti']);
    assert.equal(json.typ_at_jwt, false);
    assert.equal(json.verified, false);
  });

  test('not a JWT: exit 1', async () => {
    assertFail(await checkToken(['--decode'], 'opaque'), 1, /^mcpauth check-token: not a JWT: /);
  });
});

describe('exit 3: the authorization server cannot be reached', () => {
  test('introspection endpoint, JWKS, metadata on a closed port', async () => {
    const port = await freePort();
    const closed = `http://127.0.0.1:${port}`;
    assertFail(await checkToken(['--introspect', '--introspection-endpoint', `${closed}/introspect`, '--client-id', RS_ID,
      '--client-secret-file', secretFile], 'tok'), 3, /^mcpauth check-token: introspection failed: cannot reach/);
    assertFail(await checkToken(['--verify', '--jwks-uri', `${closed}/jwks`], A_JWT), 3, /cannot reach/);
    assertFail(await checkToken(['--verify', '--issuer', closed], A_JWT), 3, /cannot reach/);
  });
});

describe('exit 4: the authorization server answers badly', () => {
  const cases = [
    ['introspection 500', { introspect: () => ({ status: 500, body: 'oops', type: 'text/plain' }) }, ['--introspect'],
      /introspection endpoint answered HTTP 500/],
    ['introspection refuses our credentials', { introspect: () => ({ status: 401, body: { error: 'invalid_client' } }) }, ['--introspect'],
      /HTTP 401 .*invalid_client.*check the resource server's client credentials/],
    ['introspection not JSON', { introspect: () => ({ body: 'hello' }) }, ['--introspect'], /introspection response/],
    ['introspection without active', { introspect: () => ({ body: { sub: 'x' } }) }, ['--introspect'], /no boolean active/],
    ['no introspection_endpoint in the metadata', { metadata: { introspection_endpoint: undefined } }, ['--introspect'],
      /has no introspection_endpoint \(give --introspection-endpoint\)/],
    ['no jwks_uri in the metadata', { metadata: { jwks_uri: undefined } }, ['--verify'], /has no jwks_uri \(give --jwks-uri\)/],
    ['JWKS 404', { jwksStatus: 404 }, ['--verify'], /JWK Set at .*HTTP 404/],
    ['no metadata', { metadataStatus: 404 }, ['--verify'], /no authorization server metadata found/],
  ];
  for (const [name, options, mode, re] of cases) {
    test(name, async () => {
      const as = await startAs(options);
      try {
        assertFail(await checkToken([...mode, ...rsArgs(as)], signJwt(claimsFor(as.origin))), 4, re);
      } finally {
        await as.stop();
      }
    });
  }
});

describe('exit 5: local files', () => {
  test('token file, JWK Set file, credentials file', async () => {
    assertFail(await run(['check-token', '--decode', '--token-file', path.join(dir, 'nope')]), 5, /nope/);
    const bad = path.join(dir, 'bad-jwks.json');
    fs.writeFileSync(bad, '{"keys": "no"}');
    assertFail(await checkToken(['--verify', '--jwks-file', bad], A_JWT), 5, /bad-jwks\.json/);
    assertFail(await checkToken(['--verify', '--jwks-file', path.join(dir, 'missing.json')], A_JWT), 5, /missing\.json/);
    assertFail(await checkToken(['--introspect', '-c', path.join(dir, 'missing-creds.json')], 'x'), 5, /missing-creds\.json/);
  });
});

// ---------------------------------------------------------------------------------------
// The probe: a fake MCP server that does everything right, and variants that each get
// one thing wrong.

const PROBE_CHECKS = [
  'no-token-401', 'no-token-challenge', 'no-token-no-error', 'metadata-document', 'metadata-resource',
  'metadata-authorization-servers', 'metadata-path-inserted', 'metadata-root', 'as-metadata', 'as-issuer',
  'as-pkce-s256', 'bogus-token', 'basic-scheme', 'query-token-ignored', 'token-initialize', 'token-tools-list',
  'query-token-beside-header', 'forged-alg-none', 'forged-signature', 'foreign-origin',
  'modern-discover', 'modern-header-mismatch', 'modern-unsupported-version', 'modern-get-405',
  'insufficient-scope-all', 'offline-access-absent',
];
// What the legacy-only fake cannot show: the modern checks, a 403 it never gives, the root
// document it does not serve.
const LEGACY_SKIPS = ['metadata-root', 'modern-discover', 'modern-header-mismatch', 'modern-unsupported-version',
  'modern-get-405', 'insufficient-scope-all'];

const GOOD_TOKEN = signJwt({ iss: 'x', sub: 'alice', aud: 'x', exp: now() + 3600 });
const [GOOD_HEADER, GOOD_PAYLOAD] = GOOD_TOKEN.split('.');

/**
 * A fake protected MCP server at <origin>/mcp, whose authorization server metadata it
 * serves itself (issuer <origin>/as). Options break one thing each (see the variants).
 * srv.deleted lists the session ids DELETEd.
 */
async function startMcp(o = {}) {
  const deleted = [];
  let sessions = 0;
  const srv = await startHttpServer(async (req, res) => {
    const url = new URL(req.url, srv.origin);
    const body = await readBody(req);
    const mcpUrl = `${srv.origin}/mcp`;
    const pathPrm = '/.well-known/oauth-protected-resource/mcp';
    const headerPrm = o.metadataPath ?? pathPrm;
    const prm = { resource: mcpUrl, authorization_servers: [`${srv.origin}/as`], scopes_supported: o.scopesSupported ?? ['mcp'] };
    // Option values may name the server's own URLs.
    const fill = (doc) => JSON.parse(JSON.stringify(doc ?? {}).replaceAll('$ORIGIN', srv.origin));
    const challenge = (error, description, scope = o.challengeScope ?? 'mcp') => [
      'Bearer',
      [o.noResourceMetadata ? null : `resource_metadata="${srv.origin}${headerPrm}"`, `scope="${scope}"`,
        error ? `error="${error}"` : null, description ? `error_description="${description}"` : null,
      ].filter(Boolean).join(', '),
    ].join(' ');
    const refuse = (status, error, description) => sendJson(res, status, { error: error ?? 'unauthorized' },
      { 'www-authenticate': challenge(error, description) });
    // The 403 of a tool the token lacks scopes for (o.toolScopes), naming o.forbiddenScope.
    const forbid = () => sendJson(res, 403, { error: 'insufficient_scope' },
      { 'www-authenticate': challenge('insufficient_scope', null, o.forbiddenScope ?? 'mcp mcp:tools') });

    if (req.method === 'GET' && url.pathname !== '/mcp') {
      if (url.pathname === headerPrm && !(o.noPathPrm && headerPrm === pathPrm)) {
        const doc = { ...prm, ...fill(o.prm) };
        res.writeHead(200, { 'content-type': o.prmType ?? 'application/json' });
        return res.end(JSON.stringify(doc));
      }
      if (url.pathname === pathPrm && !o.noPathPrm) return sendJson(res, 200, { ...prm, ...fill(o.pathPrm) });
      if (url.pathname === '/.well-known/oauth-protected-resource' && o.rootPrm) {
        return sendJson(res, 200, { ...prm, ...fill(o.rootPrm) });
      }
      if (url.pathname === '/.well-known/oauth-authorization-server/as' && !o.noAsMetadata) {
        return sendJson(res, 200, {
          issuer: o.asIssuer ?? `${srv.origin}/as`, token_endpoint: `${srv.origin}/as/token`,
          code_challenge_methods_supported: ['S256'], ...o.asMetadata,
        });
      }
      return sendJson(res, 404, { error: 'not_found' });
    }
    if (url.pathname !== '/mcp') return sendJson(res, 404, { error: 'not_found' });
    if (req.headers.origin && !o.ignoreOrigin) return sendJson(res, 403, { error: 'forbidden origin' });

    const auth = req.headers.authorization;
    const queryToken = url.searchParams.get('access_token');
    // A query-string token alone is ignored (or, broken, read); the variants below that
    // break the no-token answer leave this one alone, so that one check fails each.
    // The MCP TypeScript SDK's middleware: invalid_token to every request without credentials.
    if (o.invalidTokenAlways && !auth) {
      return refuse(401, 'invalid_token', queryToken && o.readQueryToken ? 'Invalid token' : 'Missing Authorization header');
    }
    if (queryToken && !auth) return refuse(401, o.readQueryToken ? 'invalid_token' : null);
    if (queryToken && auth && o.readQueryBeside) return refuse(400, 'invalid_request');
    if (!auth) {
      if (o.noTokenStatus) return sendJson(res, o.noTokenStatus, { ok: true });
      return refuse(401, o.noTokenError ? 'invalid_token' : null);
    }
    if (/^basic /i.test(auth)) return refuse(401, o.basicError ? 'invalid_token' : null);
    const token = auth.replace(/^bearer /i, '');
    const [h, p] = token.split('.');
    const header = (() => { try { return JSON.parse(Buffer.from(h, 'base64url')); } catch { return {}; } })();
    const accepted = (token === GOOD_TOKEN && !o.rejectGood)
      || (o.acceptOpaque && token.split('.').length !== 3)
      || (o.acceptAlgNone && header.alg === 'none' && p === GOOD_PAYLOAD)
      || (o.ignoreSignature && h === GOOD_HEADER && p === GOOD_PAYLOAD);
    if (!accepted) return refuse(401, 'invalid_token');

    if (req.method === 'DELETE') {
      deleted.push(req.headers['mcp-session-id']);
      res.writeHead(204);
      return res.end();
    }
    const version = req.headers['mcp-protocol-version'];
    if (req.method === 'GET') {
      const modernGet = o.modern && version === '2026-07-28' && o.modern.getStatus;
      res.writeHead(modernGet || 405, modernGet ? { 'content-type': 'text/event-stream' } : { allow: 'POST' });
      return res.end();
    }
    const message = JSON.parse(body);
    if (o.modern && version && !['2025-11-25', '2025-06-18', '2025-03-26'].includes(version)) {
      return modernAnswer(o.modern, message, version, req.headers['mcp-method'], res, forbid, o.toolScopes);
    }
    if (message.method === 'tools/call' && o.toolScopes) return forbid();
    if (message.method === 'initialize') {
      return sendJson(res, 200, {
        jsonrpc: '2.0', id: message.id,
        result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'fake', version: '1' } },
      }, { 'mcp-session-id': `session-${++sessions}` });
    }
    if (message.method === 'notifications/initialized') {
      res.writeHead(202);
      return res.end();
    }
    if (message.method === 'tools/list') {
      if (o.toolsListStatus) return sendJson(res, o.toolsListStatus, { error: 'no' });
      if (req.headers['mcp-session-id'] !== `session-${sessions}`) return sendJson(res, 400, { error: 'no session' });
      // As an event stream, with a notification first.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return res.end(`event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n`
        + `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { tools: [{ name: 'echo' }, { name: 'add' }] } })}\n\n`);
    }
    return sendJson(res, 400, { error: 'unexpected' });
  });
  srv.deleted = deleted;
  srv.mcpUrl = `${srv.origin}/mcp`;
  return srv;
}

/** How the fake answers a 2026-07-28 request; m breaks one rule at a time. */
function modernAnswer(m, message, version, mcpMethod, res, forbid, toolScopes) {
  const error = (code, extra = {}) => sendJson(res, 400, { jsonrpc: '2.0', id: message.id, error: { code, message: 'no', ...extra } });
  if (version !== '2026-07-28') {
    return error(-32022, { data: m.noSupported ? { requested: version } : { supported: ['2026-07-28', '2025-11-25'], requested: version } });
  }
  if (mcpMethod !== message.method) return error(m.mismatchCode ?? -32020);
  const result = (r) => sendJson(res, 200, { jsonrpc: '2.0', id: message.id, result: r });
  if (message.method === 'server/discover') {
    return result({
      resultType: 'complete', ...(m.noVersions ? {} : { supportedVersions: ['2026-07-28', '2025-11-25'] }),
      capabilities: { tools: {} }, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'fake', version: '2' } },
      ttlMs: 0, cacheScope: 'private',
    });
  }
  if (message.method === 'tools/call') {
    return toolScopes ? forbid() : sendJson(res, 200, { jsonrpc: '2.0', id: message.id, error: { code: -32602, message: 'unknown tool' } });
  }
  return result({ resultType: 'complete', tools: [] });
}

function probeLines(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const m = /^(PASS|FAIL|WARN|SKIP) ([a-z0-9-]+): (.*)$/.exec(line);
    if (m) out[m[2]] = { result: m[1], detail: m[3] };
  }
  return out;
}

/** token null: none at all. */
function probe(srv, { token = GOOD_TOKEN, args = [] } = {}) {
  return checkToken(['--resource', srv.mcpUrl, ...args], token ?? undefined);
}

describe('--resource: a server that gets everything right', () => {
  test('every check passes (the root document is optional: skipped); sessions deleted; exit 0', async () => {
    const srv = await startMcp();
    try {
      const r = await probe(srv);
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      assert.deepEqual(Object.keys(lines), PROBE_CHECKS, r.stdout);
      for (const name of PROBE_CHECKS) {
        assert.equal(lines[name].result, LEGACY_SKIPS.includes(name) ? 'SKIP' : 'PASS', `${name}: ${lines[name].detail}`);
      }
      assert.match(lines['token-tools-list'].detail, /^2 tools: "echo", "add"$/);
      assert.match(lines['modern-discover'].detail, /offers no modern version \(legacy only\)/);
      assert.match(lines['modern-get-405'].detail, /^the server offers no modern version \(modern-discover\)$/);
      assert.match(r.stdout, /^20 passed, 0 failed, 0 warnings, 6 skipped$/m);
      assert.equal(r.stderr, '');
      assert.ok(srv.deleted.length >= 1 && srv.deleted.includes('session-1'), JSON.stringify(srv.deleted));
    } finally {
      await srv.stop();
    }
  });

  test('a root document naming the origin or the MCP URL passes', async () => {
    for (const resource of ['$ORIGIN', '$ORIGIN/mcp']) {
      const srv = await startMcp({ rootPrm: { resource } });
      try {
        const r = await probe(srv);
        assertExit(r, 0);
        const root = probeLines(r.stdout)['metadata-root'];
        assert.equal(root.result, 'PASS');
        assert.match(root.detail, resource === '$ORIGIN' ? /names the origin$/ : /names the MCP URL \(clients falling back/);
      } finally {
        await srv.stop();
      }
    }
  });

  test('without a token the token checks are skipped, the others still run', async () => {
    const srv = await startMcp();
    try {
      const r = await probe(srv, { token: null });
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      for (const name of ['token-initialize', 'token-tools-list', 'query-token-beside-header', 'forged-alg-none',
        'forged-signature', 'foreign-origin']) {
        assert.equal(lines[name].result, 'SKIP', name);
      }
      assert.match(lines['token-initialize'].detail, /no token given \(--token-file FILE or MCPAUTH_TOKEN\)/);
      assert.equal(lines['bogus-token'].result, 'PASS');
      assert.equal(lines['query-token-ignored'].result, 'PASS');
    } finally {
      await srv.stop();
    }
  });

  test('--json: the checks with names, probes and results', async () => {
    const srv = await startMcp();
    try {
      const r = await probe(srv, { args: ['--json'] });
      assertExit(r, 0);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.resource, srv.mcpUrl);
      assert.deepEqual(doc.checks.map((c) => c.name), PROBE_CHECKS);
      assert.deepEqual(doc.checks[0], { name: 'no-token-401', probe: 'PR-1', result: 'PASS', detail: 'initialize without a token: HTTP 401 Unauthorized' });
      assert.equal(doc.failed, 0);
      assert.equal(doc.passed, 20);
    } finally {
      await srv.stop();
    }
  });

  test('-v shows the requests but never the token', async () => {
    const srv = await startMcp();
    try {
      const r = await probe(srv, { args: ['-v'] });
      assertExit(r, 0);
      assert.match(r.stderr, /> POST http:\/\/127\.0\.0\.1:\d+\/mcp/);
      assert.match(r.stderr, /Authorization: \[redacted\]/);
      assert.ok(!r.stderr.includes(GOOD_TOKEN) && !r.stdout.includes(GOOD_TOKEN));
      assert.ok(!r.stderr.includes(GOOD_PAYLOAD), 'not even the forged tokens');
    } finally {
      await srv.stop();
    }
  });
});

describe('--resource: each broken server fails exactly the check it breaks (exit 1)', () => {
  // [check, options, detail pattern]
  const variants = [
    ['no-token-401', { noTokenStatus: 200 }, /HTTP 200 OK: the server does not require a token/],
    ['no-token-challenge', { noResourceMetadata: true }, /no resource_metadata \(RFC 9728 §5\.1\)/],
    ['no-token-no-error', { noTokenError: true }, /has error="invalid_token"/],
    ['metadata-document', { metadataPath: '/prm', prmType: 'text/plain' }, /served as "text\/plain", not application\/json/],
    ['metadata-resource', { metadataPath: '/prm', prm: { resource: '$ORIGIN/mcp/' } }, /\(a trailing slash too many\) \(RFC 9728 §3\.3/],
    ['metadata-authorization-servers', { metadataPath: '/prm', prm: { authorization_servers: [] } }, /no non-empty "authorization_servers"/],
    ['metadata-path-inserted', { metadataPath: '/prm', pathPrm: { resource: 'https://elsewhere.example/mcp' } }, /is not the MCP URL/],
    ['metadata-root', { rootPrm: { resource: 'https://elsewhere.example' } }, /neither the MCP URL nor the origin/],
    ['as-metadata', { noAsMetadata: true }, /no authorization server metadata for .*\/as/],
    ['as-issuer', { asIssuer: 'https://impostor.example' }, /issuer "https:\/\/impostor\.example", not .* \(RFC 8414 §3\.3/],
    ['bogus-token', { acceptOpaque: true }, /the server accepted a token that is not one/],
    ['basic-scheme', { basicError: true }, /401 with error="invalid_token": RFC 6750 §3\.1/],
    ['query-token-ignored', { readQueryToken: true }, /the server read the query-string token/],
    ['token-initialize', { rejectGood: true }, /HTTP 401 Unauthorized: "invalid_token"/],
    ['token-tools-list', { toolsListStatus: 400 }, /tools\/list: HTTP 400/],
    ['query-token-beside-header', { readQueryBeside: true }, /HTTP 400 Bad Request: the server read the query string/],
    ['forged-alg-none', { acceptAlgNone: true }, /accepted an unsigned token/],
    ['forged-signature', { ignoreSignature: true }, /accepted a token whose signature does not verify/],
    ['foreign-origin', { ignoreOrigin: true }, /HTTP 200 OK, not 403/],
  ];
  for (const [check, options, re] of variants) {
    test(check, async () => {
      const srv = await startMcp(options);
      try {
        const r = await probe(srv);
        assertExit(r, 1);
        const lines = probeLines(r.stdout);
        assert.equal(lines[check]?.result, 'FAIL', r.stdout);
        assert.match(lines[check].detail, re);
        const failed = Object.entries(lines).filter(([, l]) => l.result === 'FAIL').map(([n]) => n);
        assert.deepEqual(failed, [check], r.stdout);
        assert.equal(r.stderr, `mcpauth check-token: 1 check failed: ${check}\n`);
      } finally {
        await srv.stop();
      }
    });
  }

  test('an AS without S256 is a warning, not a failure (exit 0)', async () => {
    const srv = await startMcp({ asMetadata: { code_challenge_methods_supported: ['plain'] } });
    try {
      const r = await probe(srv);
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      assert.equal(lines['as-pkce-s256'].result, 'WARN');
      assert.match(r.stdout, /^19 passed, 0 failed, 1 warnings, 6 skipped$/m);
    } finally {
      await srv.stop();
    }
  });

  test('no path-inserted document but a good challenge: a warning (exit 0)', async () => {
    const srv = await startMcp({ metadataPath: '/prm', noPathPrm: true });
    try {
      const r = await probe(srv);
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      assert.equal(lines['metadata-path-inserted'].result, 'WARN', r.stdout);
      assert.match(lines['metadata-path-inserted'].detail, /HTTP 404 .*only clients that read resource_metadata from the challenge/);
    } finally {
      await srv.stop();
    }
  });

  test('no path-inserted document and no usable challenge: a failure', async () => {
    const srv = await startMcp({ noResourceMetadata: true, noPathPrm: true });
    try {
      const r = await probe(srv);
      assertExit(r, 1);
      const lines = probeLines(r.stdout);
      assert.equal(lines['metadata-path-inserted'].result, 'FAIL');
      assert.equal(lines['metadata-document'].result, 'SKIP');
      assert.equal(lines['as-metadata'].result, 'SKIP');
    } finally {
      await srv.stop();
    }
  });
});

describe('--resource: the MCP 2026-07-28 checks', () => {
  const MODERN_CHECKS = ['modern-discover', 'modern-header-mismatch', 'modern-unsupported-version', 'modern-get-405'];

  test('a dual-era server that gets them right passes them all, a 403 included', async () => {
    const srv = await startMcp({ modern: {}, toolScopes: true, forbiddenScope: 'mcp mcp:tools' });
    try {
      const r = await probe(srv);
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      assert.deepEqual(Object.keys(lines), PROBE_CHECKS, r.stdout);
      for (const name of [...MODERN_CHECKS, 'insufficient-scope-all', 'offline-access-absent']) {
        assert.equal(lines[name].result, 'PASS', `${name}: ${lines[name].detail}`);
      }
      assert.equal(lines['modern-discover'].detail, 'versions "2026-07-28", "2025-11-25"; server "fake" "2"');
      assert.match(lines['modern-header-mismatch'].detail, /^tools\/list sent with Mcp-Method: tools\/call: HTTP 400, JSON-RPC error -32020$/);
      assert.match(lines['modern-unsupported-version'].detail, /error -32022, supported "2026-07-28", "2025-11-25"$/);
      assert.match(lines['modern-get-405'].detail, /HTTP 405/);
      assert.match(lines['insufficient-scope-all'].detail, /403 scope="mcp mcp:tools"/);
      assert.equal(lines['offline-access-absent'].detail, 'not in the 401 challenge, the 403 challenge, scopes_supported');
    } finally {
      await srv.stop();
    }
  });

  test('a 403 that names only what is missing beyond the token\'s own scopes passes too', async () => {
    // The token (a JWT) holds no scope: mcp is missing, and named.
    const srv = await startMcp({ modern: {}, toolScopes: true, challengeScope: 'mcp', forbiddenScope: 'mcp mcp:x' });
    try {
      const r = await probe(srv);
      assertExit(r, 0);
      assert.equal(probeLines(r.stdout)['insufficient-scope-all'].result, 'PASS');
    } finally {
      await srv.stop();
    }
  });

  test('without a token they are skipped; offline_access is still looked for', async () => {
    const srv = await startMcp({ modern: {} });
    try {
      const r = await probe(srv, { token: null });
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      for (const name of [...MODERN_CHECKS, 'insufficient-scope-all']) assert.equal(lines[name].result, 'SKIP', name);
      assert.equal(lines['offline-access-absent'].detail, 'not in the 401 challenge, scopes_supported');
    } finally {
      await srv.stop();
    }
  });

  // [check, options, detail pattern]
  const variants = [
    ['modern-discover', { modern: { noVersions: true } }, /without a non-empty "supportedVersions"/],
    ['modern-header-mismatch', { modern: { mismatchCode: -32600 } }, /HTTP 400 Bad Request with JSON-RPC error -32600, not -32020/],
    ['modern-unsupported-version', { modern: { noSupported: true } }, /error -32022 without a non-empty data\.supported list/],
    ['modern-get-405', { modern: { getStatus: 200 } }, /HTTP 200 OK, not 405/],
    ['offline-access-absent', { modern: {}, challengeScope: 'mcp offline_access' }, /^offline_access in the 401 challenge's scope:/],
    ['offline-access-absent', { modern: {}, scopesSupported: ['mcp', 'offline_access'] }, /^offline_access in scopes_supported:/],
    ['offline-access-absent', { modern: {}, toolScopes: true, forbiddenScope: 'mcp mcp:tools offline_access' }, /^offline_access in the 403 challenge's scope:/],
    ['insufficient-scope-all', { modern: {}, toolScopes: true, challengeScope: 'mcp mcp:tools', forbiddenScope: 'mcp:x' },
      /403 scope="mcp:x" lacks "mcp mcp:tools", which the 401 challenge asks for and the token lacks/],
  ];
  for (const [check, options, re] of variants) {
    test(`${check} fails against ${JSON.stringify(options)}`, async () => {
      const srv = await startMcp(options);
      try {
        const r = await probe(srv);
        assertExit(r, 1);
        const lines = probeLines(r.stdout);
        assert.equal(lines[check]?.result, 'FAIL', r.stdout);
        assert.match(lines[check].detail, re);
        const failed = Object.entries(lines).filter(([, l]) => l.result === 'FAIL').map(([n]) => n);
        assert.deepEqual(failed, [check], r.stdout);
        assert.equal(r.stderr, `mcpauth check-token: 1 check failed: ${check}\n`);
      } finally {
        await srv.stop();
      }
    });
  }

  test('a legacy-only server: the modern checks are skipped, the new scope rules only warned about', async () => {
    const srv = await startMcp({ scopesSupported: ['mcp', 'offline_access'], toolScopes: true,
      challengeScope: 'mcp mcp:tools', forbiddenScope: 'mcp:x' });
    try {
      const r = await probe(srv);
      assertExit(r, 0);
      const lines = probeLines(r.stdout);
      for (const name of MODERN_CHECKS) assert.equal(lines[name].result, 'SKIP', name);
      assert.equal(lines['insufficient-scope-all'].result, 'WARN', lines['insufficient-scope-all'].detail);
      assert.equal(lines['offline-access-absent'].result, 'WARN');
    } finally {
      await srv.stop();
    }
  });

  test('an opaque token: a 403 leaving out a 401 scope is only a warning (the token may hold it)', async () => {
    const srv = await startMcp({ modern: {}, acceptOpaque: true, toolScopes: true, challengeScope: 'mcp', forbiddenScope: 'mcp:x' });
    try {
      const r = await probe(srv, { token: 'an-opaque-token' });
      const lines = probeLines(r.stdout);
      assert.equal(lines['insufficient-scope-all'].result, 'WARN', r.stdout);
      assert.match(lines['insufficient-scope-all'].detail, /may lack \(not a JWT: its scopes are unknown\)/);
    } finally {
      await srv.stop();
    }
  });
});

describe('--resource: query-token-ignored blames only what it saw', () => {
  test('invalid_token to every request without credentials (the MCP TypeScript SDK): not "read the query"', async () => {
    const srv = await startMcp({ invalidTokenAlways: true });
    try {
      const r = await probe(srv);
      const lines = probeLines(r.stdout);
      assert.equal(lines['query-token-ignored'].result, 'PASS', r.stdout);
      assert.match(lines['query-token-ignored'].detail,
        /^a token in the query string only: 401 error="invalid_token", the very answer to no token at all: the query string made no difference$/);
      assert.doesNotMatch(r.stdout, /read the query-string token/);
      // The error code without credentials is no-token-no-error's finding.
      assert.equal(lines['no-token-no-error'].result, 'FAIL');
    } finally {
      await srv.stop();
    }
  });

  test('a different answer with the query token than without any token is still blamed', async () => {
    const srv = await startMcp({ invalidTokenAlways: true, readQueryToken: true });
    try {
      const lines = probeLines((await probe(srv)).stdout);
      assert.equal(lines['query-token-ignored'].result, 'FAIL');
      assert.match(lines['query-token-ignored'].detail, /the server read the query-string token/);
    } finally {
      await srv.stop();
    }
  });
});

describe('--resource against mcpauth serve: every check passes, in both eras', () => {
  let as;
  before(async () => { as = await startAs(); });
  after(async () => { await as.stop(); });

  for (const [era, extra] of [['2025 sessions', []], ['stateless', ['--stateless']]]) {
    test(era, async () => {
      // Per-tool scopes so that the probe can provoke a 403; offline_access in a rule, which
      // serve must keep out of its challenges and scopes_supported.
      const serve = await startServe(['--issuer', as.origin, ...extra, '--tool-scope', 'hello_world=',
        '--tool-scope', 'whoami=', '--tool-scope', '*=mcp:admin', '--scope-implies', 'mcp:all=mcp:admin,offline_access']);
      try {
        const token = signJwt({ ...claimsFor(as.origin), aud: serve.resource, scope: 'mcp' });
        const r = await checkToken(['--resource', serve.resource], token);
        assertExit(r, 0);
        const lines = probeLines(r.stdout);
        assert.deepEqual(Object.keys(lines), PROBE_CHECKS, r.stdout);
        for (const name of PROBE_CHECKS) {
          // No root document (optional); the fake AS does not list S256.
          const expected = name === 'metadata-root' ? 'SKIP' : name === 'as-pkce-s256' ? 'WARN' : 'PASS';
          assert.equal(lines[name].result, expected, `${name}: ${lines[name].detail}`);
        }
        assert.match(lines['modern-discover'].detail, /^versions "2026-07-28", .*"2025-11-25".*; server "mcpauth"/);
        assert.match(lines['insufficient-scope-all'].detail, /403 scope="mcp mcp:admin"/);
      } finally {
        assert.equal((await serve.stop()).code, 0);
      }
    });
  }
});

describe('--resource: when the probe cannot run', () => {
  test('nothing listening: exit 3 with one line', async () => {
    const port = await freePort();
    const r = await run(['check-token', '--resource', `http://127.0.0.1:${port}/mcp`]);
    assertFail(r, 3, /^mcpauth check-token: cannot reach http:\/\/127\.0\.0\.1:\d+\/mcp/);
    assert.equal(r.stdout, '');
  });

  test('the authorization server unreachable: the checks so far are printed, then exit 3', async () => {
    const port = await freePort();
    const srv = await startMcp({ metadataPath: '/prm', prm: { authorization_servers: [`http://127.0.0.1:${port}`] },
      pathPrm: { authorization_servers: [`http://127.0.0.1:${port}`] } });
    try {
      const r = await probe(srv);
      assertExit(r, 3);
      const lines = probeLines(r.stdout);
      assert.equal(lines['metadata-authorization-servers'].result, 'PASS');
      assert.equal(lines['as-metadata'], undefined);
      assert.match(r.stderr, /^mcpauth check-token: cannot reach http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-authorization-server/);
      const json = await probe(srv, { args: ['--json'] });
      assertExit(json, 3);
      assert.match(JSON.parse(json.stdout).error, /cannot reach/);
    } finally {
      await srv.stop();
    }
  });

  test('an http:// MCP URL on another host is a usage error', async () => {
    assertFail(await run(['check-token', '--resource', 'http://mcp.example.com/mcp']), 2, /--resource: refusing plain http/);
  });
});

// ---------------------------------------------------------------------------------------
// Issuer binding (MCP 2026-07-28 Client Registration §Authorization Server Binding): the
// resource server's credentials file belongs to the issuer that issued it.

describe('issuer binding', () => {
  /** Counts every request, answering as startAs() does. */
  async function startCountingAs() {
    const as = await startAs();
    const requests = [];
    as.server.prependListener('request', (req) => requests.push(`${req.method} ${req.url}`));
    as.requests = requests;
    return as;
  }

  function credentialsAt(issuer) {
    const file = path.join(tmpDir(), 'rs.json');
    fs.writeFileSync(file, JSON.stringify({
      version: 1, issuer, client: { client_id: RS_ID, client_secret: RS_SECRET },
    }), { mode: 0o600 });
    return file;
  }

  test('-c FILE from issuer A with --issuer B: exit 2 saying how to register again; nothing sent to A or B', async (t) => {
    const a = await startCountingAs();
    t.after(() => a.stop());
    const b = await startCountingAs();
    t.after(() => b.stop());
    const creds = credentialsAt(a.origin);
    for (const mode of [['--introspect'], ['--verify'], ['--introspect', '--verify']]) {
      const r = await checkToken([...mode, '-c', creds, '--issuer', b.origin], signJwt(claimsFor(b.origin)));
      assertExit(r, 2);
      assert.equal(r.stderr, `mcpauth check-token: ${creds} was registered at ${a.origin}, but --issuer `
        + `names "${b.origin}" as the authorization server: client credentials are bound to the server `
        + `that issued them; register again: mcpauth register --issuer "${b.origin}" -o ${creds} --force\n`);
      assert.doesNotMatch(r.stderr + r.stdout, new RegExp(RS_SECRET.replace(/[+/]/g, '\\$&')));
    }
    assert.deepEqual(b.requests, []);
    assert.deepEqual(a.requests, []);
  });

  test('-c FILE with its own issuer introspects there as before', async (t) => {
    const a = await startCountingAs();
    t.after(() => a.stop());
    const creds = credentialsAt(a.origin);
    const r = await checkToken(['--introspect', '-c', creds, '--issuer', a.origin], 'opaque-1');
    assertExit(r, 0);
    assert.equal(a.introspections.length, 1);
  });
});
