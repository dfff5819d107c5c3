// Interop tests for MCP 2026-07-28 served by `mcpauth serve --dev` beside 2025-11-25: the
// SDK v2 client (@modelcontextprotocol/client 2.4.0) pinned to 2026-07-28, in 'auto' mode
// and in its default legacy mode, each completes the whole OAuth flow against the
// development issuer on its own (401 -> metadata -> registration -> code with PKCE ->
// token) and gets hello_world's greeting; and MCP Inspector 2.12.0's CLI with
// --protocol-era modern and legacy calls hello_world with a token of the dev issuer. Step-up:
// the pinned v2 client, refused a tool outside its token's scope (403 insufficient_scope,
// decided on Mcp-Name), re-authorizes with the union of scopes and succeeds. mcp-remote
// 0.15.1 --protocol auto signs in headless, speaks 2026-07-28 to mcpauth and bridges an SDK
// v2 client on stdio.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-modern.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { MemoryOAuthProvider } from './lib/oauth-provider.mjs';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MCP_REMOTE = path.join(HERE, 'node_modules/mcp-remote/dist/proxy.js');
const INSPECTOR = path.join(HERE, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const USER = 'dev-alice';
const MODERN = '2026-07-28';

const textOf = (result) => result.content?.find((c) => c.type === 'text')?.text;

/** The requests serve logged, as "METHOD /path STATUS", in order. */
function accessLog(s) {
  return [...s.stderr().matchAll(/"([A-Z]+) ([^" ]+)" (\d{3})/g)].map((m) => `${m[1]} ${m[2].split('?')[0]} ${m[3]}`);
}

describe('SDK v2 client, full OAuth against serve --dev', () => {
  let s;
  before(async () => {
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', USER]);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  const modes = [
    ['pinned to 2026-07-28', { pin: MODERN }, MODERN, 'modern'],
    ['auto', 'auto', MODERN, 'modern'],
    ['legacy (the default)', undefined, '2025-11-25', 'legacy'],
  ];
  for (const [label, mode, version, era] of modes) {
    test(`${label}: authorizes, negotiates ${version}, hello_world greets ${USER}`, async () => {
      const makeClient = () => new Client({ name: 'mcpauth-modern-interop', version: '1.0.0' },
        mode === undefined ? {} : { versionNegotiation: { mode } });
      const provider = new MemoryOAuthProvider('http://127.0.0.1:9/oauth/callback', {
        client_name: `mcpauth interop (SDK v2, ${label})`,
        grant_types: ['authorization_code', 'refresh_token'],
      });
      const url = new URL(s.resource);
      await assert.rejects(makeClient().connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
      const authUrl = provider.authorizationUrl;
      assert.ok(authUrl, 'the SDK asked to open an authorization URL');
      assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(authUrl.searchParams.get('resource'), s.resource);

      const res = await fetch(authUrl, { redirect: 'manual' });
      assert.equal(res.status, 302, await res.text());
      const back = new URL(res.headers.get('location'));
      const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
      await transport.finishAuth(back.searchParams);
      assert.ok(provider.tokens()?.access_token);

      const client = makeClient();
      await client.connect(transport);
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), version);
        assert.equal(client.getProtocolEra(), era);
        assert.equal(client.getServerVersion()?.name, 'mcpauth');
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name), ['hello_world', 'whoami']);
        const result = await client.callTool({ name: 'hello_world', arguments: {} });
        assert.equal(textOf(result), `Hello, ${USER}!`);
        if (era === 'modern') assert.equal(result._meta?.['io.modelcontextprotocol/serverInfo']?.name, 'mcpauth');
      } finally {
        await client.close();
      }
      await s.waitForLog(/"POST \/token" 200/);
      assert.ok(accessLog(s).includes('POST /mcp 401'));
      assert.ok(!s.stderr().includes(provider.tokens().access_token), 'a token was logged');
    });
  }

  test('pinned: subscriptions/listen is acknowledged and closes cleanly', async () => {
    const reg = await (await fetch(s.url('/register'), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'] }),
    })).json();
    const tok = await (await fetch(s.url('/token'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${reg.client_id}:${reg.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: s.resource }),
    })).json();
    const client = new Client({ name: 'mcpauth-modern-interop', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(s.resource), {
      requestInit: { headers: { authorization: `Bearer ${tok.access_token}` } },
    }));
    try {
      const sub = await client.listen({ toolsListChanged: true, resourceSubscriptions: ['x://y'] });
      assert.deepEqual(sub.honoredFilter, { toolsListChanged: true });
      await sub.close();
      assert.equal(await sub.closed, 'local');
    } finally {
      await client.close();
    }
  });
});

