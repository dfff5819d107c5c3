// Control run for MCP 2026-07-28 (issue 11): the conformance suite of the new era
// (@modelcontextprotocol/conformance 0.2.0-alpha.12, npm alias `conformance-next`) and the SDK
// v2 client (@modelcontextprotocol/client 2.4.0) against fixtures/modern-server.mjs served
// directly, no mcpauth involved. What passes here is what mcpauth must not break when it
// stands in front of the same fixture (serve --upstream, serve -- stdio).
//
// Run from the worktree: node --test tests/interop/conformance-modern-fixture.test.mjs
// (everything is resolved from this file's folder: tests/interop/node_modules).
//
// - `conformance server --requirements 2026-07-28`: one subtest per scored scenario (the
//   suite's frozen requirements/2026-07-28.yaml, 37 server scenarios), all must pass; the
//   not-scored ones (pending SEP-2243 header scenarios and json-schema-2020-12 must pass too;
//   the tasks-* extension is not implemented by the fixture and only recorded).
// - `--requirements 2025-11-25`: the fixture is dual-era (2025-era requests go to a sessionful
//   SDK v2 transport), so the 30 scenarios of the old era pass on the same URL.
// - The SDK v2 client pinned to 2026-07-28, in 'auto' mode and in the default legacy mode,
//   over HTTP and stdio: lists and calls tools, does an MRTR round trip, listens for changes.
//   Over HTTP it goes through a recording proxy (lib/wire-recorder.mjs), and the test checks
//   the wire facts mcpauth's modern transport relies on: headers, _meta keys, discover,
//   requestState echo, the listen stream.
// - The SDK v2 server's own answers to malformed modern requests (-32020, -32021, -32022,
//   -32601, -32602, 202, 403), as a reference for mcpauth's modern transport.
// - MCP Inspector 2.12.0's CLI (--protocol-era modern, legacy, auto) and mcp-remote 0.15.1
//   (--protocol auto) call a tool on the fixture.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { startWireRecorder } from './lib/wire-recorder.mjs';
import {
  MODERN_FIXTURE as FIXTURE, assertScenariosPass, describeFailures, readRequirements, runRequirements, startModernFixture,
} from './lib/conformance-next.mjs';

const execFileP = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const INSPECTOR = path.join(HERE, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const MCP_REMOTE = path.join(HERE, 'node_modules/mcp-remote/dist/proxy.js');
const MODERN = '2026-07-28';

/** An SDK v2 client with handlers for every MRTR input kind. */
function makeClient(mode) {
  const client = new Client({ name: 'mcpauth-modern-check', version: '1.0.0' }, {
    capabilities: { elicitation: {}, sampling: {}, roots: {} },
    ...(mode === undefined ? {} : { versionNegotiation: { mode } }),
  });
  const asked = [];
  // Answers every form with the fields it asks for, from this table.
  const answers = { name: 'Alice', color: 'blue', ok: true, context: 'tests' };
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.push(req.params.message);
    const fields = Object.keys(req.params.requestedSchema?.properties ?? {});
    return { action: 'accept', content: Object.fromEntries(fields.map((f) => [f, answers[f] ?? 'x'])) };
  });
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn',
  }));
  client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///tmp/root', name: 'root' }] }));
  return { client, asked };
}

const textOf = (result) => result.content?.find((c) => c.type === 'text')?.text;

