// Interop tests for `mcpauth serve` against real peers (issue 3, Acceptance 1):
// - oidc-provider 9.13.3 (lib/authserver.mjs) issuing OPAQUE access tokens with resource
//   indicators, so every token goes through RFC 7662 introspection; the resource server's
//   own client is registered with `mcpauth register` and handed to `serve --credentials`;
// - the official MCP TypeScript SDK client (@modelcontextprotocol/sdk 1.32.2), with a
//   static bearer token and with a ClientCredentialsProvider that must discover the AS
//   through our 401 and protected-resource metadata;
// - MCP Inspector's CLI (@modelcontextprotocol/inspector-cli 1.0.3).
// Run: cd tests/interop && npm ci && MCPAUTH_BIN=../../build/mcpauth node --test serve.test.mjs
//
// Facts about the peers these tests rely on (checked by hand, and asserted below):
// - oidc-provider's introspection answer for a client_credentials token has no `sub`
//   (active, client_id, exp, iat, iss, aud = the resource, scope, token_type), so the
//   seed's greeting for it is "Hello, anonymous user!".
// - Its revocation endpoint is /token/revocation (revocation_endpoint in its metadata);
//   it needs the authentication of the client the token was issued to.
// - The inspector CLI's bin, run with --cli, re-spawns `node build/index.js` and prints
//   the JSON result on stdout; its working directory matters (see INSPECTOR_CWD).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { run, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { basicAuth } from '../lib/http.mjs';
import { clientCredentials, rawInitialize, textOf, registerClientCredentials } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const INSPECTOR_BIN = path.join(HERE, 'node_modules/.bin/mcp-inspector-cli');
// inspector-cli 1.0.3's build/index.js picks its own package.json by testing
// fs.existsSync('../package.json') against the WORKING directory, then import()s that path
// relative to itself: started from tests/interop it looks for
// node_modules/@modelcontextprotocol/package.json and dies ("Cannot find module"). Started
// from its own build/ folder both resolve to inspector-cli/package.json.
const INSPECTOR_CWD = path.join(HERE, 'node_modules/@modelcontextprotocol/inspector-cli/build');
const ANONYMOUS_GREETING = 'Hello, anonymous user!';

let as; // oidc-provider
let serve; // mcpauth serve
let mcpUrl;
let asMetadata;
let rsCredentials; // the resource server's own client (introspection)
let mcpClient; // the MCP client's registration (client_credentials)

/** client_credentials with a resource indicator: an opaque token for our MCP endpoint. */
async function getToken(client = mcpClient, { resource = mcpUrl, scope = 'mcp' } = {}) {
  const json = await clientCredentials(asMetadata.token_endpoint, client, { resource, scope });
  assert.ok(json.access_token);
  assert.equal(json.access_token.split('.').length, 1, 'opaque, not a JWT');
  return json.access_token;
}

