// Client ID Metadata Documents at `mcpauth serve --dev`: a client whose id is the https URL
// of its metadata document, served by a test https server under a CA made at test time
// (--cacert). The whole flow, the cache, and hostile documents, each refused with the right
// error while the issuer keeps working.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/integration/serve-dev-cimd.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { run, startServe, startHttpServer, freePort, MCPAUTH_BIN, TIMEOUT_FACTOR } from '../lib/harness.mjs';
import { makeTestCa, startDocumentServer } from '../lib/cimd.mjs';

const REDIRECT = 'http://127.0.0.1:9/callback';

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

/** A valid document for url, with fields replaced or added. */
function doc(url, extra = {}) {
  return { client_id: url, client_name: 'Doc Client', redirect_uris: [REDIRECT], ...extra };
}

async function authorize(s, clientId, extra = {}) {
  const p = pkce();
  const params = {
    response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, code_challenge: p.challenge,
    code_challenge_method: 'S256', state: 'st-1', resource: s.resource, ...extra,
  };
  const started = Date.now();
  const res = await fetch(`${s.url('/authorize')}?${new URLSearchParams(params)}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  return {
    status: res.status, location: location ? new URL(location) : null, body: await res.text(),
    verifier: p.verifier, ms: Date.now() - started, headers: res.headers,
  };
}

async function token(s, form) {
  const res = await fetch(s.url('/token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await res.json() };
}

async function callTool(s, accessToken) {
  const res = await fetch(s.url('/mcp'), {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream', 'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25', authorization: `Bearer ${accessToken}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }),
  });
  return { status: res.status, text: await res.text() };
}

/** The whole flow with clientId; returns the token response. */
async function flow(s, clientId) {
  const a = await authorize(s, clientId);
  assert.equal(a.status, 302, a.body);
  assert.equal(a.location.searchParams.get('iss'), s.origin);
  const code = a.location.searchParams.get('code');
  assert.ok(code, a.location.href);
  const t = await token(s, {
    grant_type: 'authorization_code', code, code_verifier: a.verifier, redirect_uri: REDIRECT, client_id: clientId,
  });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return t.body;
}

/** A refusal shown as a page (no redirect): 400, text/html, the message in the page. */
function assertPage(r, re) {
  assert.equal(r.status, 400, `${r.status} ${r.location?.href ?? ''} ${r.body}`);
  assert.equal(r.location, null);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(r.body, re);
}

/** A refusal sent back to the client's redirect URI with state and iss. */
function assertRedirectError(s, r, error, re) {
  assert.equal(r.status, 302, r.body);
  assert.equal(r.location.origin + r.location.pathname, REDIRECT);
  assert.equal(r.location.searchParams.get('error'), error);
  assert.equal(r.location.searchParams.get('state'), 'st-1');
  assert.equal(r.location.searchParams.get('iss'), s.origin);
  if (re) assert.match(r.location.searchParams.get('error_description'), re);
}

