// Integration tests for `mcpauth token` (issue 4, part 4): the real binary against fake,
// in-process authorization servers, with the test playing the browser for the
// authorization code grant. Node built-ins only (no npm install needed).
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/integration/token.test.mjs

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { run, startHttpServer, tmpDir, freePort, MCPAUTH_BIN, WRAPPER as MCPAUTH_WRAPPER, TIMEOUT_FACTOR as FACTOR } from '../lib/harness.mjs';
import { readBody, closedPort, sendJson as sendJsonWith } from '../lib/http.mjs';
import { describeRun, assertExit, assertFail as assertFailure } from '../lib/cli.mjs';

const assertFail = (r, code, re) =>
  assertFailure(r, code, re, { hint: /^Try 'mcpauth token --help/, stdoutEmpty: true });
// Token responses are never cached (RFC 6749 §5.1).
const sendJson = (res, status, doc, headers = {}) =>
  sendJsonWith(res, status, doc, { 'cache-control': 'no-store', ...headers });

const CLIENT_ID = 'my:client';
const SECRET = 's3cr3t p&c%=';
const ACCESS_TOKEN = 'AT-0123456789.abc_def~ghi/jkl+mno=';
const REFRESH_TOKEN = 'RT-refresh-9876543210';
const MCP = 'http://127.0.0.1:9/mcp';
const MCP2 = 'https://other.example/mcp?x=1';

// ---------------------------------------------------------------------------------------
// Assertions

/** None of the secrets of these tests may appear in `text`. */
function assertNoSecrets(text, extra = []) {
  for (const s of [SECRET, ACCESS_TOKEN, REFRESH_TOKEN, ...extra]) {
    assert.ok(!text.includes(s), `a secret (${s}) was printed:\n${text}`);
  }
}

// ---------------------------------------------------------------------------------------
// A fake authorization server: RFC 8414 metadata and a token endpoint that records what
// it gets.

function tokenResponse(extra = {}) {
  return {
    access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600, scope: 'mcp', ...extra,
  };
}

/**
 * metadata: extra members (or a function of srv); token(rec, res, srv): the token
 * endpoint's answer (default: tokenResponse()). srv.tokens lists the token requests:
 * {headers, body, form (URLSearchParams)}.
 */
async function startAS({ metadata = {}, token } = {}) {
  const tokens = [];
  const srv = await startHttpServer(async (req, res) => {
    const body = await readBody(req);
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
      const extra = typeof metadata === 'function' ? metadata(srv) : metadata;
      sendJson(res, 200, {
        issuer: srv.origin,
        authorization_endpoint: srv.url('/authorize'),
        token_endpoint: srv.url('/token'),
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        ...extra,
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      const rec = { headers: req.headers, body, form: new URLSearchParams(body) };
      tokens.push(rec);
      if (token) await token(rec, res, srv);
      else sendJson(res, 200, tokenResponse());
      return;
    }
    sendJson(res, 404, { error: 'not_found' });
  });
  srv.tokens = tokens;
  return srv;
}

function basicHeader(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

function writePrivate(file, doc) {
  fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/** A credentials file as `mcpauth register -o` writes it. */
function credentials(dir, issuer, client = {}) {
  return writePrivate(path.join(dir, `client-${crypto.randomUUID()}.json`), {
    version: 1,
    issuer,
    registration_endpoint: `${issuer}/register`,
    client: {
      client_id: CLIENT_ID,
      client_secret: SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      scope: 'mcp offline_access',
      ...client,
    },
  });
}

function modeOf(file) {
  return fs.statSync(file).mode & 0o777;
}

// ---------------------------------------------------------------------------------------
// The authorization code grant: mcpauth runs as a child; the test reads the URL from its
// stderr and plays the browser.

const WRAPPER = [...MCPAUTH_WRAPPER];
// The wrapper (valgrind) is found on the test's PATH: some tests give mcpauth another one.
if (WRAPPER.length && !WRAPPER[0].includes('/')) {
  const found = (process.env.PATH ?? '').split(':')
    .map((d) => path.join(d, WRAPPER[0])).find((f) => fs.existsSync(f));
  if (found) WRAPPER[0] = found;
}

/**
 * Start `mcpauth token ...args` and resolve once it printed the authorization URL (or
 * exited). Returns {url, params, result: Promise<run()-like result>, stderr()}.
 */
async function startToken(args, { env = {} } = {}) {
  const childEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) {
    if (process.env[k] !== undefined) childEnv[k] = process.env[k];
  }
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const argv = [...WRAPPER, MCPAUTH_BIN, 'token', ...args];
  const child = spawn(argv[0], argv.slice(1), { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8');
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, 30000 * FACTOR);
  const result = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  const url = await new Promise((resolve) => {
    const check = () => {
      const m = /^ {2}(https?:\/\/\S+)$/m.exec(stderr);
      if (m) resolve(m[1]);
    };
    child.stderr.on('data', (d) => { stderr += d; check(); });
    result.then(() => resolve(null));
  });
  // The listener is up before the URL is printed.
  return {
    url,
    params: url ? new URL(url).searchParams : null,
    result,
    stderr: () => stderr,
    kill: () => child.kill('SIGKILL'),
  };
}

/** The browser's request to the redirect URI, with these query parameters. */
async function redirect(redirectUri, params) {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) u.searchParams.append(k, v);
  const res = await fetch(u, { redirect: 'manual' });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function s256(verifier) {
  return crypto.createHash('sha256').update(verifier).digest('base64url');
}

// ---------------------------------------------------------------------------------------

describe('command line', () => {
  test('--help lists every option, the grants and the exit codes', async () => {
    const r = await run(['token', '--help']);
    assertExit(r, 0);
    assert.equal(r.stderr, '');
    for (const o of ['--issuer', '--credentials', '--client-id', '--client-secret-file',
      '--auth-method', '--grant', '--scope', '--resource', '--refresh-token-file',
      '--redirect-uri', '--open', '--wait-timeout', '--json', '--output', '--force',
      '--timeout', '--cacert', '--insecure', '--allow-http', '--verbose', '--help']) {
      assert.match(r.stdout, new RegExp(`^\\s+(-\\w, )?${o}(\\s|$)`, 'm'), `--help lacks ${o}`);
    }
    for (const g of ['client_credentials', 'authorization_code', 'refresh_token']) {
      assert.match(r.stdout, new RegExp(`^\\s+${g}\\s+\\S`, 'm'));
    }
    assert.match(r.stdout, /MCPAUTH_CLIENT_SECRET/);
    assert.match(r.stdout, /access_denied/);
    assert.match(r.stdout, /^Exit status:/m);
    const top = await run(['--help']);
    assert.match(top.stdout, /^\s+token\s+obtain access tokens/m);
  });

  test('the mcpauth-token link runs the subcommand', async () => {
    const dir = tmpDir();
    const link = path.join(dir, 'mcpauth-token');
    fs.symlinkSync(MCPAUTH_BIN, link);
    const r = await run(['--help'], { bin: link });
    assertExit(r, 0);
    assert.match(r.stdout, /^Usage: mcpauth token/);
  });

  test('usage errors: exit 2 before anything is sent', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const dir = tmpDir();
    const creds = credentials(dir, as.origin);
    const cases = [
      [['-c', creds], /say which grant/],
      [['-c', creds, '--grant', 'password'], /--grant: 'password' is not/],
      [['--grant', 'client_credentials', '--issuer', as.origin], /say which client/],
      [['-c', creds, '--grant', 'refresh_token'], /needs --refresh-token-file/],
      [['-c', creds, '--grant', 'client_credentials', '--refresh-token-file', creds], /goes with --grant refresh_token/],
      [['-c', creds, '--grant', 'client_credentials', '--redirect-uri', 'http://127.0.0.1:1/cb'], /go with --grant authorization_code/],
      [['-c', creds, '--grant', 'client_credentials', '--open'], /go with --grant authorization_code/],
      [['-c', creds, '--grant', 'client_credentials', '--wait-timeout', '5'], /go with --grant authorization_code/],
      [['-c', creds, '--grant', 'client_credentials', '--force'], /--force goes with --output/],
      [['-c', creds, '--grant', 'client_credentials', '--auth-method', 'private_key_jwt'], /--auth-method: 'private_key_jwt'/],
      [['-c', creds, '--grant', 'authorization_code', '--wait-timeout', '0'], /--wait-timeout/],
      [['-c', creds, '--grant', 'client_credentials', '--resource', 'https://mcp.example/mcp#frag'], /fragment/],
      [['-c', creds, '--grant', 'client_credentials', '--resource', 'not a url'], /--resource/],
      [['-c', creds, '--grant', 'client_credentials', '--issuer', 'http://as.example'], /refusing plain http/],
      [['-c', creds, '--grant', 'client_credentials', 'extra'], /unexpected argument 'extra'/],
      [['-c', creds, '--grant', 'client_credentials', '--issuer', 'http://127.0.0.1:1/other'], /is not the issuer/],
      [['--issuer', as.origin, '--client-id', 'x', '--grant', 'client_credentials', '--auth-method', 'client_secret_post'], /needs the client secret/],
      [['--issuer', as.origin, '--client-id', 'x', '--grant', 'client_credentials', '--auth-method', 'client_secret_basic'], /needs the client secret/],
      [['--client-id', 'x', '--grant', 'client_credentials'], /say which authorization server/],
    ];
    for (const [args, re] of cases) {
      const r = await run(['token', ...args]);
      assertFail(r, 2, re);
    }
    assert.equal(as.tokens.length, 0, 'a usage error sent a token request');
  });

  test('no option takes a secret on the command line', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    for (const opt of ['--client-secret', '--refresh-token', '--code', '--client-secret-fil']) {
      const r = await run(['token', '--issuer', as.origin, '--client-id', 'x', '--grant',
        'client_credentials', opt, 'ARGV-SECRET']);
      assertFail(r, 2, /unknown option/);
      assert.ok(!r.stderr.includes('ARGV-SECRET'), r.stderr);
    }
    assert.equal(as.tokens.length, 0);
  });
});

describe('client credentials', () => {
  test('Basic authentication with form-encoded id and secret, scope and resources', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const r = await run(['token', '--issuer', as.origin, '--client-id', CLIENT_ID,
      '--grant', 'client_credentials', '--scope', 'mcp read', '--resource', MCP, '--resource', MCP2],
    { env: { MCPAUTH_CLIENT_SECRET: SECRET } });
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    assert.equal(r.stderr, '');
    assert.equal(as.tokens.length, 1);
    const [req] = as.tokens;
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.match(req.headers.accept, /application\/json/);
    // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    assert.equal(req.headers.authorization, basicHeader(CLIENT_ID, SECRET));
    assert.equal(Buffer.from(req.headers.authorization.slice(6), 'base64').toString(),
      'my%3Aclient:s3cr3t+p%26c%25%3D');
    assert.equal(req.body, 'grant_type=client_credentials&scope=mcp+read'
      + '&resource=http%3A%2F%2F127.0.0.1%3A9%2Fmcp'
      + '&resource=https%3A%2F%2Fother.example%2Fmcp%3Fx%3D1');
  });

  test('client_secret_post from the credentials file, with its issuer and scope', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const creds = credentials(tmpDir(), as.origin, { token_endpoint_auth_method: 'client_secret_post' });
    const r = await run(['token', '-c', creds, '-g', 'client_credentials']);
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    const [req] = as.tokens;
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.form.get('client_id'), CLIENT_ID);
    assert.equal(req.form.get('client_secret'), SECRET);
    assert.equal(req.form.get('scope'), 'mcp offline_access'); // the registered scope
    assert.deepEqual(req.form.getAll('resource'), []);
  });

  test('--auth-method overrides the registered method; none sends no secret', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const creds = credentials(tmpDir(), as.origin);
    let r = await run(['token', '-c', creds, '-g', 'client_credentials', '--auth-method', 'none'],
      { env: { MCPAUTH_CLIENT_SECRET: 'env-secret' } });
    assertExit(r, 0);
    let req = as.tokens.at(-1);
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.form.get('client_id'), CLIENT_ID);
    assert.equal(req.form.get('client_secret'), null);
    assert.ok(!req.body.includes('secret'));
    r = await run(['token', '-c', creds, '-g', 'client_credentials', '--auth-method', 'client_secret_post']);
    assertExit(r, 0);
    req = as.tokens.at(-1);
    assert.equal(req.form.get('client_secret'), SECRET);
  });

  test('a public client (no secret anywhere) authenticates with none', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const r = await run(['token', '--issuer', as.origin, '--client-id', 'pub', '-g', 'client_credentials']);
    assertExit(r, 0);
    const [req] = as.tokens;
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.body, 'grant_type=client_credentials&client_id=pub');
  });

  test('--client-secret-file wins over the environment and the credentials file', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const dir = tmpDir();
    const creds = credentials(dir, as.origin);
    const file = writePrivate(path.join(dir, 'secret.txt'), '  file-secret\n');
    const r = await run(['token', '-c', creds, '-g', 'client_credentials', '--client-secret-file', file],
      { env: { MCPAUTH_CLIENT_SECRET: 'env-secret' } });
    assertExit(r, 0);
    assert.equal(as.tokens[0].headers.authorization, basicHeader(CLIENT_ID, 'file-secret'));
    // The environment fills in a secret the credentials file lacks.
    const noSecret = credentials(dir, as.origin, { client_secret: undefined });
    const r2 = await run(['token', '-c', noSecret, '-g', 'client_credentials'],
      { env: { MCPAUTH_CLIENT_SECRET: 'env-secret' } });
    assertExit(r2, 0);
    assert.equal(as.tokens[1].headers.authorization, basicHeader(CLIENT_ID, 'env-secret'));
  });

  test('a registered method mcpauth does not speak is a configuration error', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const creds = credentials(tmpDir(), as.origin, { token_endpoint_auth_method: 'private_key_jwt' });
    const r = await run(['token', '-c', creds, '-g', 'client_credentials']);
    assertFail(r, 5, /private_key_jwt.*--auth-method/);
    assert.equal(as.tokens.length, 0);
  });

  test('--json prints the whole response', async (t) => {
    const as = await startAS({ token: (rec, res) => sendJson(res, 200, tokenResponse({ extra: { a: 1 } })) });
    t.after(() => as.stop());
    const r = await run(['token', '--issuer', as.origin, '--client-id', CLIENT_ID, '-g',
      'client_credentials', '--json'], { env: { MCPAUTH_CLIENT_SECRET: SECRET } });
    assertExit(r, 0);
    assert.deepEqual(JSON.parse(r.stdout), tokenResponse({ extra: { a: 1 } }));
    assert.equal(r.stderr, '');
  });
});

