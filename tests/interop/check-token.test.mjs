// Interop tests for `mcpauth check-token` (issue 4, Part 3) against real peers:
// - oidc-provider 9.13.3 (lib/authserver.mjs): opaque access tokens for --introspect,
//   JWT access tokens (accessTokenFormat 'jwt', RS256, typ at+jwt, aud = the resource)
//   for --verify and --decode;
// - real `mcpauth serve` instances, started as tests/lib/harness.mjs startServe does,
//   for the --resource probe: one validating opaque tokens by introspection, one
//   validating JWTs locally, so that every probe check runs.
// Run: cd tests/interop && npm ci && MCPAUTH_BIN=../../build/mcpauth node --test check-token.test.mjs
//
// Facts about oidc-provider these tests rely on (see also PEERS.md):
// - It refuses to introspect JWT access tokens: 400 unsupported_token_type. So
//   `--introspect --verify` on its JWTs is exit status 4, asserted below; the
//   disagreement between the two checks is tested against a fake server in
//   tests/integration/check-token.test.mjs.
// - A client_credentials token without `resource` is opaque and has no `aud`.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { basicAuth } from '../lib/http.mjs';
import { clientCredentials, registerClientCredentials } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';

let as;
let asMetadata;
let opaqueServe; // mcpauth serve validating opaque tokens by introspection
let jwtServe; // mcpauth serve validating JWT access tokens locally
let opaqueUrl;
let jwtUrl;
let rsFile; // the resource server's credentials (mcpauth register -o)
let client; // the MCP client's registration

async function getToken({ resource = opaqueUrl, scope = 'mcp' } = {}) {
  return (await clientCredentials(asMetadata.token_endpoint, client, { resource, scope })).access_token;
}

async function revoke(token) {
  const r = await fetch(asMetadata.revocation_endpoint, {
    method: 'POST',
    headers: {
      authorization: basicAuth(client.client_id, client.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  assert.equal(r.status, 200, await r.text());
}

/** mcpauth check-token with the token in MCPAUTH_TOKEN. */
function checkToken(args, token, opts = {}) {
  return run(['check-token', ...args], { ...opts, env: { MCPAUTH_TOKEN: token, ...opts.env } });
}

/** The probe's "RESULT name: detail" lines as { name: { result, detail } }. */
function probeLines(stdout) {
  const out = {};
  for (const line of stdout.split('\n')) {
    const m = /^(PASS|FAIL|WARN|SKIP) ([a-z0-9-]+): (.*)$/.exec(line);
    if (m) out[m[2]] = { result: m[1], detail: m[3] };
  }
  return out;
}

before(async () => {
  // The authorization server first (it takes a port of its own); it reads the
  // resource table only when asked for a token.
  const resources = {};
  as = await startAuthServer({ resources });
  const p1 = await freePort();
  const p2 = await freePort();
  opaqueUrl = `http://127.0.0.1:${p1}/mcp`;
  jwtUrl = `http://127.0.0.1:${p2}/mcp`;
  resources[opaqueUrl] = { scope: 'mcp', accessTokenFormat: 'opaque' };
  resources[jwtUrl] = { scope: 'mcp', accessTokenFormat: 'jwt' };
  asMetadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();

  rsFile = path.join(tmpDir(), 'rs.json');
  await registerClientCredentials(as.issuer, 'resource server', { out: rsFile });
  client = await registerClientCredentials(as.issuer, 'mcp client');

  opaqueServe = await startServe(['--credentials', rsFile, '--cache-ttl', '1'], { port: p1 });
  jwtServe = await startServe(['--issuer', as.issuer, '--validation', 'jwt'], { port: p2 });
});

after(async () => {
  await opaqueServe?.stop();
  await jwtServe?.stop();
  await as?.stop();
});

describe('check-token --introspect against oidc-provider (opaque tokens)', () => {
  test('an active token: exit 0, its claims, audience not checked', async () => {
    const token = await getToken();
    const r = await checkToken(['--introspect', '-c', rsFile], token);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Introspection: active, at http:\/\/127\.0\.0\.1:\d+\/token\/introspection$/m);
    assert.match(r.stdout, new RegExp(`client id: +${client.client_id}$`, 'm'));
    assert.match(r.stdout, /scopes: +mcp$/m);
    assert.match(r.stdout, new RegExp(`audience: +${opaqueUrl.replace(/[./]/g, '\\$&')}$`, 'm'));
    assert.match(r.stdout, new RegExp(`issuer: +${as.issuer.replace(/[./]/g, '\\$&')}$`, 'm'));
    assert.match(r.stdout, /expires: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in \d+ (s|min|h)\)$/m);
    assert.match(r.stdout, /^Audience: not checked \(no --audience\)$/m);
    assert.match(r.stdout, /^Result: good$/m);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token), 'the token is never printed');
  });

  test('with --audience and --require-scope that hold: exit 0; --json gives the raw response', async () => {
    const token = await getToken();
    const r = await checkToken(['--introspect', '-c', rsFile, '--audience', opaqueUrl,
      '--require-scope', 'mcp', '--json'], token);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.good, true);
    assert.equal(doc.audience_checked, true);
    assert.equal(doc.introspection.active, true);
    assert.equal(doc.introspection.client_id, client.client_id);
    assert.equal(doc.introspection.aud, opaqueUrl);
  });

  test('the token from standard input (--token-file -)', async () => {
    const token = await getToken();
    const r = await run(['check-token', '--introspect', '-c', rsFile, '--token-file', '-'],
      { input: `${token}\n` });
    assert.equal(r.code, 0, r.stderr);
  });

  test('another audience: exit 1, one line saying why', async () => {
    const r = await checkToken(['--introspect', '-c', rsFile, '--audience', 'http://127.0.0.1:1/other'],
      await getToken());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^mcpauth check-token: audience \[".*\/mcp"\] does not include http:\/\/127\.0\.0\.1:1\/other\n$/);
  });

  test('a scope it lacks: exit 1 "missing scope admin"', async () => {
    const r = await checkToken(['--introspect', '-c', rsFile, '--require-scope', 'admin'], await getToken());
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mcpauth check-token: missing scope admin\n');
  });

  test('a token issued without a resource indicator has no audience: exit 1', async () => {
    const r = await checkToken(['--introspect', '-c', rsFile, '--audience', opaqueUrl],
      await getToken({ resource: null }));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mcpauth check-token: token has no audience\n');
  });

  test('a revoked token: exit 1 "token is not active"', async () => {
    const token = await getToken();
    await revoke(token);
    const r = await checkToken(['--introspect', '-c', rsFile, '--json'], token);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mcpauth check-token: token is not active\n');
    assert.deepEqual(JSON.parse(r.stdout).introspection, { active: false });
  });

  test('wrong client secret: the AS refuses us, exit 4', async () => {
    const dir = tmpDir();
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, 'wrong\n', { mode: 0o600 });
    const saved = JSON.parse(fs.readFileSync(rsFile, 'utf8'));
    const r = await checkToken(['--introspect', '--issuer', as.issuer, '--client-id', saved.client.client_id,
      '--client-secret-file', secret], await getToken());
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /introspection endpoint answered HTTP 401.*check the resource server's client credentials/);
  });
});