describe('modern fixture over Streamable HTTP: conformance 0.2.0-alpha.12', () => {
  let fixture;
  let url;
  let modern;
  let legacy;
  const req2026 = readRequirements(MODERN);
  const req2025 = readRequirements('2025-11-25');

  before(async () => {
    fixture = await startModernFixture();
    url = fixture.url;
    [modern, legacy] = await Promise.all([
      runRequirements({ url, revision: MODERN }),
      runRequirements({ url, revision: '2025-11-25' }),
    ]);
  });
  after(async () => {
    await fixture?.stop();
  });

  test('the frozen requirements: 37 server scenarios for 2026-07-28, 30 for 2025-11-25', (t) => {
    assert.equal(req2026.scored.length, 37, req2026.scored.join(', '));
    assert.equal(req2025.scored.length, 30, req2025.scored.join(', '));
    t.diagnostic(`2026-07-28: ${req2026.scored.join(' ')}`);
  });

  test('--requirements 2026-07-28: every scored scenario passes', async (t) => {
    await assertScenariosPass(t, modern, req2026.scored);
    await t.test('the run covers the scored and the not-scored scenarios, exit 0', () => {
      const names = modern.scenarios.map((s) => s.name).sort();
      assert.deepEqual(names, [...req2026.scored, ...req2026.notScored.map((n) => n.name)].sort(), modern.stdout.slice(-3000));
      assert.deepEqual(modern.scenarios.filter((s) => s.scored).map((s) => s.name).sort(), [...req2026.scored].sort());
      assert.equal(modern.timedOut, false);
      assert.equal(modern.exitCode, 0, modern.stdout.slice(-3000));
    });
    await t.test('no scored scenario has a warning', () => {
      const warned = modern.scenarios.filter((s) => s.scored && s.warnings.length > 0)
        .map((s) => `${s.name}: ${s.warnings.map((w) => `${w.id} ${w.errorMessage}`).join('; ')}`);
      assert.deepEqual(warned, []);
    });
  });

  test('--requirements 2026-07-28, not scored: pending scenarios pass, the tasks extension is recorded', async (t) => {
    const byName = new Map(modern.scenarios.map((s) => [s.name, s]));
    for (const { name, reason } of req2026.notScored) {
      const s = byName.get(name);
      assert.ok(s, `${name} missing from the report`);
      t.diagnostic(`${s.failed === 0 ? 'pass' : 'FAIL'} ${name} (${reason}): ${s.passed} passed, ${s.failed} failed`);
      // The fixture implements no io.modelcontextprotocol/tasks extension (SEP-2663).
      if (reason !== 'extension') assert.equal(s.failed, 0, `${name}${describeFailures(s)}`);
    }
  });

  test('--requirements 2025-11-25 on the same URL (dual era): every scenario passes', async (t) => {
    await assertScenariosPass(t, legacy, req2025.scored);
    await t.test('not scored (server-session-lifecycle, json-schema-2020-12, server-sse-polling) pass too, exit 0', () => {
      for (const { name } of req2025.notScored) {
        const s = legacy.scenarios.find((x) => x.name === name);
        assert.ok(s, `${name} missing`);
        assert.equal(s.failed, 0, `${name}${describeFailures(s)}`);
        assert.deepEqual(s.warnings, [], name);
      }
      assert.equal(legacy.exitCode, 0, legacy.stdout.slice(-3000));
    });
  });

  // The runner's own failure path: a dead endpoint must show up as failures, or "all
  // passed" above would prove nothing.
  test('a server that answers nothing useful is reported as failing', async () => {
    const r = await runRequirements({ url: 'http://127.0.0.1:9/mcp', revision: MODERN, scenario: 'tools-call-simple-text' });
    assert.equal(r.exitCode, 1, r.stdout);
    assert.ok(r.scenarios[0]?.failed > 0, r.stdout);
  });
});

