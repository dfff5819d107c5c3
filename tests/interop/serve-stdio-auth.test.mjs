// Acceptance tests for issue 5: `mcpauth serve ... -- COMMAND` bridging a real stdio MCP
// server to Streamable HTTP, with auth ON:
// - oidc-provider 9.13.3 (lib/authserver.mjs) issues OPAQUE tokens with resource
//   indicators, checked by RFC 7662 introspection; serve's own client is registered with
//   `mcpauth register` and handed to `serve --credentials`, as in serve.test.mjs;
// - the backend is @modelcontextprotocol/server-everything 2026.8.31
//   (`node dist/index.js stdio`), and tests/fixtures/backends/echo.mjs for the identity
//   environment (its `env` and `pid` tools);
// - the peers are the official TS SDK client 1.32.2 and MCP Inspector's CLI 1.0.3.
// Also: the number of backend processes is bounded by --max-sessions and idle sessions
// release theirs; --shared-backend serves several sessions from one process, keeping
// each session's progress and cancellations its own.
// Run: cd tests/interop && MCPAUTH_BIN=../../build/mcpauth node --test serve-stdio-auth.test.mjs
//
// Facts about the peers these tests rely on (read in their dist/ and seen in runs):
// - server-everything writes "Starting default (STDIO) server..." on stderr once at
//   start, which serve logs as "backend[PID]: Starting default (STDIO) server...": one
//   such line per backend process started.
// - Its trigger-long-running-operation sends notifications/progress i/steps every
//   duration/steps seconds when the call has a progressToken, related to the request.
// - Its toggle-simulated-logging sends one notifications/message (random level) at once,
//   then one every 5 s until toggled off; the client set no level, so none is filtered.
// - It handles SIGINT only; SIGTERM's default action ends it.
// - With --workers 1 the backends are direct children of the serve process.
// - oidc-provider: a client_credentials token has no `sub`; an authorization-code token's
//   `sub` is the login typed into the devInteractions form (lib/browser.mjs).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { REPO_ROOT, run, startServe, freePort, tmpDir, TIMEOUT_FACTOR as FACTOR } from '../lib/harness.mjs';
import { basicAuth } from '../lib/http.mjs';
import { clientCredentials, textOf, registerClientCredentials } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';
import { followAuthorization } from './lib/browser.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EVERYTHING = path.join(HERE, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const ECHO = path.join(REPO_ROOT, 'tests/fixtures/backends/echo.mjs');
const INSPECTOR_BIN = path.join(HERE, 'node_modules/.bin/mcp-inspector-cli');
// See serve.test.mjs: inspector-cli 1.0.3 must run from its own build/ folder.
const INSPECTOR_CWD = path.join(HERE, 'node_modules/@modelcontextprotocol/inspector-cli/build');
const EVERYTHING_START = /backend\[(\d+)\]: Starting default \(STDIO\) server\.\.\./g;
// serve's own environment gets this; a backend must not (only PATH, HOME, LANG, LC_*,
// --pass-env and --env are passed down).
const SERVE_ONLY_VARIABLE = 'MCPAUTH_TEST_SERVE_ONLY';

let as; // oidc-provider
let asMetadata;
let credFile; // serve's own client (introspection)
let mcpClient; // client_credentials client
let codeClient; // authorization_code client (tokens with a subject)
let everything; // serve -- node server-everything stdio
let echo; // serve -- node echo.mjs
let limited; // serve --max-sessions 2 --session-idle-timeout 2 -- node echo.mjs
let shared; // serve --shared-backend -- node server-everything stdio
const everythingUrl = () => everything.resource;

/** client_credentials with a resource indicator: an opaque token for `resource`. */
async function clientCredentialsToken(resource) {
  return (await clientCredentials(asMetadata.token_endpoint, mcpClient, { resource })).access_token;
}

