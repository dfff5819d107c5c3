// JSON-RPC ids and method names through the real binary (JSON-RPC 2.0 §4, §5):
// an id comes back exactly as sent or the message is refused with -32600, never
// echoed as another number; a method name holding U+0000 is refused, never served
// as the name before it. Over Streamable HTTP (POST /mcp); the legacy transport and
// batches classify messages with the same code (tests/unit/test_mcp.c).
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-jsonrpc-ids.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServe } from '../lib/harness.mjs';

/** POST a raw JSON text to /mcp (stateless, no token needed with --no-auth). */
async function post(s, text) {
  const res = await fetch(s.url('/mcp'), {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
    },
    body: text,
  });
  return { status: res.status, body: await res.text() };
}

describe('JSON-RPC ids and method names', () => {
  let s;
  before(async () => { s = await startServe(['--no-auth', '--stateless']); });
  after(async () => { await s?.stop('SIGTERM'); });

  test('integer ids within -(2^63-1) .. 2^64-2 come back digit for digit', async () => {
    for (const id of ['0', '7', '-4', '9007199254740993', '9223372036854775807', '9223372036854775808',
      '18446744073709551614', '-9223372036854775807']) {
      const r = await post(s, `{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
      assert.equal(r.status, 200, `${id}: ${r.body}`);
      assert.ok(r.body.includes(`"id":${id},`), `${id} came back as ${r.body}`);
    }
  });

  test('an id that cannot come back as sent (400 digits, the 64-bit bounds and beyond) → 400, -32600', async () => {
    for (const id of ['7'.repeat(400), '-' + '7'.repeat(400), '18446744073709551615', '18446744073709551616',
      '-9223372036854775808']) {
      const r = await post(s, `{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
      assert.equal(r.status, 400, `${id.slice(0, 24)}: ${r.body}`);
      const body = JSON.parse(r.body);
      assert.equal(body.error.code, -32600, r.body);
      assert.equal(body.id, null, r.body);
    }
  });

  test('a method name holding U+0000 is refused (-32600), not served as "ping"', async () => {
    for (const text of ['{"jsonrpc":"2.0","id":1,"method":"ping\\u0000"}',
      '{"jsonrpc":"2.0","id":1,"method":"ping\\u0000tools/call"}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/list\\u0000x"}']) {
      const r = await post(s, text);
      assert.equal(r.status, 400, `${text}: ${r.body}`);
      assert.equal(JSON.parse(r.body).error.code, -32600, r.body);
    }
    const ok = await post(s, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
    assert.equal(ok.status, 200, ok.body);
  });
});
