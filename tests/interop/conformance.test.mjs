// Acceptance test for issue 5: the official MCP conformance suite
// (@modelcontextprotocol/conformance 0.1.16, its 30 active server scenarios) through
// `mcpauth serve --no-auth -- node fixtures/conformance-server.mjs`, i.e. through the
// stdio bridge. conformance-fixture.test.mjs is the control: the same fixture behind the
// SDK's own Streamable HTTP transport passes every scenario, so a failure here is the
// bridge's. The suite sends no Authorization header (PEERS.md, CF-2), hence --no-auth on
// loopback. Run: cd tests/interop && MCPAUTH_BIN=../../build/mcpauth node --test conformance.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertScenariosPassed, listScenarios, runConformance, startBridgedConformanceFixture,
} from './lib/conformance.mjs';

// 0.1.16's active server suite: the 2025-11-25 required set (PROTOCOL-CHECKLIST.md §6.3).
const ACTIVE_COUNT = 30;

test('MCP conformance through mcpauth serve -- stdio server', { timeout: 600000 }, async (t) => {
  const expected = await listScenarios();
  assert.equal(expected.length, ACTIVE_COUNT, expected.join(', '));
  const serve = await startBridgedConformanceFixture();
  try {
    await assertScenariosPassed(t, await runConformance({ url: serve.resource }), expected);
  } finally {
    const exit = await serve.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, serve.stderr().slice(-3000));
    assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  }
});