describe('serve --dev: Client ID Metadata Documents', () => {
  let ca, docs, plain, s;
  before(async () => {
    ca = makeTestCa();
    const self = (p, extra, headers) => (req, res, base) => {
      res.writeHead(200, { 'content-type': 'application/json', ...(headers ?? {}) });
      res.end(JSON.stringify(doc(base + p, extra)));
    };
    docs = await startDocumentServer(ca, {
      '/good.json': self('/good.json', {}, { 'cache-control': 'max-age=60' }),
      '/refresh.json': self('/refresh.json', { grant_types: ['authorization_code', 'refresh_token'] }),
      '/nostore.json': self('/nostore.json', {}, { 'cache-control': 'no-store' }),
      '/named.json': self('/named.json', { client_name: '<script>alert(1)</script>Evil & Co', client_uri: 'https://evil.example/"x"' }),
      '/mismatch.json': (req, res, base) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(doc(`${base}/other.json`)));
      },
      '/big.json': self('/big.json', { padding: 'x'.repeat(6000) }),
      '/slow.json': { delayMs: 8000, body: {} },
      '/redirect.json': (req, res, base) => { res.writeHead(302, { location: `${base}/good.json` }).end(); },
      '/badjson.json': { body: '{"client_id": "oops",' },
      '/secret.json': self('/secret.json', { client_secret: 'shh' }),
      '/basic.json': self('/basic.json', { token_endpoint_auth_method: 'client_secret_basic' }),
      '/missing-name.json': (req, res, base) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ client_id: `${base}/missing-name.json`, redirect_uris: [REDIRECT] }));
      },
      '/gone.json': { status: 404, body: {} },
    });
    // A document over plain http on loopback: the development issuer's one exception.
    plain = await startHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc(`${plain.origin ?? `http://127.0.0.1:${req.socket.localPort}`}/local.json`)));
    });
    s = await startServe(['--dev', '--dev-auto-approve', '--stateless', '--cacert', ca.caFile]);
  });
  after(async () => {
    const r = await s?.stop();
    await docs?.stop();
    await plain?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null }); // under ASan: no leak either
  });

  test('metadata advertises client_id_metadata_document_supported and iss', async () => {
    const md = await (await fetch(s.url('/.well-known/oauth-authorization-server'))).json();
    assert.equal(md.client_id_metadata_document_supported, true);
    assert.equal(md.authorization_response_iss_parameter_supported, true);
  });

  test('a document client completes the flow and calls a tool; no refresh token without the grant', async () => {
    const t = await flow(s, docs.url('/good.json'));
    assert.ok(t.access_token);
    assert.equal(t.refresh_token, undefined);
    const r = await callTool(s, t.access_token);
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /Hello/);
  });

  test('refresh tokens go to document clients that list the refresh_token grant, and rotate', async () => {
    const id = docs.url('/refresh.json');
    const t = await flow(s, id);
    assert.ok(t.refresh_token);
    const r = await token(s, { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: id });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.notEqual(r.body.refresh_token, t.refresh_token);
  });

  test('cache: within max-age the document is not fetched again; no-store is fetched every time', async () => {
    const good = docs.url('/good.json');
    const before = docs.fetches['/good.json'] ?? 0;
    await flow(s, good);
    await flow(s, good);
    assert.equal(docs.fetches['/good.json'], before === 0 ? 1 : before);
    const nostore = docs.url('/nostore.json');
    await flow(s, nostore); // authorize and token: two fetches
    assert.equal(docs.fetches['/nostore.json'], 2);
    await authorize(s, nostore);
    assert.equal(docs.fetches['/nostore.json'], 3);
  });

  test('the consent page shows the claimed name as escaped text and the hosts', async () => {
    const c = await startServe(['--dev', '--stateless', '--cacert', ca.caFile]);
    try {
      const r = await authorize(c, docs.url('/named.json'));
      assert.equal(r.status, 200, r.body);
      assert.ok(!r.body.includes('<script>'));
      assert.match(r.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;Evil &amp; Co/);
      assert.match(r.body, /https:\/\/evil\.example\/&quot;x&quot;/);
      assert.match(r.body, /metadata document at <strong>127\.0\.0\.1<\/strong>/);
      assert.match(r.body, /redirect to host: <strong>127\.0\.0\.1<\/strong>/);
      assert.match(r.body, /only redirects to this machine/);
    } finally {
      await c.stop();
    }
  });

  test('client_id differing from the document URL: page, invalid_client', async () => {
    assertPage(await authorize(s, docs.url('/mismatch.json')), /invalid_client.*client_id .*is not the document.*URL .*byte for byte/s);
  });

  test('an oversized document: page', async () => {
    assertPage(await authorize(s, docs.url('/big.json')), /larger than the 5120-byte limit/);
  });

  test('a slow document: page after the 5 s limit', async () => {
    const r = await authorize(s, docs.url('/slow.json'));
    assertPage(r, /timed out after 5 s/);
    assert.ok(r.ms < 5000 + 2500 * TIMEOUT_FACTOR, `${r.ms} ms`);
  });

  test('a redirecting document URL: page, the redirect not followed', async () => {
    const before = docs.fetches['/good.json'] ?? 0;
    await fetch(s.url('/healthz'));
    assertPage(await authorize(s, docs.url('/redirect.json')), /redirect \(HTTP 302\), which is not followed/);
    assert.equal(docs.fetches['/good.json'] ?? 0, before);
  });

  test('private address targets are refused before connecting', async () => {
    for (const url of ['https://10.1.2.3/client.json', 'https://169.254.169.254/latest/client.json',
      'https://192.168.1.1/c.json', 'https://[fd00::1]/c.json', 'https://[::ffff:10.0.0.1]/c.json']) {
      const r = await authorize(s, url);
      assertPage(r, /is not a public address/);
      assert.ok(r.ms < 2000 * TIMEOUT_FACTOR, `${url}: ${r.ms} ms`); // no connect timeout waited for
    }
  });

  test('not JSON, a document that is gone: page', async () => {
    assertPage(await authorize(s, docs.url('/badjson.json')), /not valid JSON/);
    assertPage(await authorize(s, docs.url('/gone.json')), /answered HTTP 404/);
  });

  test('a redirect_uri the document does not list: page, invalid_request', async () => {
    const r = await authorize(s, docs.url('/good.json'), { redirect_uri: 'http://127.0.0.1:9/other' });
    assertPage(r, /invalid_request.*not one of the client metadata document&#39;s redirect_uris/s);
  });

  test('plain http: refused except to a loopback host', async () => {
    assertPage(await authorize(s, 'http://example.com/client.json'), /must use https/);
    const local = `http://127.0.0.1:${plain.port}/local.json`;
    const a = await authorize(s, local);
    assert.equal(a.status, 302, a.body);
    assert.ok(a.location.searchParams.get('code'));
  });

  test('URL form: no path, a fragment, dot segments', async () => {
    assertPage(await authorize(s, docs.base), /must have a path/);
    assertPage(await authorize(s, `${docs.base}/`), /must have a path/);
    assertPage(await authorize(s, docs.url('/good.json#x')), /fragment/);
    assertPage(await authorize(s, docs.url('/a/../good.json')), /\. or \.\. path segments/);
  });

  test("the client's own document breaking a rule: invalid_client on its redirect URI, with iss", async () => {
    assertRedirectError(s, await authorize(s, docs.url('/secret.json')), 'invalid_client', /client_secret .*public document cannot keep a secret/);
    assertRedirectError(s, await authorize(s, docs.url('/basic.json')), 'invalid_client', /must be none/);
    assertRedirectError(s, await authorize(s, docs.url('/missing-name.json')), 'invalid_client', /client_name/);
  });

  test('iss on every error redirect: bad scope, no PKCE', async () => {
    const good = docs.url('/good.json');
    assertRedirectError(s, await authorize(s, good, { scope: 'nope' }), 'invalid_scope');
    assertRedirectError(s, await authorize(s, good, { code_challenge_method: 'plain' }), 'invalid_request');
  });

  test('token endpoint: a document that cannot be trusted is invalid_client', async () => {
    const r = await token(s, {
      grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43), client_id: docs.url('/mismatch.json'),
    });
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
    assert.match(r.body.error_description, /is not the document's URL .* byte for byte/);
  });

  test('stopping while a document is being fetched answers the waiting request and exits cleanly', async () => {
    const c = await startServe(['--dev', '--dev-auto-approve', '--stateless', '--cacert', ca.caFile]);
    const pending = authorize(c, docs.url('/slow.json')).catch((e) => ({ error: e }));
    await new Promise((r) => setTimeout(r, 500));
    const stopped = await c.stop();
    const r = await pending;
    assert.deepEqual(stopped, { code: 0, signal: null });
    if (!r.error) assertPage(r, /cannot fetch the client metadata document/);
  });

  test('after all of that the issuer still works', async () => {
    const t = await flow(s, docs.url('/refresh.json'));
    assert.ok(t.access_token);
    assert.equal((await fetch(s.url('/healthz'))).status, 200);
  });
});