describe('SDK v2 client (@modelcontextprotocol/client 2.4.0) against the fixture', () => {
  let fixture;
  let url;
  before(async () => {
    fixture = await startModernFixture();
    url = fixture.url;
  });
  after(async () => {
    await fixture?.stop();
  });

  const transports = {
    http: () => new StreamableHTTPClientTransport(new URL(url)),
    stdio: () => new StdioClientTransport({ command: process.execPath, args: [FIXTURE, 'stdio'], stderr: 'pipe' }),
  };
  const modes = [
    ['pinned to 2026-07-28', { pin: MODERN }, MODERN, 'modern'],
    ['auto', 'auto', MODERN, 'modern'],
    ['legacy (the default)', undefined, '2025-11-25', 'legacy'],
  ];

  for (const [kind, makeTransport] of Object.entries(transports)) {
    for (const [label, mode, version, era] of modes) {
      test(`${kind}, ${label}: negotiates ${version}, lists and calls tools, MRTR round trip`, async () => {
        const { client, asked } = makeClient(mode);
        await client.connect(makeTransport());
        try {
          assert.equal(client.getNegotiatedProtocolVersion(), version);
          assert.equal(client.getProtocolEra(), era);
          assert.equal(client.getServerVersion()?.name, 'mcpauth-modern-fixture');
          const { tools } = await client.listTools();
          assert.ok(tools.some((tool) => tool.name === 'test_simple_text'), tools.map((x) => x.name).join(','));
          const simple = await client.callTool({ name: 'test_simple_text', arguments: {} });
          assert.equal(textOf(simple), 'This is a simple text response for testing.');
          // Modern: InputRequiredResult, retried by the client with inputResponses (+ requestState).
          // Legacy: the server SDK's shim sends elicitation/create mid-call instead.
          const mrtr = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
          assert.equal(textOf(mrtr), 'Alice likes blue');
          assert.deepEqual(asked, ['Step 1: What is your name?', 'Step 2: What is your favorite color?']);
          const prompt = await client.getPrompt({ name: 'test_input_required_result_prompt' });
          assert.equal(prompt.messages[0].content.text, 'Prompt with context: tests');
        } finally {
          await client.close();
        }
      });
    }

    test(`${kind}, pinned: subscriptions/listen acknowledges, then delivers tools/list_changed`, async () => {
      const { client } = makeClient({ pin: MODERN });
      const seen = [];
      client.setNotificationHandler('notifications/tools/list_changed', (n) => { seen.push(n); });
      await client.connect(makeTransport());
      try {
        const sub = await client.listen({ toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] });
        assert.deepEqual(sub.honoredFilter, { toolsListChanged: true, resourceSubscriptions: ['test://watched-resource'] });
        await client.callTool({ name: 'test_trigger_tool_change', arguments: {} });
        for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(seen.length, 1);
        assert.ok(seen[0].params._meta['io.modelcontextprotocol/subscriptionId'] !== undefined, JSON.stringify(seen[0]));
        await sub.close();
        assert.equal(await sub.closed, 'local');
      } finally {
        await client.close();
      }
    });
  }

  test('http, pinned: the wire as the v2 client sends it (through a recording proxy)', async () => {
    const rec = await startWireRecorder(url);
    const { client } = makeClient({ pin: MODERN });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(rec.url)));
      await client.listTools();
      await client.callTool({ name: 'test_input_required_result_request_state', arguments: {} });
      await client.callTool({ name: 'test_custom_headers', arguments: { region: 'eu-west' } });
      const sub = await client.listen({ toolsListChanged: true });
      await client.callTool({ name: 'test_trigger_tool_change', arguments: {} });
      await new Promise((r) => setTimeout(r, 100));
      await sub.close();
      await sub.closed;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.close();
      await rec.stop();
    }
    const ex = rec.exchanges;
    // Every exchange is a POST with the version header; no session, ever.
    for (const e of ex) {
      assert.equal(e.method, 'POST');
      assert.equal(e.requestHeaders['mcp-protocol-version'], MODERN);
      assert.equal(e.requestHeaders['mcp-session-id'], undefined);
      assert.equal(e.responseHeaders['mcp-session-id'], undefined);
      assert.equal(e.requestHeaders.accept, 'application/json, text/event-stream');
      const meta = e.json.params._meta;
      assert.equal(meta['io.modelcontextprotocol/protocolVersion'], MODERN);
      assert.deepEqual(meta['io.modelcontextprotocol/clientCapabilities'], { elicitation: {}, sampling: {}, roots: {} });
      assert.deepEqual(meta['io.modelcontextprotocol/clientInfo'], { name: 'mcpauth-modern-check', version: '1.0.0' });
      if (e.json.id !== undefined) assert.equal(e.requestHeaders['mcp-method'], e.json.method);
    }
    // 1. server/discover first (even when pinned), no initialize anywhere.
    assert.equal(ex[0].json.method, 'server/discover');
    assert.equal(rec.byMethod('initialize').length, 0);
    const discovered = ex[0].responseMessages[0].result;
    assert.deepEqual(discovered.supportedVersions, [MODERN]);
    assert.equal(discovered.resultType, 'complete');
    assert.deepEqual(discovered._meta['io.modelcontextprotocol/serverInfo'], { name: 'mcpauth-modern-fixture', version: '2.0.0' });
    // 2. tools/list: cache hints; no Mcp-Name.
    const list = rec.byMethod('tools/list')[0];
    assert.equal(list.requestHeaders['mcp-name'], undefined);
    assert.deepEqual([list.responseMessages[0].result.ttlMs, list.responseMessages[0].result.cacheScope], [60000, 'public']);
    // 3. MRTR: input_required, then the same call again with inputResponses and the state echoed.
    const calls = rec.byMethod('tools/call').filter((e) => e.json.params.name === 'test_input_required_result_request_state');
    assert.equal(calls.length, 2);
    assert.equal(calls[0].requestHeaders['mcp-name'], 'test_input_required_result_request_state');
    const first = calls[0].responseMessages[0].result;
    assert.equal(first.resultType, 'input_required');
    assert.equal(first.inputRequests.confirm.method, 'elicitation/create');
    assert.match(first.requestState, /^v1\./);
    assert.notEqual(calls[1].json.id, calls[0].json.id);
    assert.equal(calls[1].json.params.requestState, first.requestState);
    assert.deepEqual(calls[1].json.params.inputResponses, { confirm: { action: 'accept', content: { ok: true } } });
    assert.equal(calls[1].responseMessages[0].result.resultType, 'complete');
    assert.match(calls[1].responseMessages[0].result.content[0].text, /^state-ok/);
    // 4. x-mcp-header: the argument mirrored as Mcp-Param-Region.
    const custom = rec.byMethod('tools/call').find((e) => e.json.params.name === 'test_custom_headers');
    assert.equal(custom.requestHeaders['mcp-param-region'], 'eu-west');
    // 5. subscriptions/listen: SSE; the acknowledgement first; notifications tagged with the
    //    subscription id; closing sends notifications/cancelled (202, no Mcp-Method header).
    const listen = rec.byMethod('subscriptions/listen')[0];
    assert.match(listen.responseHeaders['content-type'], /^text\/event-stream/);
    assert.equal(listen.responseMessages[0].method, 'notifications/subscriptions/acknowledged');
    const subId = listen.responseMessages[0].params._meta['io.modelcontextprotocol/subscriptionId'];
    assert.equal(subId, listen.json.id);
    assert.ok(listen.responseMessages.some((m) => m.method === 'notifications/tools/list_changed'
      && m.params._meta['io.modelcontextprotocol/subscriptionId'] === subId));
    const cancel = rec.byMethod('notifications/cancelled')[0];
    assert.equal(cancel.json.params.requestId, listen.json.id);
    assert.equal(cancel.status, 202);
    assert.equal(cancel.requestHeaders['mcp-method'], undefined);
  });
});