/** The AS's own introspection answer, with the resource server's credentials. */
async function introspect(token) {
  const r = await fetch(asMetadata.introspection_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuth(rsCredentials.client_id, rsCredentials.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

/** A connected SDK client; closed by the caller. */
async function sdkClient(transportOptions) {
  const client = new Client({ name: 'mcpauth-interop', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), transportOptions);
  await client.connect(transport);
  return { client, transport };
}

/** Runs the inspector CLI from this folder; resolves {code, stdout, stderr}. */
function inspector(args) {
  return new Promise((resolve) => {
    execFile(INSPECTOR_BIN, ['--cli', mcpUrl, ...args], {
      cwd: INSPECTOR_CWD, timeout: 30000, env: { PATH: process.env.PATH, HOME: process.env.HOME },
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr, killed: err?.killed ?? false });
    });
  });
}

before(async () => {
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  as = await startAuthServer({ resources: { [mcpUrl]: { scope: 'mcp', accessTokenFormat: 'opaque' } } });
  asMetadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();

  // The resource server's own client, for introspection, registered by mcpauth itself.
  const dir = tmpDir();
  const credFile = path.join(dir, 'rs.json');
  await registerClientCredentials(as.issuer, 'mcpauth resource server', { out: credFile });
  const saved = JSON.parse(fs.readFileSync(credFile, 'utf8'));
  // The file: {version, issuer, registration_endpoint, client: <the registration response>}.
  rsCredentials = { client_id: saved.client?.client_id, client_secret: saved.client?.client_secret };
  assert.equal(saved.issuer, as.issuer);
  assert.ok(rsCredentials.client_id && rsCredentials.client_secret, JSON.stringify(Object.keys(saved.client ?? {})));

  // The MCP client: a second registration.
  mcpClient = await registerClientCredentials(as.issuer, 'mcp client');

  serve = await startServe(['--credentials', credFile, '--cache-ttl', '1', '--negative-ttl', '1'], { port });
  assert.equal(serve.resource, mcpUrl);
});

after(async () => {
  await serve?.stop();
  await as?.stop();
});

describe('mcpauth serve with oidc-provider (opaque tokens, introspection)', () => {
  test('the protected-resource metadata names oidc-provider', async () => {
    const r = await fetch(serve.url('/.well-known/oauth-protected-resource/mcp'));
    assert.equal(r.status, 200);
    const doc = await r.json();
    assert.equal(doc.resource, mcpUrl);
    assert.deepEqual(doc.authorization_servers, [as.issuer]);
    assert.deepEqual(doc.scopes_supported, ['mcp']);
  });

  test('what oidc-provider says about a client_credentials token: no sub, aud = the resource', async () => {
    const info = await introspect(await getToken());
    assert.equal(info.active, true);
    assert.equal(info.client_id, mcpClient.client_id);
    assert.equal(info.aud, mcpUrl);
    assert.equal(info.iss, as.issuer);
    assert.equal(info.scope, 'mcp');
    assert.equal(info.sub, undefined, 'the greeting below assumes no sub');
    assert.equal(info.username, undefined);
  });

  test('SDK client with a bearer token: initialize, listTools, hello_world, whoami', async () => {
    const token = await getToken();
    const { client, transport } = await sdkClient({ requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    try {
      assert.equal(client.getServerVersion()?.name, 'mcpauth');
      assert.ok(transport.sessionId, 'a session was opened');
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('hello_world') && names.includes('whoami'), names.join());
      assert.equal(textOf(await client.callTool({ name: 'hello_world', arguments: {} })), ANONYMOUS_GREETING);
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      const id = who.structuredContent;
      assert.equal(id.client_id, mcpClient.client_id);
      assert.equal(id.subject, null);
      assert.deepEqual(id.audiences, [mcpUrl]);
      assert.equal(id.issuer, as.issuer);
      assert.equal(id.validated_by, 'introspection');
      assert.ok(!JSON.stringify(who).includes(token), 'whoami must not return the token');
      await transport.terminateSession();
    } finally {
      await client.close();
    }
  });

  test('SDK client with no token but a ClientCredentialsProvider: discovers the AS through the 401 and PRM', async () => {
    const provider = new ClientCredentialsProvider({
      clientId: mcpClient.client_id, clientSecret: mcpClient.client_secret, scope: 'mcp',
    });
    const { client } = await sdkClient({ authProvider: provider });
    try {
      const token = provider.tokens()?.access_token;
      assert.ok(token, 'the provider obtained a token');
      const info = await introspect(token);
      assert.equal(info.aud, mcpUrl, 'the SDK asked for a token for our resource (RFC 8707)');
      assert.equal(textOf(await client.callTool({ name: 'hello_world', arguments: {} })), ANONYMOUS_GREETING);
    } finally {
      await client.close();
    }
  });

  test('a token not issued for this resource (no resource indicator → no aud) → 401 invalid_token', async () => {
    const token = await getToken(mcpClient, { resource: null });
    assert.equal((await introspect(token)).aud, undefined);
    const r = await rawInitialize(mcpUrl, token);
    assert.equal(r.status, 401, await r.text());
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('revoked at the AS: rejected with 401 invalid_token once --cache-ttl (1 s) has passed', async () => {
    const token = await getToken();
    const { client } = await sdkClient({ requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    try {
      assert.equal(textOf(await client.callTool({ name: 'hello_world', arguments: {} })), ANONYMOUS_GREETING);
      assert.ok(asMetadata.revocation_endpoint, 'oidc-provider advertises revocation');
      const rev = await fetch(asMetadata.revocation_endpoint, {
        method: 'POST',
        headers: { authorization: basicAuth(mcpClient.client_id, mcpClient.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      assert.equal(rev.status, 200, await rev.text());
      const revokedAt = Math.floor(Date.now() / 1000);
      assert.equal((await introspect(token)).active, false);
      // The cached answer lives at most --cache-ttl 1 (whole seconds on the server's clock).
      await new Promise((resolve) => setTimeout(resolve, (revokedAt + 1) * 1000 + 150 - Date.now()));
      const r = await rawInitialize(mcpUrl, token);
      assert.equal(r.status, 401, await r.text());
      const challenge = r.headers.get('www-authenticate');
      assert.match(challenge, /^Bearer /);
      assert.match(challenge, /error="invalid_token"/);
      assert.match(challenge, /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
      await assert.rejects(client.callTool({ name: 'hello_world', arguments: {} }));
    } finally {
      await client.close();
    }
  });

  test('MCP Inspector CLI: tools/list and tools/call hello_world with a bearer header', async () => {
    const token = await getToken();
    const header = ['--transport', 'http', '--header', `Authorization: Bearer ${token}`];
    const list = await inspector([...header, '--method', 'tools/list']);
    assert.equal(list.code, 0, `${list.stdout}\n${list.stderr}`);
    const names = JSON.parse(list.stdout).tools.map((t) => t.name);
    assert.ok(names.includes('hello_world') && names.includes('whoami'), names.join());
    const call = await inspector([...header, '--method', 'tools/call', '--tool-name', 'hello_world']);
    assert.equal(call.code, 0, `${call.stdout}\n${call.stderr}`);
    assert.deepEqual(JSON.parse(call.stdout).content, [{ type: 'text', text: ANONYMOUS_GREETING }]);
  });

  test('MCP Inspector CLI without a token is refused', async () => {
    const r = await inspector(['--transport', 'http', '--method', 'tools/list']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /access token is required|401|Unauthorized/i, r.stderr);
  });

  test('the access log has token hashes and never a raw token', async () => {
    const log = serve.stderr();
    assert.match(log, /"POST \/mcp" 200 .* token=[0-9a-f]{12} /);
    const token = await getToken();
    assert.equal((await rawInitialize(mcpUrl, token)).status, 200);
    await serve.waitForLog(/"POST \/mcp" 200/);
    assert.ok(!serve.stderr().includes(token));
  });

  test('the server stops cleanly after the interop traffic (exit 0, no sanitizer report)', async () => {
    const exit = await serve.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr().slice(-3000));
    assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  });
});
