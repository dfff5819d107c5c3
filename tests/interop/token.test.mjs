// Interop tests for `mcpauth token` against a real authorization server: oidc-provider
// (9.13.3, see lib/authserver.mjs) with resource indicators and opaque access tokens, so
// that every token obtained can be checked by RFC 7662 introspection. The authorization
// code flow is completed by the test itself: it reads the authorization URL from
// mcpauth's stderr and follows it through oidc-provider's devInteractions login and
// consent pages (lib/browser.mjs), which ends in the redirect to mcpauth's loopback
// listener.
// Run: cd tests/interop && npm ci && MCPAUTH_BIN=../../build/mcpauth node --test token.test.mjs
//
// oidc-provider facts these tests rely on (checked by hand):
// - it advertises code_challenge_methods_supported ["S256"] and
//   authorization_response_iss_parameter_supported true, and sends iss with every
//   authorization response (RFC 9207);
// - it issues refresh tokens only for offline_access with prompt=consent, unless
//   issueRefreshToken says otherwise: the server here issues one whenever the client may
//   use the refresh_token grant;
// - an unknown resource indicator gets 400 invalid_target; a bad secret 401
//   invalid_client; the devInteractions "abort" ends in error=access_denied.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, tmpDir, freePort, MCPAUTH_BIN, WRAPPER, TIMEOUT_FACTOR as FACTOR } from '../lib/harness.mjs';
import { describeRun, assertExit } from '../lib/cli.mjs';
import { startAuthServer } from './lib/authserver.mjs';
import { followAuthorization } from './lib/browser.mjs';

let as;
let metadata;
let mcpUrl;
let introspector; // a confidential client allowed to introspect any token

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** oidc-provider's own view of a token (RFC 7662), asked by the introspector client. */
async function introspect(token) {
  const res = await fetch(metadata.introspection_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(introspector.client_id)}:${encodeURIComponent(introspector.client_secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

/** `mcpauth register ... -o FILE`; returns FILE. */
async function register(args) {
  const file = path.join(tmpDir(), 'client.json');
  const r = await run(['register', '--issuer', as.issuer, ...args, '-o', file]);
  assertExit(r, 0);
  return file;
}


/**
 * Start `mcpauth token ...args`; resolves once the authorization URL is on its stderr
 * (url is null when it exited first). result resolves like harness run().
 */
async function startToken(args) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  const argv = [...WRAPPER, MCPAUTH_BIN, 'token', ...args];
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8');
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, 60000 * FACTOR);
  const result = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  const url = await new Promise((resolve) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /^ {2}(https?:\/\/\S+)$/m.exec(stderr);
      if (m) resolve(m[1]);
    });
    result.then(() => resolve(null));
  });
  return { url, params: url ? new URL(url).searchParams : null, result, stderr: () => stderr };
}

/** A client for the browser flow, registered by mcpauth with a loopback redirect URI. */
async function browserClient(extra = []) {
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const file = await register(['--redirect-uri', redirectUri, '--grant-type', 'authorization_code',
    '--grant-type', 'refresh_token', '--scope', 'mcp offline_access', ...extra]);
  return { file, redirectUri };
}

before(async () => {
  mcpUrl = `http://127.0.0.1:${await freePort()}/mcp`;
  as = await startAuthServer({
    resources: { [mcpUrl]: { scope: 'mcp offline_access', accessTokenFormat: 'opaque' } },
    config: {
      // A refresh token whenever the client may use the grant (no prompt=consent dance).
      issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    },
  });
  metadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();
  assert.ok(metadata.code_challenge_methods_supported.includes('S256'));
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  introspector = readJson(await register(['--grant-type', 'client_credentials', '--scope', 'mcp'])).client;
});

after(() => as?.stop());

describe('client_credentials against oidc-provider', () => {
  test('a token for the resource, which introspection confirms', async () => {
    const creds = await register(['--grant-type', 'client_credentials', '--scope', 'mcp']);
    const r = await run(['token', '-c', creds, '--grant', 'client_credentials', '--resource', mcpUrl]);
    assertExit(r, 0);
    // Nothing serves mcpUrl here, so the credentials' issuer binding cannot be
    // confirmed from its metadata: one warning, and the token all the same.
    assert.match(r.stderr, /^mcpauth token: warning: cannot confirm that \S+ still uses \S+: [^\n]*\n$/);
    assert.match(r.stdout, /^\S+\n$/);
    const info = await introspect(r.stdout.trim());
    assert.equal(info.active, true);
    assert.equal(info.aud, mcpUrl);
    assert.equal(info.client_id, readJson(creds).client.client_id);
    assert.equal(info.scope, 'mcp');
    assert.equal(info.iss, as.issuer);
  });

  test('without --resource the token has no audience; an unknown resource is invalid_target', async () => {
    const creds = await register(['--grant-type', 'client_credentials', '--scope', 'mcp']);
    let r = await run(['token', '-c', creds, '--grant', 'client_credentials']);
    assertExit(r, 0);
    const info = await introspect(r.stdout.trim());
    assert.equal(info.active, true);
    assert.equal(info.aud, undefined);
    r = await run(['token', '-c', creds, '--grant', 'client_credentials', '--resource', 'http://127.0.0.1:1/unknown']);
    assertExit(r, 4);
    assert.match(r.stderr, /invalid_target/);
  });

  test('client_secret_post, and a wrong secret (invalid_client, exit 4)', async () => {
    const creds = await register(['--grant-type', 'client_credentials', '--scope', 'mcp',
      '--auth-method', 'client_secret_post']);
    let r = await run(['token', '-c', creds, '-g', 'client_credentials', '--json']);
    assertExit(r, 0);
    const response = JSON.parse(r.stdout);
    assert.equal(response.token_type, 'Bearer');
    assert.equal((await introspect(response.access_token)).active, true);
    const dir = tmpDir();
    const wrong = path.join(dir, 'wrong.txt');
    fs.writeFileSync(wrong, 'not-the-secret\n', { mode: 0o600 });
    r = await run(['token', '-c', creds, '-g', 'client_credentials', '--client-secret-file', wrong]);
    assertExit(r, 4);
    assert.match(r.stderr, /HTTP 401 Unauthorized: invalid_client/);
    assert.ok(!r.stderr.includes('not-the-secret'));
  });
});

