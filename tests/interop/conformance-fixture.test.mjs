// Control run for the MCP conformance acceptance test (issue 5): the official suite
// (@modelcontextprotocol/conformance 0.1.16) against fixtures/conformance-server.mjs served
// by the TypeScript SDK's own StreamableHTTPServerTransport, no mcpauth involved. Every
// active scenario must pass here; then a scenario that fails through
// `mcpauth serve --no-auth -- node fixtures/conformance-server.mjs` is mcpauth's fault, not
// the fixture's. The suite runs through lib/conformance.mjs (Node 20 loader workaround).
// Run: cd tests/interop && node --test conformance-fixture.test.mjs
//
// The HTTP side is a plain node:http server on 127.0.0.1 with one SDK transport and one
// McpServer per session (an SDK server holds a single transport), the shape the SDK's
// stateful Streamable HTTP examples use. Host checking (DNS rebinding, MCP transports
// §Security Warning) is done here: the SDK's transport options for it are deprecated in
// favour of middleware, and its middleware is written for express.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { startHttpServer, tmpDir } from '../lib/harness.mjs';
import { createConformanceServer } from './fixtures/conformance-server.mjs';
import {
  CONFORMANCE_FIXTURE, GLOBSYNC_LOADER, assertScenariosPassed, listScenarios, runConformance,
} from './lib/conformance.mjs';

const execFileP = promisify(execFile);

// 0.1.16's active server suite: the 2025-11-25 required set (PROTOCOL-CHECKLIST.md §6.3).
const ACTIVE_COUNT = 30;
const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

function hostIsLoopback(host) {
  try {
    return LOOPBACK_HOSTNAMES.has(new URL(`http://${host}`).hostname);
  } catch {
    return false;
  }
}

function jsonRpcError(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

/** The fixture over Streamable HTTP at http://127.0.0.1:PORT/mcp, SDK parts only. */
async function startSdkFixtureServer() {
  const sessions = new Map(); // MCP-Session-Id → transport
  const http = await startHttpServer(async (req, res) => {
    if (!hostIsLoopback(req.headers.host ?? '')) return jsonRpcError(res, 403, 'Host not allowed');
    if (new URL(req.url, 'http://x').pathname !== '/mcp') return jsonRpcError(res, 404, 'Not found');
    const id = req.headers['mcp-session-id'];
    if (id !== undefined) {
      const transport = sessions.get(id);
      if (!transport) return jsonRpcError(res, 404, 'Session not found');
      return transport.handleRequest(req, res);
    }
    // No session yet: only an initialize can start one; the transport refuses the rest.
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sid) => sessions.set(sid, transport),
      onsessionclosed: (sid) => sessions.delete(sid),
    });
    const server = createConformanceServer();
    await server.connect(transport);
    await transport.handleRequest(req, res);
    if (!transport.sessionId) await server.close();
  });
  const stop = async () => {
    await Promise.all([...sessions.values()].map((t) => t.close()));
    await http.stop();
  };
  return { url: http.url('/mcp'), sessions, stop };
}