describe('errors', () => {
  async function tokenWith(answer, extraArgs = []) {
    const as = await startAS({ token: answer });
    try {
      return await run(['token', '--issuer', as.origin, '--client-id', CLIENT_ID, '-g',
        'client_credentials', ...extraArgs], { env: { MCPAUTH_CLIENT_SECRET: SECRET } });
    } finally {
      await as.stop();
    }
  }

  test('an OAuth error response: exit 4 with error and error_description', async () => {
    let r = await tokenWith((rec, res) => sendJson(res, 401, {
      error: 'invalid_client', error_description: 'client authentication failed',
    }));
    assertFail(r, 4, /token request to http:\/\/127\.0\.0\.1:\d+\/token failed: HTTP 401 Unauthorized: invalid_client: client authentication failed$/);
    assertNoSecrets(r.stderr);
    r = await tokenWith((rec, res) => sendJson(res, 400, { error: 'invalid_target' }));
    assertFail(r, 4, /HTTP 400 Bad Request: invalid_target$/);
    r = await tokenWith((rec, res) => sendJson(res, 400, { error: 'invalid_scope', error_description: 'bad\n\u001b[2Jscope' }));
    assertFail(r, 4, /invalid_scope/);
    assert.ok(!r.stderr.includes('\u001b'));
  });

  test('a server echoing the request does not get the secret onto stderr', async () => {
    const r = await tokenWith((rec, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${rec.headers.authorization}\n${rec.body}`);
    }, ['--auth-method', 'client_secret_post', '-v']);
    assertExit(r, 4);
    assert.match(r.stderr, /HTTP 500 Internal Server Error \(\d+-byte body without an OAuth error\)/);
    assertNoSecrets(r.stderr, [encodeURIComponent(SECRET), 's3cr3t']);
  });

  test('malformed success responses: exit 4, nothing on stdout', async () => {
    const bodies = [
      'not json',
      { token_type: 'Bearer' },
      { access_token: ACCESS_TOKEN },
      { access_token: ACCESS_TOKEN, token_type: 'DPoP' },
      { access_token: 'two\nlines', token_type: 'Bearer' },
      { access_token: 'a b', token_type: 'Bearer' },
      { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 'soon' },
      { access_token: ACCESS_TOKEN, token_type: 'Bearer', refresh_token: 12 },
    ];
    for (const body of bodies) {
      const r = await tokenWith((rec, res) => sendJson(res, 200, body));
      assertFail(r, 4, /token/);
      assert.ok(!r.stderr.includes('two\nlines'));
    }
  });

  test('network failures: exit 3', async () => {
    const port = await closedPort();
    let r = await run(['token', '--issuer', `http://127.0.0.1:${port}`, '--client-id', 'x',
      '-g', 'client_credentials', '--auth-method', 'none']);
    assertFail(r, 3, /./);
    const as = await startAS({ metadata: { token_endpoint: `http://127.0.0.1:${port}/token` } });
    r = await run(['token', '--issuer', as.origin, '--client-id', 'x', '-g', 'client_credentials',
      '--auth-method', 'none']);
    await as.stop();
    assertFail(r, 3, /./);
  });

  test('metadata without a token_endpoint, or with a plain-http one elsewhere: exit 4', async () => {
    for (const [metadata, re] of [
      [{ token_endpoint: undefined }, /advertises no token_endpoint/],
      [{ token_endpoint: 'http://as.example/token' }, /refusing plain http/],
    ]) {
      const as = await startAS({ metadata });
      const r = await run(['token', '--issuer', as.origin, '--client-id', 'x', '-g',
        'client_credentials', '--auth-method', 'none']);
      await as.stop();
      assertFail(r, 4, re);
    }
  });

  test('file errors: exit 5', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const dir = tmpDir();
    let r = await run(['token', '-c', path.join(dir, 'missing.json'), '-g', 'client_credentials']);
    assertFail(r, 5, /missing\.json/);
    r = await run(['token', '--issuer', as.origin, '--client-id', 'x', '-g', 'client_credentials',
      '--client-secret-file', path.join(dir, 'nope.txt')]);
    assertFail(r, 5, /nope\.txt/);
    r = await run(['token', '--issuer', as.origin, '--client-id', 'x', '--refresh-token-file',
      writePrivate(path.join(dir, 'empty.txt'), '\n')]);
    assertFail(r, 5, /does not hold a refresh token/);
    r = await run(['token', '--issuer', as.origin, '--client-id', 'x', '--refresh-token-file',
      writePrivate(path.join(dir, 'nort.json'), { access_token: 'x' })]);
    assertFail(r, 5, /holds no refresh_token/);
    assert.equal(as.tokens.length, 0);
  });
});