/** Authorization code + PKCE as user `login` (scripted devInteractions): a token with a sub. */
async function userToken(resource, login) {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(asMetadata.authorization_endpoint);
  auth.search = new URLSearchParams({
    response_type: 'code', client_id: codeClient.client_id, redirect_uri: codeClient.redirect_uri,
    scope: 'mcp', resource, state: 'st', code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
  }).toString();
  const { redirect } = await followAuthorization(auth.href, { login, deliver: false });
  const code = new URL(redirect).searchParams.get('code');
  assert.ok(code, redirect);
  const r = await fetch(asMetadata.token_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth(codeClient.client_id, codeClient.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: codeClient.redirect_uri, resource,
    }),
  });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json));
  return json.access_token;
}

/**
 * A connected SDK client with a static bearer token; closed by the caller. `setup(client)`
 * runs before connecting (capabilities' request handlers must be in place by then).
 */
async function sdkClient(url, token, { capabilities = {}, setup } = {}) {
  const client = new Client({ name: 'mcpauth-stdio-interop', version: '1.0.0' }, { capabilities });
  setup?.(client);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

function post(url, body, { token, session } = {}) {
  const headers = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (session) headers['mcp-session-id'] = session;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

/** The JSON-RPC messages of a POST's answer: one JSON body, or SSE events' data lines. */
function messagesOf(body) {
  if (body.startsWith('{')) return [JSON.parse(body)];
  return [...body.matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1]));
}

const INITIALIZE = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

/** The pids in serve's log of every server-everything process it started. */
const everythingStarts = () => [...everything.stderr().matchAll(EVERYTHING_START)].map((m) => Number(m[1]));

/** Every process whose parent is `ppid` (from /proc), zombies left out. */
function childrenOf(ppid) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(parent) === ppid && state !== 'Z') pids.push(Number(entry));
  }
  return pids;
}

/** Whether `pid` is a live process (a zombie is not). */
function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM to `serve`: it exits 0, with no sanitizer report, and none of its children is left. */
async function assertStopsCleanly(serve) {
  const backends = childrenOf(serve.pid);
  assert.ok(backends.length >= 1, 'a backend was running');
  const exit = await serve.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr().slice(-3000));
  const left = backends.filter(running);
  assert.deepEqual(left, [], `backends still running after serve exited: ${left}`);
  assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
}