describe('conformance fixture over the SDK Streamable HTTP transport', () => {
  let server;
  let expected;
  let result;
  before(async () => {
    server = await startSdkFixtureServer();
    expected = await listScenarios({ suite: 'active' });
    result = await runConformance({ url: server.url });
  });
  after(async () => {
    await server?.stop();
  });

  test(`the suite lists ${ACTIVE_COUNT} active server scenarios`, async () => {
    assert.equal(expected.length, ACTIVE_COUNT, expected.join(', '));
    const all = await listScenarios({ suite: 'all' });
    for (const name of expected) assert.ok(all.includes(name), `${name} is not in list --server`);
  });

  test('every active scenario passes', async (t) => {
    await assertScenariosPassed(t, result, expected);
  });

  test('one scenario alone (--scenario) is parsed too', async () => {
    const one = await runConformance({ url: server.url, scenario: 'tools-call-with-progress' });
    assert.deepEqual(one.scenarios.map((s) => s.name), ['tools-call-with-progress'], one.stdout);
    assert.equal(one.total.failed, 0, one.stdout);
    assert.ok(one.total.passed > 0, one.stdout);
    assert.equal(one.exitCode, 0, one.stdout);
  });

  // Pending in 0.1.16, so not part of the acceptance count, but the fixture serves them.
  test('the pending scenarios have no failed check', async () => {
    const pending = await runConformance({ url: server.url, suite: 'pending' });
    const byName = Object.fromEntries(pending.scenarios.map((s) => [s.name, s]));
    assert.deepEqual(Object.keys(byName).sort(), ['json-schema-2020-12', 'server-sse-polling'], pending.stdout);
    // tool found, $schema, $defs and additionalProperties kept
    assert.deepEqual([byName['json-schema-2020-12'].passed, byName['json-schema-2020-12'].failed], [4, 0], pending.stdout);
    // no priming event and no retry field at protocol 2025-03-26: warnings, not failures
    assert.equal(byName['server-sse-polling'].failed, 0, JSON.stringify(byName['server-sse-polling'].failures));
    assert.equal(pending.exitCode, 0, pending.stdout);
  });

  // The runner's own failure path: a server that answers nothing must show up as failures,
  // or "all passed" above would prove nothing.
  test('a failing server is reported as failing', async () => {
    const broken = await startHttpServer((req, res) => jsonRpcError(res, 500, 'broken on purpose'));
    try {
      const r = await runConformance({ url: broken.url('/mcp'), scenario: 'ping' });
      assert.equal(r.exitCode, 1, r.stdout);
      assert.ok(r.total.failed > 0, r.stdout);
    } finally {
      await broken.stop();
    }
  });
});

test('the fixture speaks MCP on stdio and keeps stdout for the protocol', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CONFORMANCE_FIXTURE], stderr: 'pipe' });
  let stderr = '';
  transport.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'fixture-check', version: '1.0.0' });
  await client.connect(transport);
  try {
    assert.equal(client.getServerVersion().name, 'mcpauth-conformance-fixture');
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === 'test_simple_text'));
    const r = await client.callTool({ name: 'test_simple_text', arguments: {} });
    assert.deepEqual(r.content, [{ type: 'text', text: 'This is a simple text response for testing.' }]);
    // A stray console.log would have broken the JSON-RPC stream above; the banner is on stderr.
    assert.match(stderr, /conformance fixture: serving MCP on stdio/);
  } finally {
    await client.close();
  }
});

// Through a child `node --import`, as the suite is run: the hook must hand out a 'fs'
// module with globSync and everything else (named and default exports) intact.
test('node20-globsync: fs exports a globSync that matches the patterns the suite uses', async () => {
  const dir = tmpDir();
  for (const f of ['a/checks.json', 'a/b/checks.json', 'checks.json', 'a/other.json', 'a/checks.json.bak']) {
    fs.mkdirSync(path.join(dir, path.dirname(f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), '[]');
  }
  const script = `
    import fsDefault, { globSync, readFileSync } from 'fs';
    import * as nodeFs from 'node:fs';
    const cwd = process.argv[1];
    let unsupported = 'no error';
    try { globSync('{a,b}/*.json', { cwd }); } catch (err) { unsupported = err.message; }
    console.log(JSON.stringify({
      all: globSync('**/checks.json', { cwd }).sort(),
      inA: globSync('a/*.json', { cwd }).sort(),
      missing: globSync('**/checks.json', { cwd: cwd + '/missing' }),
      unsupported,
      rest: [typeof fsDefault.readFileSync, typeof readFileSync, typeof nodeFs.globSync],
    }));`;
  const { stdout } = await execFileP(process.execPath,
    ['--import', pathToFileURL(GLOBSYNC_LOADER).href, '--input-type=module', '-e', script, dir]);
  const r = JSON.parse(stdout);
  assert.deepEqual(r.all, ['a/b/checks.json', 'a/checks.json', 'checks.json']);
  assert.deepEqual(r.inA, ['a/checks.json', 'a/other.json']);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.rest, ['function', 'function', 'function']);
  // Only the shim refuses brace patterns; Node 22's own globSync supports them.
  if (typeof fs.globSync !== 'function') assert.match(r.unsupported, /unsupported pattern/);
});