describe('check-token --verify / --decode against oidc-provider (JWT access tokens)', () => {
  test('a JWT for the resource: signature valid, audience and scope hold, exit 0', async () => {
    const token = await getToken({ resource: jwtUrl });
    assert.equal(token.split('.').length, 3);
    const r = await checkToken(['--verify', '--issuer', as.issuer, '--audience', jwtUrl,
      '--require-scope', 'mcp'], token);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^JWT: signature valid \(RS256, kid "rs256"\), keys from http:\/\/127\.0\.0\.1:\d+\/jwks$/m);
    assert.match(r.stdout, /^Result: good$/m);
  });

  test('the JWT for another audience: exit 1', async () => {
    const r = await checkToken(['--verify', '--issuer', as.issuer, '--audience', opaqueUrl],
      await getToken({ resource: jwtUrl }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mcpauth check-token: audience \[.*\] does not include /);
  });

  test('a tampered JWT: exit 1 "bad signature"', async () => {
    const token = await getToken({ resource: jwtUrl });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.scope = 'mcp admin';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const r = await checkToken(['--verify', '--issuer', as.issuer], forged);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mcpauth check-token: .*signature/);
  });

  test('an issuer that did not sign it: exit 1', async () => {
    const other = await startAuthServer();
    try {
      const r = await checkToken(['--verify', '--issuer', other.issuer], await getToken({ resource: jwtUrl }));
      assert.equal(r.code, 1, r.stderr);
    } finally {
      await other.stop();
    }
  });

  test('an opaque token: exit 1 "not a JWT"', async () => {
    const r = await checkToken(['--verify', '--issuer', as.issuer], await getToken());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a JWT/);
  });

  test('--introspect --verify on a JWT: oidc-provider refuses to introspect it, exit 4', async () => {
    const r = await checkToken(['--introspect', '--verify', '-c', rsFile], await getToken({ resource: jwtUrl }));
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.match(r.stderr, /unsupported_token_type/);
  });

  test('--decode: header and claims, no RFC 9068 claim missing but sub, says nothing was verified', async () => {
    const r = await checkToken(['--decode', '--json'], await getToken({ resource: jwtUrl }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /decoded only: nothing was verified/);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.verified, false);
    assert.equal(doc.header.typ, 'at+jwt');
    assert.equal(doc.typ_at_jwt, true);
    assert.equal(doc.claims.aud, jwtUrl);
    // A client_credentials token has no subject at oidc-provider.
    assert.deepEqual(doc.missing_claims, doc.claims.sub ? [] : ['sub']);
  });
});