describe('other clients of the new era against the fixture (HTTP)', () => {
  let fixture;
  let url;
  before(async () => {
    fixture = await startModernFixture();
    url = fixture.url;
  });
  after(async () => {
    await fixture?.stop();
  });

  // MCP Inspector 2.12.0's CLI (engines says Node >= 22.19; its CLI mode runs on Node 20 here).
  for (const era of ['modern', 'legacy', 'auto']) {
    test(`MCP Inspector 2.12.0 CLI, --protocol-era ${era}: tools/call`, async () => {
      const { stdout } = await execFileP(process.execPath, [INSPECTOR, '--cli', url, '--transport', 'http',
        '--method', 'tools/call', '--tool-name', 'test_simple_text', '--protocol-era', era], { cwd: HERE, timeout: 60000 });
      const result = JSON.parse(stdout.slice(stdout.indexOf('{')));
      assert.equal(textOf(result), 'This is a simple text response for testing.');
      // serverInfo in the result _meta only on the modern wire
      assert.equal(result._meta?.['io.modelcontextprotocol/serverInfo']?.name, era === 'legacy' ? undefined : 'mcpauth-modern-fixture');
    });
  }

  // mcp-remote 0.15.1 --protocol auto between an SDK v2 client on stdio and the fixture.
  // With a legacy local client it answers initialize itself and bridges to the modern server
  // ("Remote server speaks MCP 2026-07-28; answering the local client's handshake here").
  for (const [label, mode, version] of [['legacy', undefined, '2025-11-25'], ['auto', 'auto', MODERN], ['pinned', { pin: MODERN }, MODERN]]) {
    test(`mcp-remote 0.15.1 --protocol auto, local v2 client ${label}: tools/call`, async () => {
      const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-mcp-remote-'));
      const { client } = makeClient(mode);
      const transport = new StdioClientTransport({
        command: process.execPath, args: [MCP_REMOTE, url, '--protocol', 'auto'],
        env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir }, stderr: 'pipe', cwd: HERE,
      });
      let stderr = '';
      transport.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
      try {
        await client.connect(transport);
        assert.equal(client.getNegotiatedProtocolVersion(), version);
        const r = await client.callTool({ name: 'test_simple_text', arguments: {} });
        assert.equal(textOf(r), 'This is a simple text response for testing.', stderr);
        if (!mode) assert.match(stderr, /Remote server speaks MCP 2026-07-28/);
      } finally {
        await client.close();
        fs.rmSync(configDir, { recursive: true, force: true });
      }
    });
  }
});

