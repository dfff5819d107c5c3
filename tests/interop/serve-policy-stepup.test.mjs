// Interop test for per-tool scopes (issue 5): the MCP TypeScript SDK client reacts to the
// 403 insufficient_scope of `mcpauth serve` with step-up authorization (PEERS.md): it asks
// for the challenged scopes and, once the user agent brings the code back, the call
// succeeds. serve --dev plays the authorization server.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-policy-stepup.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startServe } from '../lib/harness.mjs';
import { MemoryOAuthProvider } from './lib/oauth-provider.mjs';

/** Follows the last authorization URL (--dev-auto-approve redirects at once); the code. */
async function approve(provider) {
  const res = await fetch(provider.authorizationUrls.at(-1), { redirect: 'manual' });
  assert.equal(res.status, 302, await res.text());
  const back = new URL(res.headers.get('location'));
  assert.ok(back.searchParams.get('code'), back.href);
  return back.searchParams.get('code');
}

describe('the TypeScript SDK client and a tool that needs more scopes', () => {
  let s;
  before(async () => {
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', 'stepper', '--tool-scope', 'whoami=mcp:whoami']);
  });
  after(async () => {
    const r = await s?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  test('403 insufficient_scope -> re-authorization with the challenged scopes -> the call works', async () => {
    // No refresh_token grant: SDK 1.32.2 would refresh first on a 403 (a refresh cannot
    // widen the grant, RFC 6749 §6) and then give up.
    const provider = new MemoryOAuthProvider('http://127.0.0.1:9/oauth/callback', {
      client_name: 'mcpauth interop (step-up)',
      grant_types: ['authorization_code'],
    });
    const url = new URL(s.resource);
    await assert.rejects(new Client({ name: 'interop', version: '1.0.0' })
      .connect(new StreamableHTTPClientTransport(url, { authProvider: provider })), UnauthorizedError);
    const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await transport.finishAuth(await approve(provider));
    assert.equal(provider.tokens().scope, 'mcp');
    const client = new Client({ name: 'interop', version: '1.0.0' });
    await client.connect(transport);
    try {
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['hello_world']);
      // The 403 makes the SDK ask for the challenged scopes, all at once.
      await assert.rejects(client.callTool({ name: 'whoami', arguments: {} }), UnauthorizedError);
    } finally {
      await client.close();
    }
    assert.equal(provider.authorizationUrls.length, 2);
    assert.equal(provider.authorizationUrls[1].searchParams.get('scope'), 'mcp mcp:whoami');
    await s.waitForLog(/"POST \/mcp" 403 .*\(tool whoami needs scope mcp:whoami\)/);

    const again = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await again.finishAuth(await approve(provider));
    assert.equal(provider.tokens().scope, 'mcp mcp:whoami');
    const stepped = new Client({ name: 'interop', version: '1.0.0' });
    await stepped.connect(again);
    try {
      assert.deepEqual((await stepped.listTools()).tools.map((t) => t.name).sort(), ['hello_world', 'whoami']);
      const result = await stepped.callTool({ name: 'whoami', arguments: {} });
      assert.ok(!result.isError, JSON.stringify(result));
      assert.equal(result.structuredContent.subject, 'stepper');
    } finally {
      await stepped.close();
    }
  });
});