/** `mcpauth token ARGS` with the test following the printed URL; returns {code, stdout, stderr}. */
async function tokenCommand(args, { follow = true } = {}) {
  const child = spawn(MCPAUTH_BIN, ['token', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ASAN_OPTIONS: process.env.ASAN_OPTIONS ?? '', UBSAN_OPTIONS: process.env.UBSAN_OPTIONS ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  try {
    const url = await new Promise((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (d) => {
        stderr += d;
        const m = /^ {2}(https?:\/\/\S+)$/m.exec(stderr);
        if (m) resolve(m[1]);
      });
      exited.then(() => resolve(null));
    });
    if (url && follow) {
      const a = await fetch(url, { redirect: 'manual' });
      assert.equal(a.status, 302, await a.text());
      await fetch(a.headers.get('location'));
    }
    return { code: await exited, stdout, stderr };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('mcpauth token --client-id https://... (a Client ID Metadata Document)', () => {
  let ca, docs, s, redirect;
  before(async () => {
    ca = makeTestCa();
    redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const self = (p, extra = {}) => (req, res, base) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ client_id: base + p, client_name: 'mcpauth token test', redirect_uris: [redirect], ...extra }));
    };
    docs = await startDocumentServer(ca, {
      '/cli.json': self('/cli.json', { grant_types: ['authorization_code', 'refresh_token'] }),
      '/secret.json': self('/secret.json', { client_secret: 'x' }),
    });
    s = await startServe(['--dev', '--dev-auto-approve', '--stateless', '--cacert', ca.caFile]);
  });
  after(async () => {
    const r = await s?.stop();
    await docs?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  test('completes the authorization code flow with PKCE as a public client; the token calls a tool', async () => {
    const r = await tokenCommand(['--issuer', s.origin, '--client-id', docs.url('/cli.json'), '-g', 'authorization_code',
      '--resource', s.resource, '--cacert', ca.caFile, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout);
    assert.ok(t.refresh_token);
    const call = await callTool(s, t.access_token);
    assert.equal(call.status, 200, call.text);
    assert.match(r.stderr, new RegExp(`waiting up to \\d+ s for the redirect to ${redirect.replace(/[.]/g, '\\.')}`));
  });

  test('refused with a clear message when the authorization server does not support documents', async () => {
    const plainAs = await startHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const o = `http://127.0.0.1:${req.socket.localPort}`;
      res.end(JSON.stringify({
        issuer: o, authorization_endpoint: `${o}/authorize`, token_endpoint: `${o}/token`,
        response_types_supported: ['code'], code_challenge_methods_supported: ['S256'],
      }));
    });
    try {
      const r = await tokenCommand(['--issuer', `http://127.0.0.1:${plainAs.port}`, '--client-id', docs.url('/cli.json'),
        '-g', 'authorization_code', '--resource', s.resource, '--cacert', ca.caFile], { follow: false });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /does not say client_id_metadata_document_supported/);
      assert.doesNotMatch(r.stderr, /open this URL/);
    } finally {
      await plainAs.stop();
    }
  });

  test('a broken document, a secret, a non-https id: refused before anything is sent to the server', async () => {
    let r = await tokenCommand(['--issuer', s.origin, '--client-id', docs.url('/secret.json'), '-g', 'authorization_code',
      '--resource', s.resource, '--cacert', ca.caFile], { follow: false });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /not usable \(no-client-secret\)/);
    r = await run(['token', '--issuer', s.origin, '--client-id', 'http://example.com/c.json', '-g', 'authorization_code']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /must use https/);
    r = await run(['token', '--issuer', s.origin, '--client-id', docs.url('/cli.json'), '-g', 'client_credentials']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /public/);
    r = await run(['token', '--issuer', s.origin, '--client-id', docs.url('/cli.json'), '-g', 'authorization_code'],
      { env: { MCPAUTH_CLIENT_SECRET: 'x' } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no client secret/);
  });
});