describe('-v and output', () => {
  test('-v shows requests and statuses, never secrets, codes or tokens', async (t) => {
    const as = await startAS({ token: (rec, res) => sendJson(res, 200, tokenResponse({ refresh_token: REFRESH_TOKEN })) });
    t.after(() => as.stop());
    const dir = tmpDir();
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const r = await run(['token', '-c', credentials(dir, as.origin), '-g', 'client_credentials',
        '--auth-method', method, '-v', '-o', path.join(dir, `${method}.json`)]);
      assertExit(r, 0);
      assert.match(r.stderr, /^> GET http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-authorization-server$/m);
      assert.match(r.stderr, /^> POST http:\/\/127\.0\.0\.1:\d+\/token$/m);
      assert.match(r.stderr, /^> Content-Type: application\/x-www-form-urlencoded \(\d+ bytes\)$/m);
      assert.match(r.stderr, /^< HTTP 200 OK \(\d+ bytes\)$/m);
      if (method === 'client_secret_basic') assert.match(r.stderr, /^> Authorization: \[redacted\]$/m);
      assertNoSecrets(r.stderr + r.stdout, [encodeURIComponent(SECRET), 'grant_type=']);
    }
  });

  test('--output: mode 0600, tokens, issuer, client and expiry; no overwrite without --force', async (t) => {
    const as = await startAS({ token: (rec, res) => sendJson(res, 200, tokenResponse({ refresh_token: REFRESH_TOKEN })) });
    t.after(() => as.stop());
    const dir = tmpDir();
    const creds = credentials(dir, as.origin);
    const out = path.join(dir, 'tokens.json');
    const before = Math.floor(Date.now() / 1000);
    let r = await run(['token', '-c', creds, '-g', 'client_credentials', '-o', out]);
    assertExit(r, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, '');
    assert.equal(modeOf(out), 0o600);
    const saved = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(saved.access_token, ACCESS_TOKEN);
    assert.equal(saved.refresh_token, REFRESH_TOKEN);
    assert.equal(saved.token_type, 'Bearer');
    assert.equal(saved.issuer, as.origin);
    assert.equal(saved.client_id, CLIENT_ID);
    assert.equal(saved.token_endpoint, as.url('/token'));
    assert.ok(saved.expires_at >= before + 3600 && saved.expires_at <= Math.floor(Date.now() / 1000) + 3600);
    assert.equal(saved.expires_at - saved.obtained_at, 3600);

    // An existing file: refused before anything is sent.
    const sent = as.tokens.length;
    r = await run(['token', '-c', creds, '-g', 'client_credentials', '-o', out]);
    assertFail(r, 5, /refusing to overwrite existing file .*tokens\.json \(use --force\)/);
    assert.equal(as.tokens.length, sent);
    r = await run(['token', '-c', creds, '-g', 'client_credentials', '-o', out, '--force', '--json']);
    assertExit(r, 0);
    assert.equal(JSON.parse(r.stdout).access_token, ACCESS_TOKEN);
    assert.equal(modeOf(out), 0o600);
    // A directory that cannot be written: refused early as well.
    r = await run(['token', '-c', creds, '-g', 'client_credentials', '-o', path.join(dir, 'no/such/dir.json')]);
    assertFail(r, 5, /not writable|cannot/);
  });
});