async function waitUntil(predicate, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs * FACTOR;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs the inspector CLI against `url`; resolves {code, stdout, stderr}. */
function inspector(url, args) {
  return new Promise((resolve) => {
    execFile(INSPECTOR_BIN, ['--cli', url, ...args], {
      cwd: INSPECTOR_CWD, timeout: 60000, env: { PATH: process.env.PATH, HOME: process.env.HOME },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  const everythingPort = await freePort();
  const echoPort = await freePort();
  const everythingResource = `http://127.0.0.1:${everythingPort}/mcp`;
  const echoResource = `http://127.0.0.1:${echoPort}/mcp`;
  const limitedPort = await freePort();
  const limitedResource = `http://127.0.0.1:${limitedPort}/mcp`;
  const sharedPort = await freePort();
  const sharedResource = `http://127.0.0.1:${sharedPort}/mcp`;
  as = await startAuthServer({
    resources: {
      [everythingResource]: { scope: 'mcp', accessTokenFormat: 'opaque' },
      [echoResource]: { scope: 'mcp', accessTokenFormat: 'opaque' },
      [limitedResource]: { scope: 'mcp', accessTokenFormat: 'opaque' },
      [sharedResource]: { scope: 'mcp', accessTokenFormat: 'opaque' },
    },
  });
  asMetadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();

  credFile = path.join(tmpDir(), 'rs.json');
  await registerClientCredentials(as.issuer, 'mcpauth resource server', { out: credFile });
  mcpClient = await registerClientCredentials(as.issuer, 'mcp client');
  // Never contacted: the test reads the code from the redirect URL itself.
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const code = await run(['register', '--issuer', as.issuer, '--grant-type', 'authorization_code', '--scope', 'mcp',
    '--redirect-uri', redirectUri, '--name', 'mcp user client', '--format', 'json']);
  assert.equal(code.code, 0, code.stderr);
  codeClient = { ...JSON.parse(code.stdout), redirect_uri: redirectUri };

  const env = { [SERVE_ONLY_VARIABLE]: 'serve-only-value' };
  everything = await startServe(['--credentials', credFile, '--', process.execPath, EVERYTHING, 'stdio'],
    { port: everythingPort, env });
  echo = await startServe(['--credentials', credFile, '--', process.execPath, ECHO], { port: echoPort, env });
  limited = await startServe(['--credentials', credFile, '--max-sessions', '2', '--session-idle-timeout', '2',
    '--', process.execPath, ECHO], { port: limitedPort });
  shared = await startServe(['--credentials', credFile, '--shared-backend', '--', process.execPath, EVERYTHING, 'stdio'],
    { port: sharedPort });
});

after(async () => {
  await everything?.stop();
  await echo?.stop();
  await limited?.stop();
  await shared?.stop();
  await as?.stop();
});

describe('serve -- server-everything (stdio), with oidc-provider tokens', () => {
  test('no token, a bad token or another resource\'s token: 401 with the challenge, and no backend is started', async () => {
    const startsBefore = everythingStarts().length;
    const childrenBefore = childrenOf(everything.pid).length;

    const none = await post(everythingUrl(), INITIALIZE);
    assert.equal(none.status, 401, await none.text());
    const challenge = none.headers.get('www-authenticate');
    assert.match(challenge, /^Bearer /);
    const metadataUrl = everything.url('/.well-known/oauth-protected-resource/mcp');
    assert.ok(challenge.includes(`resource_metadata="${metadataUrl}"`), challenge);
    assert.doesNotMatch(challenge, /error=/, 'RFC 6750 §3.1: no error code when no token was sent');

    const bad = await post(everythingUrl(), INITIALIZE, { token: 'not-a-token-the-as-knows' });
    assert.equal(bad.status, 401, await bad.text());
    assert.match(bad.headers.get('www-authenticate'), /error="invalid_token"/);

    const foreign = await post(everythingUrl(), INITIALIZE, { token: await clientCredentialsToken(echo.resource) });
    assert.equal(foreign.status, 401, await foreign.text());
    assert.match(foreign.headers.get('www-authenticate'), /error="invalid_token"/);

    // A session id guessed or stolen without its token changes nothing either.
    const call = await post(everythingUrl(), { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } },
      { session: 'f7869c8a2d6703d9b8592372e7b43442' });
    assert.equal(call.status, 401, await call.text());
    const get = await fetch(everythingUrl(), { headers: { accept: 'text/event-stream' } });
    assert.equal(get.status, 401, await get.text());

    await everything.waitForLog(/"GET \/mcp" 401/);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a late start line would show by now
    assert.equal(everythingStarts().length, startsBefore, everything.stderr().slice(-3000));
    assert.equal(childrenOf(everything.pid).length, childrenBefore);

    // The control: one valid initialize starts exactly one backend, seen both ways.
    const ok = await post(everythingUrl(), INITIALIZE, { token: await clientCredentialsToken(everythingUrl()) });
    assert.equal(ok.status, 200, await ok.text());
    await waitUntil(() => everythingStarts().length === startsBefore + 1, 'the backend logs its start');
    assert.equal(childrenOf(everything.pid).length, childrenBefore + 1);
    const session = ok.headers.get('mcp-session-id');
    const token = await clientCredentialsToken(everythingUrl());
    const del = await fetch(everythingUrl(), { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': session } });
    assert.ok(del.status === 200 || del.status === 204, `DELETE → ${del.status}`);
  });

  test('SDK client: lists the tools and calls echo, get-sum, get-structured-content', async () => {
    const { client, transport } = await sdkClient(everythingUrl(), await clientCredentialsToken(everythingUrl()));
    try {
      assert.equal(client.getServerVersion()?.name, 'mcp-servers/everything');
      assert.ok(transport.sessionId, 'a session was opened');
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const name of ['echo', 'get-sum', 'get-structured-content', 'trigger-long-running-operation', 'toggle-simulated-logging']) {
        assert.ok(names.includes(name), `${name} missing from ${names.join()}`);
      }
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'through mcpauth' } })), 'Echo: through mcpauth');
      assert.equal(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })), 'The sum of 2 and 40 is 42.');
      const weather = await client.callTool({ name: 'get-structured-content', arguments: { location: 'New York' } });
      assert.deepEqual(JSON.parse(textOf(weather)), weather.structuredContent);
      assert.equal(typeof weather.structuredContent.temperature, 'number');
      // The SDK server answers an unknown tool with an isError result; it comes through as is.
      const unknown = await client.callTool({ name: 'no-such-tool', arguments: {} });
      assert.equal(unknown.isError, true, JSON.stringify(unknown));
      assert.match(unknown.content[0].text, /no-such-tool/);
    } finally {
      await client.close();
    }
  });

  test('SDK client: progress notifications of a long-running call reach onprogress, in order', async () => {
    const { client } = await sdkClient(everythingUrl(), await clientCredentialsToken(everythingUrl()));
    try {
      const progress = [];
      const result = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      assert.equal(textOf(result), 'Long running operation completed. Duration: 0.6 seconds, Steps: 3.');
      assert.deepEqual(progress.map((p) => [p.progress, p.total]), [[1, 3], [2, 3], [3, 3]]);
    } finally {
      await client.close();
    }
  });

  test('SDK client: log messages from the backend arrive as notifications/message', async () => {
    const { client } = await sdkClient(everythingUrl(), await clientCredentialsToken(everythingUrl()));
    try {
      const messages = [];
      let arrived;
      const first = new Promise((resolve) => { arrived = resolve; });
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        messages.push(n.params);
        arrived();
      });
      const on = await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      assert.match(textOf(on), /^Started simulated, random-leveled logging/);
      await Promise.race([first, new Promise((resolve, reject) => setTimeout(() => reject(new Error('no log message within 8 s')), 8000 * FACTOR))]);
      assert.match(messages[0].level, /^(debug|info|notice|warning|error|critical|alert|emergency)$/);
      assert.match(String(messages[0].data), /-level message|level-message/);
      const off = await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
      assert.match(textOf(off), /^Stopped simulated logging/);
    } finally {
      await client.close();
    }
  });

  test('server-to-client requests: sampling within a call, roots/list on the GET stream', async () => {
    const samples = [];
    let rootsAsked = 0;
    const { client } = await sdkClient(everythingUrl(), await clientCredentialsToken(everythingUrl()), {
      capabilities: { sampling: {}, roots: { listChanged: true } },
      setup: (c) => {
        c.setRequestHandler(CreateMessageRequestSchema, (request) => {
          samples.push(request.params);
          return { model: 'test-model', role: 'assistant', content: { type: 'text', text: 'sampled through mcpauth' } };
        });
        c.setRequestHandler(ListRootsRequestSchema, () => {
          rootsAsked++;
          return { roots: [{ uri: 'file:///srv/mcpauth-root', name: 'mcpauth root' }] };
        });
      },
    });
    try {
      // Conditional tools, registered when notifications/initialized arrives, which the
      // bridge writes to the backend's stdin before this call.
      const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'ping', maxTokens: 5 } });
      assert.match(textOf(sampled), /LLM sampling result:[\s\S]*sampled through mcpauth/);
      assert.equal(samples.length, 1);
      assert.equal(samples[0].messages[0].content.text, 'Resource trigger-sampling-request context: ping');
      const roots = await client.callTool({ name: 'get-roots-list', arguments: {} });
      assert.match(textOf(roots), /file:\/\/\/srv\/mcpauth-root/);
      assert.ok(rootsAsked >= 1, 'the backend asked for the roots');
    } finally {
      await client.close();
    }
  });

  test('each session gets its own backend process, which DELETE of the session stops', async () => {
    const token = await clientCredentialsToken(everythingUrl());
    const before = everythingStarts();
    const a = await sdkClient(everythingUrl(), token);
    const b = await sdkClient(everythingUrl(), token);
    try {
      await waitUntil(() => everythingStarts().length === before.length + 2, 'two backends log their start');
      const [pidA, pidB] = everythingStarts().slice(-2);
      assert.notEqual(pidA, pidB);
      assert.ok(running(pidA) && running(pidB));
      assert.equal(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'a' } })), 'Echo: a');
      assert.equal(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'b' } })), 'Echo: b');
      await a.transport.terminateSession();
      await b.transport.terminateSession();
      await waitUntil(() => !running(pidA) && !running(pidB), 'both backends are gone after DELETE');
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  test('MCP Inspector CLI: tools/list and tools/call echo with a bearer header', async () => {
    const header = ['--transport', 'http', '--header', `Authorization: Bearer ${await clientCredentialsToken(everythingUrl())}`];
    const list = await inspector(everythingUrl(), [...header, '--method', 'tools/list']);
    assert.equal(list.code, 0, `${list.stdout}\n${list.stderr}`);
    const names = JSON.parse(list.stdout).tools.map((t) => t.name);
    assert.ok(names.includes('echo') && names.includes('get-sum'), names.join());
    const call = await inspector(everythingUrl(),
      [...header, '--method', 'tools/call', '--tool-name', 'echo', '--tool-arg', 'message=from the inspector']);
    assert.equal(call.code, 0, `${call.stdout}\n${call.stderr}`);
    assert.deepEqual(JSON.parse(call.stdout).content, [{ type: 'text', text: 'Echo: from the inspector' }]);
  });

  test('MCP Inspector CLI without a token is refused', async () => {
    const r = await inspector(everythingUrl(), ['--transport', 'http', '--method', 'tools/list']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /access token is required|401|Unauthorized/i, r.stderr);
  });

  test('the log has token hashes and never a raw token', async () => {
    const token = await clientCredentialsToken(everythingUrl());
    const { client } = await sdkClient(everythingUrl(), token);
    try {
      textOf(await client.callTool({ name: 'echo', arguments: { message: 'log check' } }));
    } finally {
      await client.close();
    }
    await everything.waitForLog(/"POST \/mcp" 200 .* token=[0-9a-f]{12} /);
    assert.ok(!everything.stderr().includes(token));
  });

  test('SIGTERM: serve exits 0 and no backend process remains', async () => {
    const token = await clientCredentialsToken(everythingUrl());
    const clients = [await sdkClient(everythingUrl(), token), await sdkClient(everythingUrl(), token)];
    // One call in flight when the signal comes.
    const inFlight = clients[1].client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } })
      .catch((err) => err);
    try {
      const backends = childrenOf(everything.pid);
      assert.ok(backends.length >= 2, `backends: ${backends}`);
      for (const pid of everythingStarts().slice(-2)) assert.ok(backends.includes(pid), `${pid} not among ${backends}`);
      const exit = await everything.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, everything.stderr().slice(-3000));
      const left = backends.filter(running);
      assert.deepEqual(left, [], `backends still running after serve exited: ${left}`);
      assert.ok(everythingStarts().every((pid) => !running(pid)));
      assert.doesNotMatch(everything.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
      assert.ok((await inFlight) instanceof Error, 'the call in flight did not complete normally');
    } finally {
      for (const c of clients) await c.client.close().catch(() => {});
    }
  });
});