describe('MCP Inspector 2.12.0 CLI against serve --dev', () => {
  let s;
  let token;
  let clientId;
  before(async () => {
    s = await startServe(['--dev', '--dev-user', USER]);
    const reg = await (await fetch(s.url('/register'), {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'] }),
    })).json();
    clientId = reg.client_id;
    const res = await fetch(s.url('/token'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${reg.client_id}:${reg.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: s.resource }),
    });
    token = (await res.json()).access_token;
    assert.ok(token);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  for (const era of ['modern', 'legacy']) {
    test(`--protocol-era ${era}: tools/call hello_world`, async () => {
      const { stdout } = await execFileP(process.execPath, [INSPECTOR, '--cli', s.resource, '--transport', 'http',
        '--header', `Authorization: Bearer ${token}`,
        '--method', 'tools/call', '--tool-name', 'hello_world', '--protocol-era', era], { cwd: HERE, timeout: 60000 });
      const result = JSON.parse(stdout.slice(stdout.indexOf('{')));
      assert.equal(textOf(result), `Hello, user with ID ${clientId}!`);
      assert.equal(result._meta?.['io.modelcontextprotocol/serverInfo']?.name, era === 'modern' ? 'mcpauth' : undefined);
    });
  }

  test('without a token the Inspector is refused (401), whichever era', async () => {
    for (const era of ['modern', 'legacy']) {
      await assert.rejects(execFileP(process.execPath, [INSPECTOR, '--cli', s.resource, '--transport', 'http',
        '--method', 'tools/list', '--protocol-era', era], { cwd: HERE, timeout: 60000, env: { ...process.env, MCP_AUTO_OPEN_ENABLED: 'false' } }));
    }
  });
});

describe('SDK v2 client pinned to 2026-07-28: step-up on a tool outside the token\'s scope', () => {
  let s;
  before(async () => {
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', 'stepper', '--tool-scope', 'whoami=mcp:whoami']);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  async function approve(provider) {
    const res = await fetch(provider.authorizationUrls.at(-1), { redirect: 'manual' });
    assert.equal(res.status, 302, await res.text());
    return new URL(res.headers.get('location')).searchParams;
  }

  test('403 insufficient_scope (decided on Mcp-Name) -> re-authorization with the union of scopes -> the call works', async () => {
    const provider = new MemoryOAuthProvider('http://127.0.0.1:9/oauth/callback', {
      client_name: 'mcpauth interop (SDK v2 step-up)',
      grant_types: ['authorization_code'],
    });
    const url = new URL(s.resource);
    const makeClient = () => new Client({ name: 'mcpauth-modern-interop', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
    await assert.rejects(makeClient().connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await transport.finishAuth(await approve(provider));
    assert.equal(provider.tokens().scope, 'mcp');
    const client = makeClient();
    await client.connect(transport);
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['hello_world']);
      await assert.rejects(client.callTool({ name: 'whoami', arguments: {} }), UnauthorizedError);
    } finally {
      await client.close();
    }
    assert.equal(provider.authorizationUrls.length, 2);
    assert.deepEqual(provider.authorizationUrls[1].searchParams.get('scope').split(' ').sort(), ['mcp', 'mcp:whoami']);
    await s.waitForLog(/"POST \/mcp" 403 .*\(tool whoami needs scope mcp:whoami\)/);

    const again = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await again.finishAuth(await approve(provider));
    const stepped = makeClient();
    await stepped.connect(again);
    try {
      const result = await stepped.callTool({ name: 'whoami', arguments: {} });
      assert.ok(!result.isError, JSON.stringify(result));
      assert.equal(result.structuredContent.subject, 'stepper');
      assert.equal(result.resultType ?? 'complete', 'complete');
    } finally {
      await stepped.close();
    }
  });
});

describe('mcp-remote 0.15.1 --protocol auto against serve --dev', () => {
  let s;
  before(async () => {
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', USER]);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  // The local client is in its default (legacy) mode: in the modern modes the v2 stdio
  // transport does not hand mcp-remote's stderr (with the authorization URL) to the test.
  for (const [label, mode, version] of [['legacy', undefined, '2025-11-25']]) {
    test(`signs in headless, speaks 2026-07-28 to mcpauth; a local SDK v2 client (${label}) gets hello_world's greeting`, async () => {
      const configDir = tmpDir();
      const callbackPort = await freePort();
      const transport = new StdioClientTransport({
        command: process.execPath, args: [MCP_REMOTE, s.resource, String(callbackPort), '--protocol', 'auto'],
        env: { PATH: process.env.PATH, HOME: configDir, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: 'true' },
        stderr: 'pipe', cwd: HERE,
      });
      let log = '';
      transport.stderr.setEncoding('utf8').on('data', (d) => { log += d; });
      const client = new Client({ name: 'mcpauth-modern-interop', version: '1.0.0' }, mode ? { versionNegotiation: { mode } } : {});
      const connected = client.connect(transport);
      const approved = (async () => {
        for (let i = 0; i < 600; i++) {
          const m = /Please authorize this client by visiting:\s*\n(\S+)/.exec(log);
          if (m) {
            const res = await fetch(m[1], { redirect: 'manual' });
            assert.equal(res.status, 302, await res.text());
            assert.equal((await fetch(res.headers.get('location'))).status, 200);
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no authorization URL:\n${log}`);
      })();
      try {
        await Promise.all([connected, approved]);
        assert.equal(client.getNegotiatedProtocolVersion(), version);
        const hello = await client.callTool({ name: 'hello_world', arguments: {} });
        assert.equal(textOf(hello), `Hello, ${USER}!`, log);
        // mcp-remote found the modern era at mcpauth and answered the local handshake itself.
        assert.match(log, /Remote server speaks MCP 2026-07-28/);
      } finally {
        await client.close();
      }
    });
  }
});