describe('authorization code against oidc-provider', () => {
  test('sign in through the dev interactions; then refresh the saved token', async () => {
    const { file, redirectUri } = await browserClient();
    const dir = tmpDir();
    const out = path.join(dir, 'tokens.json');
    const flow = await startToken(['-c', file, '--grant', 'authorization_code', '--resource', mcpUrl, '-o', out]);
    assert.ok(flow.url, flow.stderr());
    assert.equal(flow.params.get('redirect_uri'), redirectUri);
    assert.equal(flow.params.get('code_challenge_method'), 'S256');
    assert.equal(flow.params.get('resource'), mcpUrl);

    const browser = await followAuthorization(flow.url, { login: 'alice' });
    assert.ok(browser.redirect.startsWith(`${redirectUri}?`), browser.redirect);
    const back = new URL(browser.redirect).searchParams;
    assert.equal(back.get('iss'), as.issuer); // RFC 9207
    assert.equal(back.get('state'), flow.params.get('state'));
    assert.equal(browser.status, 200);
    assert.match(browser.body, /You can close this window/);

    const r = await flow.result;
    assertExit(r, 0);
    assert.equal(r.stdout, '');
    assert.ok(!r.stderr.includes(back.get('code')), 'the code was printed');
    const saved = readJson(out);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    assert.equal(saved.issuer, as.issuer);
    assert.equal(saved.client_id, readJson(file).client.client_id);
    assert.ok(saved.refresh_token, JSON.stringify(Object.keys(saved)));
    let info = await introspect(saved.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'alice');
    assert.equal(info.aud, mcpUrl);

    // Refresh: a new access token for the same user and resource, saved in place.
    const refreshed = await run(['token', '-c', file, '--refresh-token-file', out, '--resource', mcpUrl,
      '-o', out, '--force']);
    assertExit(refreshed, 0);
    const again = readJson(out);
    assert.notEqual(again.access_token, saved.access_token);
    assert.ok(again.refresh_token);
    info = await introspect(again.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'alice');
    assert.equal(info.aud, mcpUrl);

    // And once more, printing the token for $(...).
    const third = await run(['token', '-c', file, '--refresh-token-file', out]);
    assertExit(third, 0);
    assert.equal((await introspect(third.stdout.trim())).active, true);
  });

  test('a public client (none) with PKCE', async () => {
    const { file } = await browserClient(['--auth-method', 'none']);
    assert.equal(readJson(file).client.client_secret, undefined);
    const flow = await startToken(['-c', file, '-g', 'authorization_code', '--resource', mcpUrl, '--json']);
    await followAuthorization(flow.url, { login: 'bob' });
    const r = await flow.result;
    assertExit(r, 0);
    const response = JSON.parse(r.stdout);
    const info = await introspect(response.access_token);
    assert.equal(info.active, true);
    assert.equal(info.sub, 'bob');
  });

  test('the user aborting at the consent page: exit 1', async () => {
    const { file } = await browserClient();
    const flow = await startToken(['-c', file, '-g', 'authorization_code']);
    const browser = await followAuthorization(flow.url, { deny: true });
    assert.equal(new URL(browser.redirect).searchParams.get('error'), 'access_denied');
    assert.match(browser.body, /Authorization denied/);
    const r = await flow.result;
    assertExit(r, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /access_denied/);
  });

  test('a state mismatch: a forged redirect hitting the listener is rejected', async () => {
    const { file, redirectUri } = await browserClient();
    const flow = await startToken(['-c', file, '-g', 'authorization_code']);
    // A real code for this client, but delivered with another state (a CSRF attempt).
    const browser = await followAuthorization(flow.url, { deliver: false });
    const forged = new URL(browser.redirect);
    forged.searchParams.set('state', 'attacker-state');
    const res = await fetch(forged);
    assert.equal(res.status, 400);
    await res.text();
    const r = await flow.result;
    assertExit(r, 4);
    assert.match(r.stderr, /state does not match the request/);
    assert.ok(forged.href.startsWith(redirectUri));
  });

  test('an iss mismatch (mix-up, RFC 9207) is rejected; so is a missing iss', async () => {
    const { file } = await browserClient();
    for (const tamper of [(u) => u.searchParams.set('iss', 'https://evil.example'),
      (u) => u.searchParams.delete('iss')]) {
      const flow = await startToken(['-c', file, '-g', 'authorization_code']);
      const browser = await followAuthorization(flow.url, { deliver: false });
      const tampered = new URL(browser.redirect);
      tamper(tampered);
      const res = await fetch(tampered);
      assert.equal(res.status, 400);
      await res.text();
      const r = await flow.result;
      assertExit(r, 4);
      assert.match(r.stderr, /RFC 9207/);
      assert.equal(r.stdout, '');
    }
  });
});