describe('serve -- echo.mjs: the identity a backend sees', () => {
  /** The env tool's view from a new session opened with `token`, and the backend's pid. */
  async function backendView(token) {
    const { client, transport } = await sdkClient(echo.resource, token);
    try {
      const env = JSON.parse(textOf(await client.callTool({ name: 'env', arguments: {} })));
      const pid = Number(textOf(await client.callTool({ name: 'pid', arguments: {} })));
      return { env, pid, transport };
    } finally {
      await client.close();
    }
  }

  function assertNoToken(env, token) {
    const dump = JSON.stringify(env);
    assert.ok(!dump.includes(token), 'the token is in the backend\'s environment');
    for (const name of Object.keys(env)) {
      assert.ok(/^(PATH|HOME|LANG|LC_\w+|MCPAUTH_(SUBJECT|CLIENT_ID|SCOPES))$/.test(name), `unexpected variable ${name}`);
    }
    assert.equal(env[SERVE_ONLY_VARIABLE], undefined, 'serve\'s own environment leaked to the backend');
  }

  test('a user\'s token: MCPAUTH_SUBJECT, MCPAUTH_CLIENT_ID, MCPAUTH_SCOPES, and no token', async () => {
    const token = await userToken(echo.resource, 'alice');
    const { env } = await backendView(token);
    assert.equal(env.MCPAUTH_SUBJECT, 'alice');
    assert.equal(env.MCPAUTH_CLIENT_ID, codeClient.client_id);
    assert.equal(env.MCPAUTH_SCOPES, 'mcp');
    assertNoToken(env, token);
  });

  test('a client_credentials token: no subject, the client id and scopes, and no token', async () => {
    const token = await clientCredentialsToken(echo.resource);
    const { env } = await backendView(token);
    assert.equal(env.MCPAUTH_SUBJECT, undefined);
    assert.equal(env.MCPAUTH_CLIENT_ID, mcpClient.client_id);
    assert.equal(env.MCPAUTH_SCOPES, 'mcp');
    assertNoToken(env, token);
  });

  test('two users at once: each session\'s backend has its own identity', async () => {
    const [alice, bob] = await Promise.all([userToken(echo.resource, 'alice'), userToken(echo.resource, 'bob')]);
    const [a, b] = await Promise.all([backendView(alice), backendView(bob)]);
    assert.notEqual(a.pid, b.pid);
    assert.equal(a.env.MCPAUTH_SUBJECT, 'alice');
    assert.equal(b.env.MCPAUTH_SUBJECT, 'bob');
  });

  test('a session belongs to its user: bob\'s token cannot use alice\'s session (or her backend)', async () => {
    const [alice, bob] = await Promise.all([userToken(echo.resource, 'alice'), userToken(echo.resource, 'bob')]);
    const init = await post(echo.resource, INITIALIZE, { token: alice });
    assert.equal(init.status, 200, await init.text());
    const session = init.headers.get('mcp-session-id');
    const initialized = await post(echo.resource, { jsonrpc: '2.0', method: 'notifications/initialized' }, { token: alice, session });
    assert.equal(initialized.status, 202, await initialized.text());
    const envCall = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'env', arguments: {} } };
    const stolen = await post(echo.resource, envCall, { token: bob, session });
    assert.equal(stolen.status, 404, await stolen.text());
    const own = await post(echo.resource, envCall, { token: alice, session });
    assert.equal(own.status, 200);
    const answer = messagesOf(await own.text()).find((m) => m.id === 2);
    assert.equal(JSON.parse(answer.result.content[0].text).MCPAUTH_SUBJECT, 'alice');
  });

  test('SIGTERM: serve exits 0 and none of its backends remains', async () => {
    const token = await clientCredentialsToken(echo.resource);
    const sessions = [await sdkClient(echo.resource, token), await sdkClient(echo.resource, token)];
    try {
      const pids = [];
      for (const { client } of sessions) pids.push(Number(textOf(await client.callTool({ name: 'pid', arguments: {} }))));
      const backends = childrenOf(echo.pid);
      for (const pid of pids) assert.ok(backends.includes(pid), `${pid} is not a child of serve (${backends})`);
      const exit = await echo.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, echo.stderr().slice(-3000));
      const left = backends.filter(running);
      assert.deepEqual(left, [], `backends still running after serve exited: ${left}`);
      assert.doesNotMatch(echo.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
    } finally {
      for (const s of sessions) await s.client.close().catch(() => {});
    }
  });
});

