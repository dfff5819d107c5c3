// Interop tests for `mcpauth register` against a real authorization server: oidc-provider
// (9.13.3, see lib/authserver.mjs) with dynamic registration (RFC 7591), RFC 7592
// management, and an initial-access-token variant.
// Run: cd tests/interop && npm ci && MCPAUTH_BIN=../../build/mcpauth node --test register.test.mjs
//
// oidc-provider facts these tests rely on (checked by hand):
// - software_id, software_version and software_statement are not among its recognised
//   client metadata: a stock provider silently drops them (RFC 7591 §2 lets an AS ignore
//   what it does not understand). The "every flag" test declares them as
//   extraClientMetadata so they are stored and echoed back; it does not verify the
//   software statement (it has no support for that).
// - It rejects an https redirect URI on a loopback host for a native client
//   (invalid_redirect_uri) and a scope it does not support (invalid_client_metadata):
//   both pass mcpauth's local checks, so they reach the AS.
// - PUT on the registration client URI rotates the registration access token.

import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { run, startHttpServer, tmpDir } from '../lib/harness.mjs';
import { closedPort } from '../lib/http.mjs';
import { describeRun, assertExit, assertFail } from '../lib/cli.mjs';
import { startAuthServer, startProtectedResource } from './lib/authserver.mjs';

const INSPECTOR_REDIRECTS = [
  'http://localhost:6274/oauth/callback',
  'http://localhost:6274/oauth/callback/debug',
];

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The client as oidc-provider stores it (undefined once deleted). */
async function storedClient(as, clientId) {
  const client = await as.provider.Client.find(clientId);
  return client?.metadata();
}

/** A client_credentials token request: proves the saved id and secret are real. */
async function clientCredentialsGrant(as, client, { post = false } = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp' });
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (post) {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret);
  } else {
    const enc = (s) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${enc(client.client_id)}:${enc(client.client_secret)}`).toString('base64')}`;
  }
  const res = await fetch(as.url('/token'), { method: 'POST', headers, body });
  return { status: res.status, body: await res.json() };
}