describe('refresh token', () => {
  test('from a plain file; the answer without a new refresh token keeps the old one', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const dir = tmpDir();
    const creds = credentials(dir, as.origin);
    const rt = writePrivate(path.join(dir, 'rt.txt'), `${REFRESH_TOKEN}\n`);
    const out = path.join(dir, 'tokens.json');
    const r = await run(['token', '-c', creds, '--refresh-token-file', rt, '-o', out, '--scope', 'mcp']);
    assertExit(r, 0);
    const [req] = as.tokens;
    assert.equal(req.body, `grant_type=refresh_token&refresh_token=${REFRESH_TOKEN}&scope=mcp`);
    assert.equal(req.headers.authorization, basicHeader(CLIENT_ID, SECRET));
    assert.equal(JSON.parse(fs.readFileSync(out, 'utf8')).refresh_token, REFRESH_TOKEN);
  });

  test('from an --output file, rotated in place; its issuer and client come along', async (t) => {
    let n = 0;
    const as = await startAS({
      token: (rec, res) => {
        n += 1;
        sendJson(res, 200, tokenResponse({ access_token: `AT-${n}`, refresh_token: `RT-${n}` }));
      },
    });
    t.after(() => as.stop());
    const dir = tmpDir();
    const out = path.join(dir, 'tokens.json');
    // A public client: no credentials file at all.
    let r = await run(['token', '--issuer', as.origin, '--client-id', 'pub', '-g', 'client_credentials', '-o', out]);
    assertExit(r, 0);
    r = await run(['token', '--refresh-token-file', out, '-o', out, '--force']);
    assertExit(r, 0);
    assert.equal(as.tokens[1].body, 'grant_type=refresh_token&refresh_token=RT-1&client_id=pub');
    let saved = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(saved.access_token, 'AT-2');
    assert.equal(saved.refresh_token, 'RT-2');
    r = await run(['token', '-g', 'refresh_token', '--refresh-token-file', out]);
    assertExit(r, 0);
    assert.equal(r.stdout, 'AT-3\n');
    assert.match(as.tokens[2].body, /refresh_token=RT-2/);
    saved = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(saved.refresh_token, 'RT-2'); // not asked to save this time
  });

  test('a refresh token is not sent to another issuer or for another client', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const dir = tmpDir();
    const saved = writePrivate(path.join(dir, 'tokens.json'), {
      refresh_token: REFRESH_TOKEN, issuer: 'http://127.0.0.1:1', client_id: CLIENT_ID,
    });
    let r = await run(['token', '--issuer', as.origin, '--refresh-token-file', saved]);
    assertFail(r, 2, /--issuer .* is not the issuer http:\/\/127\.0\.0\.1:1/);
    r = await run(['token', '-c', credentials(dir, as.origin), '--refresh-token-file', saved]);
    assertFail(r, 5, /names issuer/);
    const other = writePrivate(path.join(dir, 'other.json'), {
      refresh_token: REFRESH_TOKEN, issuer: as.origin, client_id: 'someone-else',
    });
    r = await run(['token', '-c', credentials(dir, as.origin), '--refresh-token-file', other]);
    assertFail(r, 5, /refresh token of client someone-else/);
    assert.equal(as.tokens.length, 0);
    assertNoSecrets(r.stderr);
  });

  test('invalid_grant: exit 4', async (t) => {
    const as = await startAS({ token: (rec, res) => sendJson(res, 400, { error: 'invalid_grant', error_description: 'grant request is invalid' }) });
    t.after(() => as.stop());
    const dir = tmpDir();
    const r = await run(['token', '-c', credentials(dir, as.origin), '--refresh-token-file',
      writePrivate(path.join(dir, 'rt'), REFRESH_TOKEN)]);
    assertFail(r, 4, /invalid_grant: grant request is invalid/);
    assertNoSecrets(r.stderr);
  });
});