// Every initialize starts a process: a client with a valid token must not be able to
// start more than --max-sessions of them, and idle sessions must give theirs back.
describe('serve --max-sessions 2 --session-idle-timeout 2 -- echo.mjs: backends are bounded', () => {
  test('a third session is refused with 503 and starts no process; idle sessions release theirs', async () => {
    const token = await clientCredentialsToken(limited.resource);
    const opened = [];
    for (let i = 0; i < 4; i++) {
      const r = await post(limited.resource, INITIALIZE, { token });
      opened.push({ status: r.status, session: r.headers.get('mcp-session-id'), body: await r.text() });
    }
    assert.deepEqual(opened.map((o) => o.status), [200, 200, 503, 503], JSON.stringify(opened));
    assert.match(opened[2].body, /too many sessions/);
    assert.equal(childrenOf(limited.pid).length, 2);
    // Unused for longer than --session-idle-timeout: the sessions and their processes go.
    await waitUntil(() => childrenOf(limited.pid).length === 0, 'idle sessions release their backends', 15000);
    await limited.waitForLog(/idle; backend\[\d+\] released/);
    const gone = await post(limited.resource, { jsonrpc: '2.0', id: 2, method: 'ping' }, { token, session: opened[0].session });
    assert.equal(gone.status, 404, await gone.text());
    // Room again.
    const again = await post(limited.resource, INITIALIZE, { token });
    assert.equal(again.status, 200, await again.text());
    assert.equal(childrenOf(limited.pid).length, 1);
  });

  test('SIGTERM: serve exits 0 and its backend is gone', async () => {
    await assertStopsCleanly(limited);
  });
});