/** A reverse proxy on another origin that forwards everything to `target`. */
async function startProxy(target) {
  return startHttpServer((req, res) => {
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
}

// ---------------------------------------------------------------------------------------

describe('register against oidc-provider', () => {
  let as;
  before(async () => {
    as = await startAuthServer({
      config: { extraClientMetadata: { properties: ['software_id', 'software_version', 'software_statement'] } },
    });
  });
  after(() => as.stop());

  test('defaults: the seed registration, printed like registration.py', async () => {
    const r = await run(['register', '--issuer', as.issuer]);
    assertExit(r, 0);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'Client registered successfully!');
    const end = lines.indexOf('}');
    const printed = JSON.parse(lines.slice(1, end + 1).join('\n'));
    const id = r.stdout.match(/^Client ID: (\S+)$/m)?.[1];
    const secret = r.stdout.match(/^Client Secret: (\S+)$/m)?.[1];
    assert.equal(id, printed.client_id);
    assert.equal(secret, printed.client_secret);
    assert.equal(printed.registration_client_uri, as.url(`/reg/${id}`));
    assert.ok(printed.registration_access_token);

    const stored = await storedClient(as, id);
    assert.equal(stored.client_name, 'mcpauth');
    assert.deepEqual(stored.redirect_uris, INSPECTOR_REDIRECTS);
    assert.deepEqual(stored.grant_types, ['authorization_code', 'refresh_token']);
    assert.equal(stored.scope, 'mcp');
    assert.equal(stored.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(stored.application_type, 'native');
    assert.equal(stored.client_secret, secret);
  });

  test('every metadata flag is registered, and the saved credentials work', async () => {
    const dir = tmpDir();
    const statement = path.join(dir, 'statement.jwt');
    fs.writeFileSync(statement, 'eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6InNpZC0xIn0.\n');
    const out = path.join(dir, 'client.json');
    const r = await run(['register', '--issuer', as.issuer, '-o', out,
      '--name', 'Every Flag',
      '--redirect-uri', 'https://app.example.com/cb', '--redirect-uri', 'https://app.example.com/cb2',
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--grant-type', 'client_credentials',
      '--response-type', 'code',
      '--scope', 'mcp offline_access',
      '--auth-method', 'client_secret_post',
      '--application-type', 'web',
      '--contact', 'ops@example.com', '--contact', 'dev@example.com',
      '--client-uri', 'https://app.example.com/',
      '--logo-uri', 'https://app.example.com/logo.png',
      '--tos-uri', 'https://app.example.com/tos',
      '--policy-uri', 'https://app.example.com/privacy',
      '--jwks-uri', 'https://app.example.com/jwks.json',
      '--software-id', 'sid-1',
      '--software-version', '1.2.3',
      '--software-statement-file', statement,
    ]);
    assertExit(r, 0);
    const saved = readJson(out);
    assert.equal(saved.issuer, as.issuer);
    assert.equal(saved.registration_endpoint, as.url('/reg'));
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    assert.ok(!r.stdout.includes(saved.client.client_secret), 'secret on stdout despite --output');

    const expected = {
      client_name: 'Every Flag',
      redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/cb2'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      scope: 'mcp offline_access',
      token_endpoint_auth_method: 'client_secret_post',
      application_type: 'web',
      contacts: ['ops@example.com', 'dev@example.com'],
      client_uri: 'https://app.example.com/',
      logo_uri: 'https://app.example.com/logo.png',
      tos_uri: 'https://app.example.com/tos',
      policy_uri: 'https://app.example.com/privacy',
      jwks_uri: 'https://app.example.com/jwks.json',
      software_id: 'sid-1',
      software_version: '1.2.3',
      software_statement: 'eyJhbGciOiJub25lIn0.eyJzb2Z0d2FyZV9pZCI6InNpZC0xIn0.',
    };
    const stored = await storedClient(as, saved.client.client_id);
    for (const [k, v] of Object.entries(expected)) {
      assert.deepEqual(saved.client[k], v, `saved ${k}`);
      assert.deepEqual(stored[k], v, `stored ${k}`);
    }
    const grant = await clientCredentialsGrant(as, saved.client, { post: true });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    assert.ok(grant.body.access_token);
  });

  test('--format json and --format env carry the real credentials', async () => {
    // A client_credentials-only client: oidc-provider defaults response_types to ['code'] and
    // then insists on redirect_uris ("redirect_uris is mandatory property") unless mcpauth
    // sends response_types [].
    const r = await run(['register', '--issuer', as.issuer, '--grant-type', 'client_credentials', '--format', 'json']);
    assertExit(r, 0);
    const client = JSON.parse(r.stdout);
    assert.deepEqual(client.grant_types, ['client_credentials']);
    assert.deepEqual(client.redirect_uris ?? [], [], 'no redirect URIs without authorization_code');
    const grant = await clientCredentialsGrant(as, client);
    assert.equal(grant.status, 200, JSON.stringify(grant.body));

    const e = await run(['register', '--issuer', as.issuer, '--grant-type', 'authorization_code',
      '--grant-type', 'client_credentials', '--format', 'env']);
    assertExit(e, 0);
    const vars = Object.fromEntries(e.stdout.trim().split('\n').map((l) => {
      const m = l.match(/^(\w+)=(?:'(.*)'|(\d+))$/);
      assert.ok(m, `not a simple assignment: ${l}`);
      return [m[1], m[2] ?? m[3]];
    }));
    assert.equal(vars.MCPAUTH_ISSUER, as.issuer);
    const grant2 = await clientCredentialsGrant(as, { client_id: vars.MCPAUTH_CLIENT_ID, client_secret: vars.MCPAUTH_CLIENT_SECRET });
    assert.equal(grant2.status, 200, JSON.stringify(grant2.body));
  });

  test('--metadata FILE: the document is registered, flags override it', async () => {
    const dir = tmpDir();
    const meta = path.join(dir, 'meta.json');
    fs.writeFileSync(meta, JSON.stringify({
      client_name: 'From File',
      redirect_uris: ['http://127.0.0.1:7777/callback'],
      contacts: ['file@example.com'],
      logo_uri: 'https://file.example.com/logo.png',
      scope: 'openid',
    }));
    const r = await run(['register', '--issuer', as.issuer, '--metadata', meta, '--scope', 'mcp', '--format', 'json']);
    assertExit(r, 0);
    const client = JSON.parse(r.stdout);
    const stored = await storedClient(as, client.client_id);
    assert.equal(stored.client_name, 'From File');
    assert.deepEqual(stored.redirect_uris, ['http://127.0.0.1:7777/callback']);
    assert.deepEqual(stored.contacts, ['file@example.com']);
    assert.equal(stored.logo_uri, 'https://file.example.com/logo.png');
    assert.equal(stored.scope, 'mcp', 'the --scope flag must win over the file');
    assert.equal(stored.application_type, 'native');
  });

  test('--metadata - reads the document from stdin', async () => {
    const r = await run(['register', '--issuer', as.issuer, '--metadata', '-', '--format', 'json'], {
      input: JSON.stringify({ client_name: 'From Stdin', client_uri: 'https://stdin.example.com/' }),
    });
    assertExit(r, 0);
    const stored = await storedClient(as, JSON.parse(r.stdout).client_id);
    assert.equal(stored.client_name, 'From Stdin');
    assert.equal(stored.client_uri, 'https://stdin.example.com/');
    assert.deepEqual(stored.redirect_uris, INSPECTOR_REDIRECTS);
  });

  test('--resource: discovery through a protected resource', async (t) => {
    const pr = await startProtectedResource({ authorizationServers: [as.issuer] });
    t.after(() => pr.stop());
    const out = path.join(tmpDir(), 'client.json');
    const r = await run(['register', '--resource', pr.url, '-o', out]);
    assertExit(r, 0);
    const saved = readJson(out);
    assert.equal(saved.issuer, as.issuer);
    assert.equal(saved.registration_endpoint, as.url('/reg'));
    assert.ok(await storedClient(as, saved.client.client_id));
  });

  test('--resource with only root metadata and no resource_metadata in the challenge', async (t) => {
    const pr = await startProtectedResource({ resource: '/', authorizationServers: [as.issuer], noHeader: true });
    t.after(() => pr.stop());
    const r = await run(['register', '--resource', pr.url, '--format', 'json']);
    assertExit(r, 0);
    assert.ok(await storedClient(as, JSON.parse(r.stdout).client_id));
  });

  test('--resource whose metadata names another resource: exit 4', async (t) => {
    const pr = await startProtectedResource({ authorizationServers: [as.issuer], wrongResource: true });
    t.after(() => pr.stop());
    const r = await run(['register', '--resource', pr.url]);
    assertFail(r, 4, /RFC 9728/);
  });

  test('show, update (the rotated token is saved), show again, delete', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'client.json');
    let r = await run(['register', '--issuer', as.issuer, '-o', file]);
    assertExit(r, 0);
    const first = readJson(file);
    const id = first.client.client_id;

    r = await run(['register', '--show', file]);
    assertExit(r, 0);
    assert.match(r.stdout, /^Client registration:$/m);
    assert.match(r.stdout, new RegExp(`^Client ID: ${id}$`, 'm'));
    assert.equal(r.stderr, '');

    r = await run(['register', '--update', file, '--name', 'Updated Name',
      '--redirect-uri', 'http://127.0.0.1:9999/cb', '--contact', 'upd@example.com']);
    assertExit(r, 0);
    assert.match(r.stdout, /^Client updated successfully!$/m);
    const updated = readJson(file);
    assert.equal(updated.client.client_id, id);
    assert.equal(updated.client.client_name, 'Updated Name');
    assert.notEqual(updated.client.registration_access_token, first.client.registration_access_token,
      'oidc-provider rotated the registration access token: the file must hold the new one');
    assert.equal(updated.client.client_secret, first.client.client_secret);
    assert.equal(updated.issuer, as.issuer);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const stored = await storedClient(as, id);
    assert.equal(stored.client_name, 'Updated Name');
    assert.deepEqual(stored.redirect_uris, ['http://127.0.0.1:9999/cb']);
    assert.deepEqual(stored.contacts, ['upd@example.com']);
    assert.equal(stored.scope, 'mcp', 'metadata not named in the update is kept (full PUT)');

    r = await run(['register', '--show', file, '--format', 'json']);
    assertExit(r, 0);
    assert.equal(JSON.parse(r.stdout).client_name, 'Updated Name');

    // The old registration token no longer works.
    const stale = path.join(dir, 'stale.json');
    fs.writeFileSync(stale, JSON.stringify(first), { mode: 0o600 });
    r = await run(['register', '--show', stale]);
    assertFail(r, 4, /HTTP 401.*invalid_token/);

    const beforeDelete = path.join(dir, 'before-delete.json');
    fs.copyFileSync(file, beforeDelete);
    r = await run(['register', '--delete', file]);
    assertExit(r, 0);
    assert.match(r.stdout, new RegExp(`${id} deleted`));
    assert.equal(fs.existsSync(file), false);
    assert.equal(await storedClient(as, id), undefined);

    r = await run(['register', '--show', beforeDelete]);
    assertFail(r, 4, /HTTP 401/);
    r = await run(['register', '--delete', beforeDelete]);
    assertFail(r, 4, /HTTP 401/);
    assert.equal(fs.existsSync(beforeDelete), true);
  });

  test('update with a redirect URI the AS rejects: exit 4, the file is unchanged', async () => {
    const file = path.join(tmpDir(), 'client.json');
    assertExit(await run(['register', '--issuer', as.issuer, '-o', file]), 0);
    const before = fs.readFileSync(file, 'utf8');
    const r = await run(['register', '--update', file, '--redirect-uri', 'https://localhost/cb']);
    assertFail(r, 4, /HTTP 400.*invalid_redirect_uri/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });

  test('a redirect URI the AS rejects (https on loopback, native): exit 4 invalid_redirect_uri', async () => {
    let r = await run(['register', '--issuer', as.issuer, '--redirect-uri', 'https://localhost/cb', '--application-type', 'native']);
    assertFail(r, 4, /HTTP 400 Bad Request: invalid_redirect_uri: .*redirect_uris/);
    assert.equal(r.stdout, '');
    // The same through --metadata.
    r = await run(['register', '--issuer', as.issuer, '--metadata', '-'], {
      input: JSON.stringify({ redirect_uris: ['https://127.0.0.1/cb'], application_type: 'native' }),
    });
    assertFail(r, 4, /invalid_redirect_uri/);
  });

  test('a bad redirect URI is caught locally (exit 2) before the AS sees it', async () => {
    const r = await run(['register', '--issuer', as.issuer, '--redirect-uri', 'https://app.example.com/cb#frag']);
    assertExit(r, 2);
    assert.match(r.stderr, /fragment/);
  });

  test('a scope the AS does not support: exit 4 invalid_client_metadata', async () => {
    const r = await run(['register', '--issuer', as.issuer, '--scope', 'mcp no-such-scope']);
    assertFail(r, 4, /HTTP 400 Bad Request: invalid_client_metadata: scope/);
  });

  test('wrong issuer in metadata (served from another origin): exit 4 naming both', async (t) => {
    const proxy = await startProxy(as.origin);
    t.after(() => proxy.stop());
    const r = await run(['register', '--issuer', proxy.origin]);
    assertFail(r, 4, /names issuer .* not .* as asked/);
    assert.ok(r.stderr.includes(`"${as.issuer}"`), r.stderr);
    assert.ok(r.stderr.includes(`"${proxy.origin}"`), r.stderr);
  });
});

describe('register with an initial access token', () => {
  const TOKEN = 'iat-secret-123';
  let as;
  before(async () => { as = await startAuthServer({ initialAccessToken: TOKEN }); });
  after(() => as.stop());

  test('missing: exit 4 mentioning MCPAUTH_INITIAL_ACCESS_TOKEN', async () => {
    const r = await run(['register', '--issuer', as.issuer]);
    assertFail(r, 4, /HTTP 401.*invalid_token.*MCPAUTH_INITIAL_ACCESS_TOKEN/);
  });

  test('wrong: exit 4 with the AS message', async () => {
    const r = await run(['register', '--issuer', as.issuer], { env: { MCPAUTH_INITIAL_ACCESS_TOKEN: 'wrong' } });
    assertFail(r, 4, /HTTP 401.*invalid_token: invalid token provided/);
    assert.ok(!r.stderr.includes('wrong'), 'the token value was printed');
  });

  test('from --initial-access-token-file', async () => {
    const file = path.join(tmpDir(), 'iat');
    fs.writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const r = await run(['register', '-v', '--issuer', as.issuer, '--initial-access-token-file', file, '--format', 'json']);
    assertExit(r, 0);
    assert.ok(await storedClient(as, JSON.parse(r.stdout).client_id));
    assert.match(r.stderr, /^> Authorization: \[redacted\]$/m);
    assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN), 'the token was printed');
  });

  test('from MCPAUTH_INITIAL_ACCESS_TOKEN', async () => {
    const r = await run(['register', '--issuer', as.issuer, '--format', 'json'], { env: { MCPAUTH_INITIAL_ACCESS_TOKEN: TOKEN } });
    assertExit(r, 0);
    assert.ok(await storedClient(as, JSON.parse(r.stdout).client_id));
  });
});