describe('authorization code', () => {
  async function setup({ metadata, token, client = {} } = {}) {
    const as = await startAS({ metadata, token });
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const dir = tmpDir();
    const creds = credentials(dir, as.origin, {
      redirect_uris: ['https://app.example/cb', redirectUri, 'http://localhost:1/other'],
      ...client,
    });
    return { as, port, redirectUri, dir, creds };
  }

  test('the whole flow: URL, loopback redirect, code exchange with the verifier', async (t) => {
    const { as, redirectUri, creds } = await setup({
      metadata: { authorization_response_iss_parameter_supported: true },
    });
    t.after(() => as.stop());
    const flow = await startToken(['-c', creds, '-g', 'authorization_code', '--resource', MCP,
      '--resource', MCP2, '--scope', 'mcp offline_access']);
    assert.ok(flow.url, flow.stderr());
    const u = new URL(flow.url);
    assert.equal(u.origin + u.pathname, as.url('/authorize'));
    const p = flow.params;
    assert.equal(p.get('response_type'), 'code');
    assert.equal(p.get('client_id'), CLIENT_ID);
    assert.equal(p.get('redirect_uri'), redirectUri); // the first loopback http one registered
    assert.equal(p.get('scope'), 'mcp offline_access');
    assert.equal(p.get('code_challenge_method'), 'S256');
    assert.match(p.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(p.get('state'), /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(p.getAll('resource'), [MCP, MCP2]);
    assert.match(flow.stderr(), /open this URL in a browser/);

    const page = await redirect(redirectUri, { code: 'the-code', state: p.get('state'), iss: as.origin });
    assert.equal(page.status, 200);
    assert.match(page.body, /You can close this window/);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(page.headers.get('cache-control'), 'no-store');

    const r = await flow.result;
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    assert.ok(!r.stderr.includes('the-code'));
    assertNoSecrets(r.stderr);
    const [req] = as.tokens;
    assert.equal(req.form.get('grant_type'), 'authorization_code');
    assert.equal(req.form.get('code'), 'the-code');
    assert.equal(req.form.get('redirect_uri'), redirectUri);
    const verifier = req.form.get('code_verifier');
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(s256(verifier), p.get('code_challenge'));
    assert.deepEqual(req.form.getAll('resource'), [MCP, MCP2]);
    assert.equal(req.form.get('scope'), null);
    assert.equal(req.headers.authorization, basicHeader(CLIENT_ID, SECRET));
    assert.ok(!r.stderr.includes(verifier));
  });

  test('other paths get 404 and the bare path 400; the listener keeps waiting', async (t) => {
    const { as, redirectUri, creds } = await setup();
    t.after(() => as.stop());
    const flow = await startToken(['-c', creds, '-g', 'authorization_code', '-v']);
    const origin = new URL(redirectUri).origin;
    let res = await fetch(`${origin}/favicon.ico`);
    assert.equal(res.status, 404);
    await res.text();
    res = await fetch(redirectUri);
    assert.equal(res.status, 400);
    await res.text();
    res = await fetch(`${redirectUri}?utm=1`, { method: 'POST' });
    assert.equal(res.status, 405);
    await res.text();
    const page = await redirect(redirectUri, { state: flow.params.get('state'), code: 'c-2' });
    assert.equal(page.status, 200);
    const r = await flow.result;
    assertExit(r, 0);
    assert.match(r.stderr, /^< GET "\/favicon\.ico" \(redirect listener\)$/m);
    assert.match(r.stderr, /^< GET "\/callback" \(redirect listener\)$/m);
    assert.ok(!r.stderr.includes('c-2'), 'the code was logged');
    // The query is never logged (the state is in the printed authorization URL only).
    const listenerLines = r.stderr.split('\n').filter((l) => l.includes('(redirect listener)'));
    assert.equal(listenerLines.length, 4);
    assert.ok(!listenerLines.some((l) => l.includes('?') || l.includes(flow.params.get('state'))));
  });

  test('a state mismatch is rejected (exit 4) and no code is redeemed', async (t) => {
    const { as, redirectUri, creds } = await setup();
    t.after(() => as.stop());
    const flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    const page = await redirect(redirectUri, { code: 'forged-code', state: 'not-the-state' });
    assert.equal(page.status, 400);
    assert.match(page.body, /Authorization failed/);
    const r = await flow.result;
    assertExit(r, 4);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trimEnd().split('\n').at(-1), /state does not match the request/);
    assert.ok(!r.stderr.includes('forged-code'));
    assert.equal(as.tokens.length, 0);
  });

  test('an iss mismatch (RFC 9207) is rejected; so is a missing iss when advertised', async (t) => {
    const { as, redirectUri, creds } = await setup({
      metadata: { authorization_response_iss_parameter_supported: true },
    });
    t.after(() => as.stop());
    let flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    let page = await redirect(redirectUri, { code: 'c', state: flow.params.get('state'), iss: 'https://evil.example' });
    assert.equal(page.status, 400);
    let r = await flow.result;
    assertExit(r, 4);
    assert.match(r.stderr, /issuer "https:\/\/evil\.example", not "http:\/\/127\.0\.0\.1:\d+" \(RFC 9207/);
    flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    page = await redirect(redirectUri, { code: 'c', state: flow.params.get('state') });
    r = await flow.result;
    assertExit(r, 4);
    assert.match(r.stderr, /has no iss/);
    assert.equal(as.tokens.length, 0);
  });

  test('an iss that differs is rejected even when not advertised', async (t) => {
    const { as, redirectUri, creds } = await setup();
    t.after(() => as.stop());
    const flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    await redirect(redirectUri, { code: 'c', state: flow.params.get('state'), iss: `${as.origin}/x` });
    const r = await flow.result;
    assertExit(r, 4);
    assert.equal(as.tokens.length, 0);
  });

  test('access_denied is a negative answer (exit 1); other errors exit 4', async (t) => {
    const { as, redirectUri, creds } = await setup();
    t.after(() => as.stop());
    let flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    let page = await redirect(redirectUri, {
      error: 'access_denied', error_description: 'End-User aborted interaction', state: flow.params.get('state'),
    });
    assert.equal(page.status, 200);
    assert.match(page.body, /Authorization denied/);
    let r = await flow.result;
    assertExit(r, 1);
    assert.match(r.stderr, /error "access_denied": "End-User aborted interaction" \(the user or the server declined\)$/m);
    flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    page = await redirect(redirectUri, { error: 'invalid_scope', state: flow.params.get('state') });
    r = await flow.result;
    assertExit(r, 4);
    assert.match(r.stderr, /invalid_scope/);
    // An error with the wrong state is a forgery, not an answer.
    flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    await redirect(redirectUri, { error: 'access_denied', state: 'wrong' });
    r = await flow.result;
    assertExit(r, 4);
    assert.equal(as.tokens.length, 0);
  });

  test('refused without S256 in code_challenge_methods_supported: nothing is listened on', async (t) => {
    for (const methods of [undefined, ['plain'], 'S256']) {
      const { as, creds } = await setup({ metadata: { code_challenge_methods_supported: methods } });
      const r = await run(['token', '-c', creds, '-g', 'authorization_code']);
      await as.stop();
      assertFail(r, 4, /does not list S256 in code_challenge_methods_supported/);
    }
  });

  test('the code exchange failing: exit 4', async (t) => {
    const { as, redirectUri, creds } = await setup({
      token: (rec, res) => sendJson(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' }),
    });
    t.after(() => as.stop());
    const flow = await startToken(['-c', creds, '-g', 'authorization_code']);
    await redirect(redirectUri, { code: 'c', state: flow.params.get('state') });
    const r = await flow.result;
    assertExit(r, 4);
    assert.match(r.stderr, /invalid_grant: PKCE verification failed/);
  });

  test('--wait-timeout: no redirect in time is exit 3', async (t) => {
    const { as, creds } = await setup();
    t.after(() => as.stop());
    const started = Date.now();
    const r = await run(['token', '-c', creds, '-g', 'authorization_code', '--wait-timeout', '1']);
    assertExit(r, 3);
    assert.match(r.stderr.trimEnd().split('\n').at(-1), /no authorization response arrived at .* within 1 seconds/);
    assert.ok(Date.now() - started >= 900);
  });

  test('a redirect port in use is exit 5; a non-loopback redirect URI exit 2', async (t) => {
    const { as, port, creds } = await setup();
    t.after(() => as.stop());
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => blocker.close(resolve)));
    let r = await run(['token', '-c', creds, '-g', 'authorization_code']);
    assertFail(r, 5, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for the redirect URI`));
    r = await run(['token', '-c', creds, '-g', 'authorization_code', '--redirect-uri', 'https://app.example/cb']);
    assertFail(r, 2, /loopback/);
    const noLoopback = credentials(tmpDir(), as.origin, { redirect_uris: ['https://app.example/cb'] });
    r = await run(['token', '-c', noLoopback, '-g', 'authorization_code']);
    assertFail(r, 2, /no loopback redirect URI/);
  });

  test('--redirect-uri on localhost, and a public client', async (t) => {
    const as = await startAS();
    t.after(() => as.stop());
    const port = await freePort();
    const redirectUri = `http://localhost:${port}/cb/path`;
    const flow = await startToken(['--issuer', as.origin, '--client-id', 'pub', '-g',
      'authorization_code', '--redirect-uri', redirectUri]);
    assert.equal(flow.params.get('redirect_uri'), redirectUri);
    assert.equal(flow.params.get('scope'), null);
    // The browser may reach localhost over IPv4 (and IPv6, where there is one).
    await redirect(`http://127.0.0.1:${port}/cb/path`, { code: 'pc', state: flow.params.get('state') });
    const r = await flow.result;
    assertExit(r, 0);
    const [req] = as.tokens;
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.form.get('client_id'), 'pub');
    assert.equal(req.form.get('redirect_uri'), redirectUri);
  });

  test('--open runs xdg-open with the URL; its output stays off stdout', async (t) => {
    const { as, redirectUri, creds, dir } = await setup();
    t.after(() => as.stop());
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const record = path.join(dir, 'opened.txt');
    fs.writeFileSync(path.join(bin, 'xdg-open'),
      `#!/bin/sh\necho "noise on stdout"\necho "noise on stderr" >&2\nprintf '%s' "$1" > '${record}'\n`,
      { mode: 0o755 });
    const flow = await startToken(['-c', creds, '-g', 'authorization_code', '--open'],
      { env: { PATH: `${bin}:${process.env.PATH}` } });
    for (let i = 0; i < 100 && !fs.existsSync(record); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.readFileSync(record, 'utf8'), flow.url);
    await redirect(redirectUri, { code: 'c', state: flow.params.get('state') });
    const r = await flow.result;
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    assert.ok(!r.stderr.includes('noise'));
  });

  test('--open without xdg-open warns and goes on', async (t) => {
    const { as, redirectUri, creds, dir } = await setup();
    t.after(() => as.stop());
    const empty = path.join(dir, 'empty-bin');
    fs.mkdirSync(empty);
    const flow = await startToken(['-c', creds, '-g', 'authorization_code', '--open'],
      { env: { PATH: empty } });
    await redirect(redirectUri, { code: 'c', state: flow.params.get('state') });
    const r = await flow.result;
    assertExit(r, 0);
    assert.match(r.stderr, /warning: cannot open a browser/);
  });
});

// ---------------------------------------------------------------------------------------
// Issuer binding (MCP 2026-07-28 Client Registration §Authorization Server Binding): the
// credentials in a file belong to the issuer that issued them; a --resource whose metadata
// names another authorization server must not get them used.

/** A protected MCP server whose RFC 9728 metadata names `servers` (401 on anything else). */
async function startResource(servers) {
  const srv = await startHttpServer(async (req, res) => {
    await readBody(req);
    if (req.method === 'GET' && req.url === '/.well-known/oauth-protected-resource/mcp') {
      sendJson(res, 200, { resource: srv.url('/mcp'), authorization_servers: servers() });
      return;
    }
    res.writeHead(401, {
      'www-authenticate': `Bearer resource_metadata="${srv.url('/.well-known/oauth-protected-resource/mcp')}"`,
    });
    res.end();
  });
  return srv;
}

/** A server that only counts what it gets: the authorization server that must hear nothing. */
async function startCounter() {
  const srv = await startHttpServer(async (req, res) => {
    srv.requests.push(`${req.method} ${req.url}`);
    await readBody(req);
    sendJson(res, 404, { error: 'not_found' });
  });
  srv.requests = [];
  return srv;
}

describe('issuer binding', () => {
  test('-c from issuer A, --resource naming B: exit 5 saying how to register again, nothing sent to A or B', async (t) => {
    const a = await startAS();
    t.after(() => a.stop());
    const b = await startCounter();
    t.after(() => b.stop());
    const rs = await startResource(() => [b.origin]);
    t.after(() => rs.stop());
    const creds = credentials(tmpDir(), a.origin);
    for (const grant of [['-g', 'client_credentials'], ['-g', 'authorization_code', '--wait-timeout', '1']]) {
      const r = await run(['token', '-c', creds, ...grant, '--resource', rs.url('/mcp')]);
      assertExit(r, 5);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.equal(lines[0], `mcpauth token: ${creds} was registered at ${a.origin}, but `
        + `${rs.url('/.well-known/oauth-protected-resource/mcp')} names "${b.origin}" as the authorization `
        + 'server: client credentials are bound to the server that issued them; register again: '
        + `mcpauth register --issuer "${b.origin}" -o ${creds} --force`);
      assert.equal(r.stdout, '');
      assertNoSecrets(r.stderr);
    }
    assert.deepEqual(b.requests, []);
    assert.deepEqual(a.tokens, []);
  });

  test('a refresh token file from issuer A is bound the same way', async (t) => {
    const a = await startAS();
    t.after(() => a.stop());
    const b = await startCounter();
    t.after(() => b.stop());
    const rs = await startResource(() => [b.origin]);
    t.after(() => rs.stop());
    const saved = writePrivate(path.join(tmpDir(), 'tok.json'), {
      refresh_token: REFRESH_TOKEN, issuer: a.origin, client_id: 'pub',
    });
    const r = await run(['token', '--refresh-token-file', saved, '--auth-method', 'none', '--resource', rs.url('/mcp')]);
    assertExit(r, 5);
    assert.match(r.stderr, /^mcpauth token: \S+tok\.json holds a refresh token from http:\/\/127\.0\.0\.1:\d+, but \S+ names "http:\/\/127\.0\.0\.1:\d+" as the authorization server: .* get a new grant there: mcpauth token --issuer "http:\/\/127\.0\.0\.1:\d+" -g authorization_code/);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    assert.deepEqual(b.requests, []);
    assert.deepEqual(a.tokens, []);
  });

  test('a resource that still names issuer A (among others) gets the token as before', async (t) => {
    const a = await startAS();
    t.after(() => a.stop());
    const rs = await startResource(() => ['https://other-as.example', `${a.origin}/`]);
    t.after(() => rs.stop());
    const creds = credentials(tmpDir(), a.origin);
    const r = await run(['token', '-c', creds, '-g', 'client_credentials', '--resource', rs.url('/mcp')]);
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    assert.equal(r.stderr, '');
    assert.deepEqual(a.tokens[0].form.getAll('resource'), [rs.url('/mcp')]);
  });

  test('a resource without metadata only earns a warning; the credentials still go to A alone', async (t) => {
    const a = await startAS();
    t.after(() => a.stop());
    const creds = credentials(tmpDir(), a.origin);
    const r = await run(['token', '-c', creds, '-g', 'client_credentials', '--resource', MCP]);
    assertExit(r, 0);
    assert.match(r.stderr, /^mcpauth token: warning: cannot confirm that http:\/\/127\.0\.0\.1:9\/mcp still uses http:\/\/127\.0\.0\.1:\d+: /);
    assert.equal(a.tokens.length, 1);
  });

  test('--client-id and --issuer without a file: nothing saved to bind, no discovery', async (t) => {
    const a = await startAS();
    t.after(() => a.stop());
    const b = await startCounter();
    t.after(() => b.stop());
    const r = await run(['token', '--issuer', a.origin, '--client-id', 'pub', '--auth-method', 'none',
      '-g', 'client_credentials', '--resource', b.url('/mcp')]);
    assertExit(r, 0);
    assert.deepEqual(b.requests, []);
  });
});

describe('a Client ID Metadata Document client', () => {
  test('no --issuer: a public client follows --resource to the authorization server it names', async (t) => {
    const as = await startAS({ metadata: { client_id_metadata_document_supported: true } });
    t.after(() => as.stop());
    const rs = await startResource(() => [as.origin]);
    t.after(() => rs.stop());
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const clientId = 'https://app.example/oauth/client.json';
    const flow = await startToken(['--client-id', clientId, '-g', 'authorization_code',
      '--redirect-uri', redirectUri, '--resource', rs.url('/mcp')]);
    assert.ok(flow.url, flow.stderr());
    const u = new URL(flow.url);
    assert.equal(u.origin + u.pathname, as.url('/authorize'));
    assert.deepEqual(flow.params.getAll('resource'), [rs.url('/mcp')]);
    await redirect(redirectUri, { code: 'found-code', state: flow.params.get('state') });
    const r = await flow.result;
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    assert.equal(as.tokens[0].form.get('client_id'), clientId);
  });

  test('no --issuer: a client with a secret is not sent to the server a resource names; no metadata is exit 4', async (t) => {
    const b = await startCounter();
    t.after(() => b.stop());
    const rs = await startResource(() => [b.origin]);
    t.after(() => rs.stop());
    let r = await run(['token', '--client-id', 'conf', '-g', 'client_credentials', '--resource', rs.url('/mcp')],
      { env: { MCPAUTH_CLIENT_SECRET: SECRET } });
    assertFail(r, 2, /say which authorization server: --issuer URL \(a client secret is not sent to the one an MCP server names\)/);
    assert.deepEqual(b.requests, []);
    r = await run(['token', '--client-id', 'pub', '-g', 'client_credentials', '--resource', b.url('/mcp')]);
    assertFail(r, 4, /not an MCP endpoint/);
  });

  test('--client-id https://... (public, PKCE) completes the authorization code flow at an AS that supports CIMD', async (t) => {
    const as = await startAS({ metadata: { client_id_metadata_document_supported: true } });
    t.after(() => as.stop());
    const port = await freePort();
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const clientId = 'https://app.example/oauth/client.json';
    const flow = await startToken(['--issuer', as.origin, '--client-id', clientId, '-g', 'authorization_code',
      '--redirect-uri', redirectUri]);
    assert.ok(flow.url, flow.stderr());
    assert.equal(flow.params.get('client_id'), clientId);
    assert.equal(flow.params.get('code_challenge_method'), 'S256');
    await redirect(redirectUri, { code: 'cimd-code', state: flow.params.get('state') });
    const r = await flow.result;
    assertExit(r, 0);
    assert.equal(r.stdout, `${ACCESS_TOKEN}\n`);
    const [req] = as.tokens;
    assert.equal(req.headers.authorization, undefined);
    assert.equal(req.form.get('client_id'), clientId);
    assert.equal(req.form.get('client_secret'), null);
    assert.equal(s256(req.form.get('code_verifier')), flow.params.get('code_challenge'));
  });
});
