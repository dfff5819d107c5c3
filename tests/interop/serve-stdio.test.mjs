// Interop tests for `mcpauth serve -- COMMAND` (issue 5): the official MCP TypeScript SDK
// client (@modelcontextprotocol/sdk 1.32.2, Streamable HTTP) talking through mcpauth to
// @modelcontextprotocol/server-everything 2026.8.31 run as a stdio backend. Covers the
// child's own capabilities, tool calls, progress, sampling, elicitation and roots/list
// requests answered by the client, notifications on the GET stream, and the session's end.
// Run: cd tests/interop && MCPAUTH_BIN=../../build/mcpauth node --test serve-stdio.test.mjs
//
// Facts about server-everything this relies on (checked by hand):
// - `dist/index.js stdio` speaks newline-delimited JSON-RPC on stdin/stdout;
// - trigger-sampling-request and trigger-elicitation-request are only listed for clients
//   that declare `sampling` and `elicitation`;
// - get-roots-list asks the client for roots/list when the client declares `roots`.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { startServe } from '../lib/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EVERYTHING = path.join(HERE, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

describe('the TypeScript SDK client through mcpauth to server-everything (stdio)', () => {
  let serve;
  let client;
  let transport;
  const sampled = [];
  const rootsAsked = [];
  const elicited = [];
  const logged = [];

  before(async () => {
    serve = await startServe(['--no-auth', '--', process.execPath, EVERYTHING, 'stdio']);
    client = new Client({ name: 'mcpauth-interop', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } });
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      sampled.push(request.params);
      return { role: 'assistant', content: { type: 'text', text: 'pong from the client' }, model: 'interop-model' };
    });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicited.push(request.params);
      return { action: 'decline' };
    });
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      rootsAsked.push(Date.now());
      return { roots: [{ uri: 'file:///srv/interop-root', name: 'interop root' }] };
    });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logged.push(n.params); });
    transport = new StreamableHTTPClientTransport(new URL(serve.resource));
    await client.connect(transport);
  });

  after(async () => {
    await client?.close().catch(() => {});
    const { code } = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  });

  test('initialize is the backend\'s own: its serverInfo and capabilities', async () => {
    const info = client.getServerVersion();
    assert.notEqual(info.name, 'mcpauth');
    assert.match(info.name, /everything/i);
    assert.ok(client.getServerCapabilities().tools);
    assert.match(transport.sessionId ?? '', /^[0-9a-f]{32}$/);
  });

  test('tools/list and a plain tools/call', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('echo'), names.join(', '));
    assert.ok(names.includes('trigger-sampling-request'), 'listed because the client declared sampling');
    const r = await client.callTool({ name: 'echo', arguments: { message: 'hello through mcpauth' } });
    assert.match(r.content[0].text, /hello through mcpauth/);
  });

  test('progress notifications reach the caller', async () => {
    const progress = [];
    const r = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 3 } },
      undefined, { onprogress: (p) => progress.push(p) });
    assert.match(r.content[0].text, /completed/);
    assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3]);
  });

  test('a sampling request of the backend is answered by the client', async () => {
    const r = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say pong' } });
    assert.match(r.content[0].text, /pong from the client/);
    assert.ok(sampled.some((p) => JSON.stringify(p.messages).includes('say pong')));
  });

  test('an elicitation request of the backend is answered by the client', async () => {
    const r = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    assert.match(r.content.map((c) => c.text).join('\n'), /declined/);
    assert.equal(elicited.length, 1);
  });

  test('a roots/list request of the backend is answered by the client', async () => {
    const r = await client.callTool({ name: 'get-roots-list', arguments: {} });
    assert.match(r.content.map((c) => c.text).join('\n'), /file:\/\/\/srv\/interop-root/);
    assert.ok(rootsAsked.length >= 1);
  });

  test('messages unrelated to any call reach the client on its GET stream', async () => {
    // server-everything logs once during the call (on that call's stream), then every 5 s
    // with nothing in flight: those can only come on the standalone GET stream.
    const simulated = () => logged.filter((p) => /level.message/i.test(String(p.data)));
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    const during = simulated().length;
    assert.equal(during, 1, 'the first one came with the call');
    const end = Date.now() + 15000;
    while (simulated().length === during && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    assert.ok(simulated().length > during, `log notifications: ${JSON.stringify(logged)}`);
  });

  test('terminating the session ends it', async () => {
    const session = transport.sessionId;
    await transport.terminateSession();
    const r = await fetch(serve.resource, {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(r.status, 404);
  });
});