// What an SDK v2 server (createMcpHandler) answers to malformed 2026-07-28 requests: the
// reference the issue-11 integration tests of mcpauth's own modern transport can compare with.
describe('the SDK v2 server\'s answers to malformed modern requests (reference)', () => {
  let fixture;
  before(async () => {
    fixture = await startModernFixture();
  });
  after(async () => {
    await fixture?.stop();
  });

  const envelope = (version = MODERN, capabilities = {}) => ({
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  });
  async function post(body, headers = {}) {
    const res = await fetch(fixture.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, text, json };
  }
  const modernHeaders = (method, name) => ({
    'MCP-Protocol-Version': MODERN, 'Mcp-Method': method, ...(name === undefined ? {} : { 'Mcp-Name': name }),
  });
  const call = (id, extra = {}) => ({
    jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'test_simple_text', arguments: {}, _meta: envelope(), ...extra },
  });

  test('unsupported version: 400, -32022, data.supported (modern versions only) and data.requested, the request id', async () => {
    const r = await post({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: envelope('2099-01-01') } },
      { 'MCP-Protocol-Version': '2099-01-01', 'Mcp-Method': 'tools/list' });
    assert.equal(r.status, 400);
    assert.equal(r.json.id, 7);
    assert.equal(r.json.error.code, -32022);
    assert.deepEqual(r.json.error.data, { supported: [MODERN], requested: '2099-01-01' });
  });

  test('MCP-Protocol-Version header ≠ _meta version: 400, -32020', async () => {
    const r = await post({ jsonrpc: '2.0', id: 8, method: 'tools/list', params: { _meta: envelope() } },
      { 'MCP-Protocol-Version': '2025-11-25', 'Mcp-Method': 'tools/list' });
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32020, 8]);
  });

  test('Mcp-Name missing, or ≠ params.name: 400, -32020; the Base64 sentinel form is accepted', async () => {
    let r = await post(call(9), modernHeaders('tools/call'));
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32020, 9]);
    r = await post(call(10), modernHeaders('tools/call', 'test_image_content'));
    assert.deepEqual([r.status, r.json.error.code], [400, -32020]);
    r = await post(call(11), modernHeaders('tools/call', `=?base64?${Buffer.from('test_simple_text').toString('base64')}?=`));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.content[0].text, 'This is a simple text response for testing.');
  });

  test('Mcp-Method ≠ method: 400, -32020', async () => {
    const r = await post(call(12), modernHeaders('tools/list', 'test_simple_text'));
    assert.deepEqual([r.status, r.json.error.code], [400, -32020]);
  });

  test('_meta without clientCapabilities: 400, -32602', async () => {
    const r = await post({ jsonrpc: '2.0', id: 13, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } } },
      modernHeaders('tools/list'));
    assert.deepEqual([r.status, r.json.error.code, r.json.id], [400, -32602, 13]);
  });

  test('unknown method, and removed ones (ping, initialize with the envelope): 404, -32601', async () => {
    for (const method of ['foo/bar', 'ping', 'logging/setLevel', 'resources/subscribe']) {
      const r = await post({ jsonrpc: '2.0', id: 14, method, params: { _meta: envelope() } }, modernHeaders(method));
      assert.deepEqual([r.status, r.json.error.code, r.json.id], [404, -32601, 14], method);
    }
  });

  test('sampling input asked of a client without the sampling capability: 400, -32021, requiredCapabilities', async () => {
    const r = await post({ ...call(15), params: { name: 'test_missing_capability', arguments: {}, _meta: envelope() } },
      modernHeaders('tools/call', 'test_missing_capability'));
    assert.deepEqual([r.status, r.json.error.code], [400, -32021]);
    assert.deepEqual(r.json.error.data.requiredCapabilities, { sampling: {} });
  });

  test('a tampered requestState: -32602 "Invalid or expired requestState" (HTTP 200)', async () => {
    const first = await post({ ...call(16), params: { name: 'test_input_required_result_tampered_state', arguments: {}, _meta: envelope(MODERN, { elicitation: {} }) } },
      modernHeaders('tools/call', 'test_input_required_result_tampered_state'));
    const state = first.json.result.requestState;
    const r = await post({
      ...call(17),
      params: {
        name: 'test_input_required_result_tampered_state', arguments: {}, _meta: envelope(MODERN, { elicitation: {} }),
        inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, requestState: `${state}x`,
      },
    }, modernHeaders('tools/call', 'test_input_required_result_tampered_state'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.error.code, -32602);
    assert.equal(r.json.error.message, 'Invalid or expired requestState');
  });

  test('a modern request carrying Mcp-Session-Id is served statelessly, no session id back', async () => {
    const r = await post(call(18), { ...modernHeaders('tools/call', 'test_simple_text'), 'Mcp-Session-Id': 'no-such-session' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('mcp-session-id'), null);
  });

  test('a modern notification: 202, empty body', async () => {
    const r = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: envelope() } },
      { 'MCP-Protocol-Version': MODERN });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
  });

  test('a foreign Origin: 403 before anything else', async () => {
    const r = await post(call(19), { ...modernHeaders('tools/call', 'test_simple_text'), Origin: 'http://evil.example.com' });
    assert.equal(r.status, 403);
  });
});

test('the fixture on stdio keeps stdout for the protocol and says so on stderr', async () => {
  const transport = new StdioClientTransport({ command: process.execPath, args: [FIXTURE, 'stdio'], stderr: 'pipe' });
  let stderr = '';
  transport.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const { client } = makeClient({ pin: MODERN });
  await client.connect(transport);
  try {
    assert.equal(textOf(await client.callTool({ name: 'test_simple_text', arguments: {} })), 'This is a simple text response for testing.');
    assert.match(stderr, /modern fixture: serving MCP on stdio/);
  } finally {
    await client.close();
  }
});