describe('check-token --resource against mcpauth serve', () => {
  test('without a token: every server-side check passes, the token checks are skipped', async () => {
    const r = await run(['check-token', '--resource', opaqueUrl]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = probeLines(r.stdout);
    for (const name of ['no-token-401', 'no-token-challenge', 'no-token-no-error', 'metadata-document',
      'metadata-resource', 'metadata-authorization-servers', 'metadata-path-inserted', 'as-metadata',
      'as-issuer', 'as-pkce-s256', 'bogus-token', 'basic-scheme', 'query-token-ignored']) {
      assert.equal(lines[name]?.result, 'PASS', `${name}: ${JSON.stringify(lines[name])}\n${r.stdout}`);
    }
    // serve has no root document: optional, so a skip.
    assert.equal(lines['metadata-root'].result, 'SKIP');
    assert.equal(lines['token-initialize'].result, 'SKIP');
    assert.match(r.stdout, /^\d+ passed, 0 failed, 0 warnings, \d+ skipped$/m);
  });

  test('with an opaque token (introspection): initialize and tools/list work; exit 0', async () => {
    const token = await getToken();
    const r = await checkToken(['--resource', opaqueUrl], token);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = probeLines(r.stdout);
    assert.equal(lines['token-initialize'].result, 'PASS');
    assert.match(lines['token-initialize'].detail, /Mcp-Session-Id given/);
    assert.equal(lines['token-tools-list'].result, 'PASS');
    assert.match(lines['token-tools-list'].detail, /hello_world/);
    assert.equal(lines['query-token-beside-header'].result, 'PASS');
    assert.equal(lines['foreign-origin'].result, 'PASS');
    assert.equal(lines['forged-alg-none'].result, 'SKIP', 'not a JWT');
    assert.ok(!r.stdout.includes(token));
    // Every session the probe opened was deleted again.
    const metrics = await (await fetch(opaqueServe.url('/metrics'))).text();
    const open = /^mcpauth_mcp_sessions(?:_active)? (\d+)$/m.exec(metrics);
    if (open) assert.equal(Number(open[1]), 0, metrics);
  });

  test('with a JWT (local validation): every check passes, forgeries refused; --json', async () => {
    const token = await getToken({ resource: jwtUrl });
    const r = await checkToken(['--resource', jwtUrl, '--json'], token);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.resource, jwtUrl);
    assert.equal(doc.failed, 0);
    const byName = Object.fromEntries(doc.checks.map((c) => [c.name, c]));
    for (const name of ['token-initialize', 'token-tools-list', 'forged-alg-none', 'forged-signature',
      'foreign-origin', 'query-token-beside-header']) {
      assert.equal(byName[name].result, 'PASS', JSON.stringify(byName[name]));
    }
    assert.equal(byName['forged-alg-none'].probe, 'PR-5');
  });

  test('a revoked token: token-initialize fails with the server\'s reason, exit 1', async () => {
    const token = await getToken();
    await revoke(token);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past serve's --cache-ttl 1
    const r = await checkToken(['--resource', opaqueUrl], token);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = probeLines(r.stdout);
    assert.equal(lines['token-initialize'].result, 'FAIL');
    assert.match(lines['token-initialize'].detail, /HTTP 401 Unauthorized: "invalid_token"/);
    assert.equal(lines['token-tools-list'].result, 'SKIP');
    assert.equal(r.stderr, 'mcpauth check-token: 1 check failed: token-initialize\n');
  });
});

// The MCP TypeScript SDK's own protected server: requireBearerAuth answers every request
// without credentials, a query-string token included, with error="invalid_token" and the
// same description. The probe must not say it read the query-string token.
describe('check-token --resource against the MCP TypeScript SDK\'s bearer middleware', () => {
  let server;
  let url;
  before(async () => {
    const { default: express } = await import('express');
    const { requireBearerAuth } = await import('@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js');
    const { InvalidTokenError } = await import('@modelcontextprotocol/sdk/server/auth/errors.js');
    const app = express();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    const verifier = { verifyAccessToken: async () => { throw new InvalidTokenError('Invalid token'); } };
    app.post('/mcp', requireBearerAuth({
      verifier, resourceMetadataUrl: `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`,
    }), (req, res) => res.json({}));
    server = await new Promise((resolve) => { const s = app.listen(port, '127.0.0.1', () => resolve(s)); });
  });
  after(() => new Promise((resolve) => { server.close(resolve); }));

  test('query-token-ignored: the same answer as without a token, so no blame', async () => {
    const r = await run(['check-token', '--resource', url]);
    const lines = probeLines(r.stdout);
    assert.equal(lines['query-token-ignored'].result, 'PASS', r.stdout);
    assert.match(lines['query-token-ignored'].detail, /the very answer to no token at all/);
    assert.doesNotMatch(r.stdout, /read the query-string token/);
    assert.equal(lines['no-token-no-error'].result, 'FAIL', 'what it does show is named there');
  });
});
