// Interop tests for `mcpauth serve --dev` (issue 6): real OAuth clients complete the whole
// flow against the development issuer on their own — the MCP TypeScript SDK client and
// mcp-remote — and npm `jose` accepts its ES256 JWT access tokens.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-dev.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { MemoryOAuthProvider } from './lib/oauth-provider.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MCP_REMOTE_CLIENT = path.join(HERE, 'node_modules/mcp-remote/dist/client.js');
const MCP_REMOTE_PROXY = path.join(HERE, 'node_modules/mcp-remote/dist/proxy.js');
const USER = 'dev-alice';

/** The requests serve logged, as "METHOD /path STATUS", in order. */
function accessLog(s) {
  return [...s.stderr().matchAll(/"([A-Z]+) ([^" ]+)" (\d{3})/g)].map((m) => `${m[1]} ${m[2].split('?')[0]} ${m[3]}`);
}

/** Each of `expected` appears in `lines`, in this order. */
function assertInOrder(lines, expected) {
  let at = 0;
  for (const want of expected) {
    const found = lines.indexOf(want, at);
    assert.ok(found >= 0, `"${want}" missing after position ${at} in:\n${lines.join('\n')}`);
    at = found + 1;
  }
}

describe('the TypeScript SDK client against serve --dev', () => {
  let s;
  before(async () => {
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', USER]);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  test('401 -> PRM -> AS metadata -> registration -> code with PKCE -> token -> hello_world', async () => {
    const provider = new MemoryOAuthProvider('http://127.0.0.1:9/oauth/callback', {
      client_name: 'mcpauth interop (TS SDK)',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const url = new URL(s.resource);
    const first = new Client({ name: 'interop', version: '1.0.0' });
    await assert.rejects(first.connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
    assert.ok(provider.authorizationUrl, 'the SDK asked to open an authorization URL');
    const authUrl = provider.authorizationUrl;
    assert.equal(authUrl.origin + authUrl.pathname, `${s.origin}/authorize`);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authUrl.searchParams.get('resource'), s.resource);
    assert.ok(provider.clientInformation()?.client_id?.startsWith('dev-'), 'registered dynamically');

    // The user agent: --dev-auto-approve answers with the redirect at once.
    const res = await fetch(authUrl, { redirect: 'manual' });
    assert.equal(res.status, 302, await res.text());
    const back = new URL(res.headers.get('location'));
    assert.equal(back.searchParams.get('iss'), s.origin);
    const code = back.searchParams.get('code');
    assert.ok(code);

    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await transport.finishAuth(code);
    assert.ok(provider.tokens()?.access_token);
    assert.ok(provider.tokens()?.refresh_token);
    const client = new Client({ name: 'interop', version: '1.0.0' });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: 'hello_world', arguments: {} });
      assert.deepEqual(result.content, [{ type: 'text', text: `Hello, ${USER}!` }]);
    } finally {
      await client.close();
    }

    await s.waitForLog(/"POST \/mcp" 200/);
    assertInOrder(accessLog(s), [
      'POST /mcp 401',
      'GET /.well-known/oauth-protected-resource/mcp 200',
      'GET /.well-known/oauth-authorization-server 200',
      'POST /register 201',
      'GET /authorize 302',
      'POST /token 200',
      'POST /mcp 200',
    ]);
    assert.ok(!s.stderr().includes(provider.tokens().access_token), 'a token was logged');
  });

  test('npm jose verifies the access token against /jwks (RFC 9068 typ, issuer, audience)', async () => {
    const reg = await (await fetch(s.url('/register'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'] }),
    })).json();
    const res = await fetch(s.url('/token'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${reg.client_id}:${reg.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: s.resource }),
    });
    const { access_token: token } = await res.json();
    const jwks = createRemoteJWKSet(new URL(s.url('/jwks')));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: s.origin, audience: s.resource, typ: 'at+jwt', algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, reg.client_id);
    assert.equal(payload.client_id, reg.client_id);
    // A tampered token is refused.
    const [h, p, sig] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'mallory' })).toString('base64url')}.${sig}`;
    await assert.rejects(jwtVerify(forged, jwks, { issuer: s.origin, audience: s.resource }));
  });
});

describe('mcp-remote against serve --dev', () => {
  let s;
  before(async () => {
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', USER]);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  test('mcp-remote-client completes its OAuth flow headless and lists the tools', async () => {
    const configDir = tmpDir();
    const callbackPort = await freePort();
    // No browser here: BROWSER=true makes any opener a no-op, and mcp-remote prints the
    // authorization URL, which the test follows as the browser would.
    const child = spawn(process.execPath, [MCP_REMOTE_CLIENT, s.resource, String(callbackPort)], {
      env: {
        PATH: process.env.PATH,
        HOME: configDir,
        MCP_REMOTE_CONFIG_DIR: configDir,
        BROWSER: 'true',
      },
      // stdin stays open: mcp-remote shuts down when it ends.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => {});
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { output += d; });
    const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    try {
      const authUrl = await new Promise((resolve, reject) => {
        const check = () => {
          const m = /Please authorize this client by visiting:\s*\n(\S+)/.exec(output);
          if (m) resolve(m[1]);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        exited.then(() => reject(new Error(`mcp-remote exited before printing a URL:\n${output}`)));
      });
      const res = await fetch(authUrl, { redirect: 'manual' });
      assert.equal(res.status, 302, await res.text());
      const location = res.headers.get('location');
      assert.ok(location.startsWith(`http://localhost:${callbackPort}/`) || location.startsWith(`http://127.0.0.1:${callbackPort}/`), location);
      const delivered = await fetch(location);
      assert.equal(delivered.status, 200);
      const done = await exited;
      assert.deepEqual(done, { code: 0, signal: null }, output);
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
    assert.match(output, /Connected successfully!/, output);
    assert.match(output, /"name": "hello_world"/, output);
    assert.match(output, /"name": "whoami"/, output);
    await s.waitForLog(/"POST \/mcp" 200/);
    assertInOrder(accessLog(s), ['POST /register 201', 'GET /authorize 302', 'POST /token 200', 'POST /mcp 200']);
  });

  test('the mcp-remote stdio proxy signs in headless, then hello_world greets the dev user', async () => {
    const configDir = tmpDir();
    const callbackPort = await freePort();
    const child = spawn(process.execPath, [MCP_REMOTE_PROXY, s.resource, String(callbackPort)], {
      env: { PATH: process.env.PATH, HOME: configDir, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: 'true' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => {});
    let log = '';
    let out = '';
    const waiting = new Map();
    child.stderr.setEncoding('utf8').on('data', (d) => { log += d; });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        waiting.get(msg.id)?.(msg);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    const rpc = (id, method, params = {}) => new Promise((resolve) => {
      waiting.set(id, resolve);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
    try {
      const authUrl = await new Promise((resolve, reject) => {
        const poll = setInterval(() => {
          const m = /Please authorize this client by visiting:\s*\n(\S+)/.exec(log);
          if (m) { clearInterval(poll); resolve(m[1]); }
        }, 50);
        child.on('close', () => { clearInterval(poll); reject(new Error(`mcp-remote exited:\n${log}`)); });
      });
      const res = await fetch(authUrl, { redirect: 'manual' });
      assert.equal(res.status, 302, await res.text());
      assert.equal((await fetch(res.headers.get('location'))).status, 200);
      const init = await rpc(1, 'initialize', {
        protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'interop', version: '1' },
      });
      assert.ok(init.result?.serverInfo, JSON.stringify(init));
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
      const tools = await rpc(2, 'tools/list');
      assert.ok(tools.result.tools.some((t) => t.name === 'hello_world'), JSON.stringify(tools));
      const hello = await rpc(3, 'tools/call', { name: 'hello_world', arguments: {} });
      assert.deepEqual(hello.result?.content, [{ type: 'text', text: `Hello, ${USER}!` }], JSON.stringify(hello) + log);
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
  });
});
