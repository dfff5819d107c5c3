// Interop tests for the legacy HTTP+SSE transport of `mcpauth serve` (MCP 2024-11-05,
// issue 5, acceptance): the official MCP TypeScript SDK's SSEClientTransport, with an
// opaque bearer token from oidc-provider (lib/authserver.mjs; checked by introspection
// with the resource server's own client, registered by `mcpauth register`), calls
// hello_world and gets the seed's greeting; and the same client through a stdio backend,
// @modelcontextprotocol/server-everything, whose sampling request comes down the one stream;
// and many such clients at once against several workers (the default count, one per CPU,
// and --workers 3), where a stream and its POSTs land on different workers.
// Run: cd tests/interop && MCPAUTH_BIN=../../build/mcpauth node --test serve-legacy-sse.test.mjs
//
// Facts about the peers these tests rely on (checked by hand):
// - SSEClientTransport (SDK 1.32.2) GETs the URL it is given, waits for the `endpoint`
//   event, resolves its data against that URL and POSTs every message there; requestInit's
//   headers go on the GET (through eventSourceInit's fetch) and on every POST.
// - oidc-provider's introspection answer for a client_credentials token has no `sub`, so
//   the seed's greeting is "Hello, anonymous user!" (as in serve.test.mjs).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import os from 'node:os';
import { run, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { clientCredentials, registerClientCredentials } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EVERYTHING = path.join(HERE, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

let as;
let asMetadata;
let credFile;
let mcpClient;
const ports = {};

async function getToken(resource) {
  return (await clientCredentials(asMetadata.token_endpoint, mcpClient, { resource })).access_token;
}

/** An SDK client on the legacy transport of serve, with token (or none). */
async function legacyClient(serve, token, capabilities = {}) {
  const client = new Client({ name: 'mcpauth-legacy-interop', version: '1.0.0' }, { capabilities });
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const transport = new SSEClientTransport(new URL(serve.url('/sse')), { requestInit: { headers } });
  return { client, transport };
}

before(async () => {
  ports.builtin = await freePort();
  ports.backend = await freePort();
  ports.workersDefault = await freePort();
  ports.workers3 = await freePort();
  const resources = {};
  for (const p of Object.values(ports)) resources[`http://127.0.0.1:${p}/mcp`] = { scope: 'mcp', accessTokenFormat: 'opaque' };
  as = await startAuthServer({ resources });
  asMetadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();
  credFile = path.join(tmpDir(), 'rs.json');
  await registerClientCredentials(as.issuer, 'mcpauth resource server', { out: credFile });
  mcpClient = await registerClientCredentials(as.issuer, 'legacy mcp client');
  assert.ok(fs.existsSync(credFile));
});

after(async () => { await as?.stop(); });

describe('SSEClientTransport through mcpauth serve (built-in tools)', () => {
  let serve;
  before(async () => { serve = await startServe(['--credentials', credFile], { port: ports.builtin }); });
  after(async () => {
    const { code } = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  });

  test('without a token the SDK gets our 401 challenge', async () => {
    const { client, transport } = await legacyClient(serve, null);
    await assert.rejects(client.connect(transport), /401|Unauthorized/i);
    await client.close().catch(() => {});
  });

  test('with a bearer token it calls hello_world and gets the seed\'s greeting', async () => {
    const token = await getToken(serve.resource);
    const { client, transport } = await legacyClient(serve, token);
    await client.connect(transport);
    try {
      assert.equal(client.getServerVersion().name, 'mcpauth');
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === 'hello_world'));
      const r = await client.callTool({ name: 'hello_world', arguments: {} });
      assert.equal(r.content[0].text, 'Hello, anonymous user!');
      await serve.waitForLog(/"POST \/messages" 202 /);
      assert.doesNotMatch(serve.stderr(), new RegExp(token));
    } finally {
      await client.close();
    }
    // The client's close ends the stream, and with it the session.
    await serve.waitForLog(/"GET \/sse" 200 .*client went away/);
  });
});

describe('SSEClientTransport through mcpauth serve to server-everything (stdio)', () => {
  let serve;
  before(async () => {
    serve = await startServe(['--credentials', credFile, '--', process.execPath, EVERYTHING, 'stdio'], { port: ports.backend });
  });
  after(async () => {
    const { code } = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  });

  test('tools, and the backend\'s sampling request answered by the client, on one stream', async () => {
    const token = await getToken(serve.resource);
    const { client, transport } = await legacyClient(serve, token, { sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async () =>
      ({ role: 'assistant', content: { type: 'text', text: 'pong over legacy sse' }, model: 'interop-model' }));
    await client.connect(transport);
    try {
      assert.match(client.getServerVersion().name, /everything/i);
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello through the legacy transport' } });
      assert.match(echo.content[0].text, /hello through the legacy transport/);
      const sampled = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say pong' } });
      assert.match(sampled.content[0].text, /pong over legacy sse/);
    } finally {
      await client.close();
    }
  });
});

for (const [name, workers, port] of [['the default worker count', os.availableParallelism(), 'workersDefault'], ['--workers 3', 3, 'workers3']]) {
  describe(`SSEClientTransport through mcpauth serve with ${name} (${workers})`, () => {
    let serve;
    before(async () => {
      const args = ['--credentials', credFile, ...(name.startsWith('--') ? name.split(' ') : [])];
      serve = await startServe(args, { port: ports[port], defaultWorkers: true });
    });
    after(async () => {
      const { code } = await serve.stop();
      assert.equal(code, 0, serve.stderr());
    });

    test('12 clients at once, each on its own stream, call hello_world whichever worker takes their POSTs', async () => {
      const token = await getToken(serve.resource);
      await Promise.all(Array.from({ length: 12 }, async () => {
        const { client, transport } = await legacyClient(serve, token);
        await client.connect(transport);
        try {
          const tools = await client.listTools();
          assert.ok(tools.tools.some((t) => t.name === 'hello_world'));
          for (let i = 0; i < 3; i++) {
            const r = await client.callTool({ name: 'hello_world', arguments: {} });
            assert.equal(r.content[0].text, 'Hello, anonymous user!');
          }
        } finally {
          await client.close();
        }
      }));
      if (workers > 1) {
        assert.match(serve.stderr(), new RegExp(`, ${workers} workers`));
        await serve.waitForLog(/"POST \/messages" 202 .*\(handed to the stream's worker\)/);
      }
      assert.doesNotMatch(serve.stderr(), new RegExp(token));
    });
  });
}