describe('serve --shared-backend -- server-everything: one process for every session', () => {
  test('two sessions share one backend process and both are served', async () => {
    const token = await clientCredentialsToken(shared.resource);
    const a = await sdkClient(shared.resource, token);
    const b = await sdkClient(shared.resource, token);
    try {
      assert.notEqual(a.transport.sessionId, b.transport.sessionId);
      assert.equal(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'a' } })), 'Echo: a');
      assert.equal(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'b' } })), 'Echo: b');
      assert.equal(childrenOf(shared.pid).length, 1);
      assert.equal([...shared.stderr().matchAll(EVERYTHING_START)].length, 1);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  // Progress tokens are only unique per client (the SDK uses the request id, so two SDK
  // clients' first calls both use 1): the bridge gives the backend a token of its own
  // per request and restores the client's on the way back (before the fix, one session
  // got the other's progress twice over and the other none: [[], [1, 1, 2, 2, ...]]).
  test('concurrent calls in two sessions each get their own progress notifications',
    async () => {
      const token = await clientCredentialsToken(shared.resource);
      const sessions = [await sdkClient(shared.resource, token), await sdkClient(shared.resource, token)];
      try {
        const progress = [[], []];
        const results = await Promise.all(sessions.map(({ client }, i) => client.callTool(
          { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 5 } },
          undefined,
          { onprogress: (p) => progress[i].push(p.progress) },
        )));
        for (const r of results) assert.match(textOf(r), /^Long running operation completed/);
        assert.deepEqual(progress, [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]]);
      } finally {
        for (const { client } of sessions) await client.close();
      }
    });

  // The backend knows requests by the bridge's numbering (1, 2, 3...), so a client's
  // notifications/cancelled naming no request of its own session in flight is dropped:
  // forwarded, it could cancel another session's request (by guessing, or by crossing the
  // answer to its own, a race MCP cancellation §Timing allows). Before the fix, A's call
  // was never answered and ended with -32603 "Request timed out".
  test('a session cannot cancel another session\'s request',
    async () => {
      const token = await clientCredentialsToken(shared.resource);
      const open = async () => {
        const init = await post(shared.resource, INITIALIZE, { token });
        assert.equal(init.status, 200, await init.text());
        const session = init.headers.get('mcp-session-id');
        const ok = await post(shared.resource, { jsonrpc: '2.0', method: 'notifications/initialized' }, { token, session });
        assert.equal(ok.status, 202);
        return session;
      };
      const [a, b] = [await open(), await open()];
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 8000 * FACTOR);
      try {
        const call = fetch(shared.resource, {
          method: 'POST',
          signal: abort.signal,
          headers: {
            accept: 'application/json, text/event-stream', 'content-type': 'application/json',
            authorization: `Bearer ${token}`, 'mcp-session-id': a,
          },
          body: JSON.stringify({
            jsonrpc: '2.0', id: 5, method: 'tools/call',
            params: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 2 } },
          }),
        }).then((r) => r.text());
        await new Promise((resolve) => setTimeout(resolve, 200));
        for (let requestId = 1; requestId <= 50; requestId++) {
          const r = await post(shared.resource,
            { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'not yours' } },
            { token, session: b });
          assert.equal(r.status, 202);
        }
        const body = await call.catch((err) => `no answer within 8 s (${err.name})`);
        const answer = messagesOf(body).find((m) => m.id === 5);
        assert.ok(answer?.result, body);
        assert.match(textOf(answer.result), /^Long running operation completed/);
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
    });

  test('SIGTERM: serve exits 0 and the shared backend is gone', async () => {
    await assertStopsCleanly(shared);
  });
});