describe('register: reaching the authorization server', () => {
  test('unreachable AS: exit 3', async () => {
    const port = await closedPort();
    let r = await run(['register', '--issuer', `http://127.0.0.1:${port}`]);
    assertFail(r, 3, /cannot reach/);
    r = await run(['register', '--registration-endpoint', `http://127.0.0.1:${port}/reg`]);
    assertFail(r, 3, /cannot reach/);
  });

  test('an AS that went away after discovery... is simply unreachable: exit 3', async () => {
    const as = await startAuthServer();
    const issuer = as.issuer;
    await as.stop();
    const r = await run(['register', '--issuer', issuer]);
    assertFail(r, 3, /cannot reach/);
  });

  test('path issuer /tenant1: the RFC 8414 inserted form is used', async (t) => {
    const as = await startAuthServer({ issuerPath: '/tenant1' });
    t.after(() => as.stop());
    const out = path.join(tmpDir(), 'client.json');
    const r = await run(['register', '-v', '--issuer', as.issuer, '-o', out]);
    assertExit(r, 0);
    const gets = r.stderr.split('\n').filter((l) => /^> GET /.test(l));
    assert.deepEqual(gets, [`> GET ${as.origin}/.well-known/oauth-authorization-server/tenant1`]);
    const saved = readJson(out);
    assert.equal(saved.issuer, `${as.origin}/tenant1`);
    assert.equal(saved.registration_endpoint, as.url('/reg'));
    assert.ok(await storedClient(as, saved.client.client_id));
    // Management works under the path too.
    assertExit(await run(['register', '--update', out, '--name', 'tenant client']), 0);
    assert.equal((await storedClient(as, saved.client.client_id)).client_name, 'tenant client');
    assertExit(await run(['register', '--delete', out]), 0);
  });

  test('path issuer without the inserted well-knowns: falls back to /tenant1/.well-known/openid-configuration', async (t) => {
    const as = await startAuthServer({ issuerPath: '/tenant1', insertedWellKnown: false });
    t.after(() => as.stop());
    const r = await run(['register', '-v', '--issuer', as.issuer, '--format', 'json']);
    assertExit(r, 0);
    const log = r.stderr.split('\n').filter((l) => /^(> GET|< HTTP)/.test(l));
    assert.deepEqual(log.slice(0, 6).map((l) => l.replace(/ \(\d+ bytes\)$/, '')), [
      `> GET ${as.origin}/.well-known/oauth-authorization-server/tenant1`,
      '< HTTP 404 Not Found',
      `> GET ${as.origin}/.well-known/openid-configuration/tenant1`,
      '< HTTP 404 Not Found',
      `> GET ${as.origin}/tenant1/.well-known/openid-configuration`,
      '< HTTP 200 OK',
    ]);
    assert.ok(await storedClient(as, JSON.parse(r.stdout).client_id));
  });
});
