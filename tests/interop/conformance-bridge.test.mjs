// The era bridge against the MCP conformance suite of 2026-07-28 (0.2.0-alpha.12, npm alias
// `conformance-next`): `conformance server --requirements 2026-07-28` through
// `mcpauth serve --no-auth -- node fixtures/conformance-server.mjs`, a stdio server of the
// 2025 era (the official SDK 1.32.2: initialize, sessions, elicitation/sampling/roots sent
// mid-call). Every scored scenario must pass, the input-required-result-* ones included
// (mcpauth turns the child's requests into InputRequiredResult and its retries into
// answers); the same serve still passes `--requirements 2025-11-25` for 2025-era clients.
// Not-scored scenarios are recorded: the tasks-* extension and the SEP-2243 custom-header
// tools the fixture does not implement, and json-schema-2020-12, whose keywords the SDK 1.x
// fixture's tool schema does not carry.
//
// Also the SDK v2 client (@modelcontextprotocol/client 2.4.0), pinned to 2026-07-28 and in
// 'auto' mode, through the same bridge: it negotiates the modern era and its MRTR handlers
// answer the 2025 child's elicitation, sampling and roots requests.
//
// Run from the worktree:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/interop/conformance-bridge.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startServe } from '../lib/harness.mjs';
import { assertScenariosPass, readRequirements, runRequirements } from './lib/conformance-next.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LEGACY_FIXTURE = path.join(HERE, 'fixtures/conformance-server.mjs');
const MODERN = '2026-07-28';

describe('conformance 0.2.0-alpha.12 through serve --no-auth -- <2025-era stdio server> (the era bridge)', () => {
  let serve;
  let modern;
  let legacy;
  const req2026 = readRequirements(MODERN);
  const req2025 = readRequirements('2025-11-25');

  before(async () => {
    serve = await startServe(['--no-auth', '--', process.execPath, LEGACY_FIXTURE]);
    modern = await runRequirements({ url: serve.resource, revision: MODERN });
    legacy = await runRequirements({ url: serve.resource, revision: '2025-11-25' });
  });
  after(async () => {
    await serve?.stop();
  });

  test('--requirements 2026-07-28: every scored scenario passes (37), input-required-result-* included', async (t) => {
    assert.ok(req2026.scored.filter((n) => n.startsWith('input-required-result-')).length >= 14);
    await assertScenariosPass(t, modern, req2026.scored);
    await t.test('exit 0, no timeout', () => {
      assert.equal(modern.timedOut, false);
      assert.equal(modern.exitCode, 0, modern.stdout.slice(-3000));
    });
  });

  test('--requirements 2026-07-28, not scored: recorded; the SEP-2243 header validation passes', (t) => {
    const byName = new Map(modern.scenarios.map((s) => [s.name, s]));
    for (const { name, reason } of req2026.notScored) {
      const s = byName.get(name);
      assert.ok(s, `${name} missing from the report`);
      t.diagnostic(`${s.failed === 0 ? 'pass' : 'FAIL'} ${name} (${reason}): ${s.passed} passed, ${s.failed} failed`);
    }
    assert.equal(byName.get('http-header-validation')?.failed, 0);
    t.diagnostic(`total: ${modern.total?.passed} passed, ${modern.total?.failed} failed`);
  });

  test('--requirements 2025-11-25 on the same serve: every scored scenario passes', async (t) => {
    await assertScenariosPass(t, legacy, req2025.scored);
  });
});

/** An SDK v2 client with a handler for every input kind; asked records elicitation messages. */
function makeClient(mode) {
  const client = new Client({ name: 'mcpauth-bridge-check', version: '1.0.0' }, {
    capabilities: { elicitation: {}, sampling: {}, roots: {} },
    versionNegotiation: { mode },
  });
  const asked = [];
  client.setRequestHandler('elicitation/create', async (req) => {
    asked.push(req.params.message);
    const fields = Object.keys(req.params.requestedSchema?.properties ?? {});
    const answers = { name: 'Alice', color: 'blue', ok: true, context: 'tests' };
    return { action: 'accept', content: Object.fromEntries(fields.map((f) => [f, answers[f] ?? 'x'])) };
  });
  client.setRequestHandler('sampling/createMessage', async () => ({
    role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn',
  }));
  client.setRequestHandler('roots/list', async () => ({ roots: [{ uri: 'file:///tmp/root', name: 'root' }] }));
  return { client, asked };
}

const textOf = (result) => result.content?.find((c) => c.type === 'text')?.text;

describe('SDK v2 client through serve --no-auth -- <2025-era stdio server> (the era bridge)', () => {
  let serve;
  before(async () => {
    serve = await startServe(['--no-auth', '--', process.execPath, LEGACY_FIXTURE]);
  });
  after(async () => {
    await serve?.stop();
  });

  for (const [label, mode] of [['pinned to 2026-07-28', { pin: MODERN }], ['auto', 'auto']]) {
    test(`${label}: negotiates 2026-07-28; tools, a two-round elicitation, all three input kinds, a prompt`, async () => {
      const { client, asked } = makeClient(mode);
      await client.connect(new StreamableHTTPClientTransport(new URL(serve.resource)));
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
        assert.equal(client.getServerVersion()?.name, 'mcpauth-conformance-fixture');
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'test_simple_text'));
        assert.equal(textOf(await client.callTool({ name: 'test_simple_text', arguments: {} })),
          'This is a simple text response for testing.');
        assert.equal(textOf(await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} })),
          'Alice likes blue');
        assert.deepEqual(asked, ['Step 1: What is your name?', 'Step 2: What is your favorite color?']);
        assert.equal(textOf(await client.callTool({ name: 'test_input_required_result_multiple_inputs', arguments: {} })),
          'name=Alice; greeting=Paris; roots=file:///tmp/root');
        const prompt = await client.getPrompt({ name: 'test_input_required_result_prompt' });
        assert.equal(prompt.messages[0].content.text, 'Prompt with context: tests');
      } finally {
        await client.close();
      }
    });
  }
});
