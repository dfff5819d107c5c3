// Interop tests for `mcpauth serve -- COMMAND` when the command speaks MCP 2026-07-28 on
// stdio (fixtures/modern-server.mjs, an SDK v2 server): mcpauth probes the child with
// server/discover, finds it modern, and serves every modern request through one shared
// child, multiplexed by request id; 2025-era clients keep a child per session.
//
// - `conformance server --requirements 2026-07-28` (0.2.0-alpha.12) through
//   `serve --no-auth -- node modern-server.mjs stdio`: every scenario that passes against the
//   fixture served directly (over HTTP) passes through mcpauth; `--requirements 2025-11-25`
//   through the same URL too (the fixture is dual-era; its 2025 clients get their own child).
// - The same 2026-07-28 run with authentication on (Ed25519 JWTs against a --jwks-file),
//   through a proxy that adds the Bearer token the suite does not send.
// - The SDK v2 client pinned to 2026-07-28, in 'auto' and in legacy mode, gets its answers
//   through the stdio child, MRTR and subscriptions/listen included.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-stdio-modern.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { keyPair, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { startWireRecorder } from './lib/wire-recorder.mjs';
import {
  MODERN_FIXTURE, assertScenariosPass, describeFailures, readRequirements, runRequirements, startBridgedModernFixture,
  startModernFixture,
} from './lib/conformance-next.mjs';

const MODERN = '2026-07-28';
const textOf = (result) => result.content?.find((c) => c.type === 'text')?.text;

let key;
let jwksFile;
let issuer;

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function tokenFor(resource, scope) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed-1' })}.${b64({
    iss: issuer, sub: 'u1', aud: resource, client_id: 'c1', scope, iat: now, exp: now + 3600,
  })}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}

before(async () => {
  const dir = tmpDir();
  const { publicKey, privateKey } = keyPair('ed25519');
  key = privateKey;
  jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA', use: 'sig' }],
  }));
  issuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
});

/** The scenarios that pass against the fixture served directly, and what broke of them through mcpauth. */
function brokenThrough(direct, through) {
  const passedDirectly = direct.scenarios.filter((s) => s.failed === 0).map((s) => s.name);
  const byName = new Map(through.scenarios.map((s) => [s.name, s]));
  return {
    passedDirectly,
    broken: passedDirectly.filter((name) => byName.get(name)?.failed !== 0)
      .map((name) => `${name}${describeFailures(byName.get(name) ?? {})}`),
  };
}

describe('conformance 0.2.0-alpha.12 through serve -- <modern fixture on stdio>', () => {
  let direct;
  let modernDirect;
  let noAuth;
  let modern;
  let legacy;
  let authed;
  let modernAuthed;
  let rec;
  let noAuthExit;
  const req2026 = readRequirements(MODERN);
  const req2025 = readRequirements('2025-11-25');

  before(async () => {
    direct = await startModernFixture();
    modernDirect = await runRequirements({ url: direct.url, revision: MODERN });
    await direct.stop();
    noAuth = await startBridgedModernFixture();
    modern = await runRequirements({ url: noAuth.resource, revision: MODERN });
    legacy = await runRequirements({ url: noAuth.resource, revision: '2025-11-25' });
    noAuthExit = await noAuth.stop();
    authed = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--', process.execPath, MODERN_FIXTURE, 'stdio']);
    rec = await startWireRecorder(authed.resource, {
      addHeaders: { authorization: `Bearer ${tokenFor(authed.resource, 'mcp')}` }, originToTarget: true,
    });
    modernAuthed = await runRequirements({ url: rec.url, revision: MODERN });
  });
  after(async () => {
    await rec?.stop();
    await authed?.stop();
    await noAuth?.stop();
    await direct?.stop();
  });

  test('the child is probed once and found modern; the server stops cleanly', () => {
    assert.match(noAuth.stderr(), /speaks MCP 2026-07-28 \(server\/discover answered\)/);
    assert.equal((noAuth.stderr().match(/asking which MCP era it speaks/g) ?? []).length, 1);
    assert.deepEqual(noAuthExit, { code: 0, signal: null }, noAuth.stderr().slice(-3000));
    assert.doesNotMatch(noAuth.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
  });

  test('--requirements 2026-07-28, no auth: every scored scenario passes, exit 0', async (t) => {
    await assertScenariosPass(t, modern, req2026.scored);
    assert.equal(modern.exitCode, 0, modern.stdout.slice(-3000));
  });

  test('no auth: every scenario that passes against the fixture directly passes through mcpauth', () => {
    const { passedDirectly, broken } = brokenThrough(modernDirect, modern);
    assert.ok(passedDirectly.length >= req2026.scored.length, modernDirect.stdout.slice(-2000));
    assert.deepEqual(broken, []);
  });

  test('--requirements 2025-11-25 through the same URL: every scored scenario passes', async (t) => {
    await assertScenariosPass(t, legacy, req2025.scored);
  });

  test('auth on, through a token-adding proxy: every scenario that passes directly passes', () => {
    const { broken } = brokenThrough(modernDirect, modernAuthed);
    assert.deepEqual(broken, []);
    assert.ok(rec.exchanges.length > 0);
    assert.ok(rec.exchanges.every((e) => e.status !== 401), 'a request was refused');
  });
});

function makeClient(mode) {
  const client = new Client({ name: 'mcpauth-stdio-modern', version: '1.0.0' }, {
    capabilities: { elicitation: {} },
    ...(mode === undefined ? {} : { versionNegotiation: { mode } }),
  });
  const answers = { name: 'Alice', color: 'blue', ok: true };
  client.setRequestHandler('elicitation/create', async (req) => {
    const fields = Object.keys(req.params.requestedSchema?.properties ?? {});
    return { action: 'accept', content: Object.fromEntries(fields.map((f) => [f, answers[f] ?? 'x'])) };
  });
  return client;
}

describe('SDK v2 client through serve -- <modern fixture on stdio>, auth on', () => {
  let s;
  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--tool-scope', 'test_image_content=mcp:images',
      '--', process.execPath, MODERN_FIXTURE, 'stdio']);
  });
  after(async () => { await s?.stop(); });

  const transport = (scope = 'mcp') => new StreamableHTTPClientTransport(new URL(s.resource), {
    requestInit: { headers: { authorization: `Bearer ${tokenFor(s.resource, scope)}` } },
  });

  for (const [label, mode, version, era] of [
    ['pinned to 2026-07-28', { pin: MODERN }, MODERN, 'modern'],
    ['auto', 'auto', MODERN, 'modern'],
    ['legacy (the default)', undefined, '2025-11-25', 'legacy'],
  ]) {
    test(`${label}: negotiates ${version}; tools, the policy's filter and MRTR work`, async () => {
      const client = makeClient(mode);
      await client.connect(transport());
      try {
        assert.equal(client.getNegotiatedProtocolVersion(), version);
        assert.equal(client.getProtocolEra(), era);
        assert.equal(client.getServerVersion()?.name, 'mcpauth-modern-fixture');
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'test_simple_text'));
        assert.ok(!tools.some((t) => t.name === 'test_image_content'), 'the policy filters the list');
        assert.equal(textOf(await client.callTool({ name: 'test_simple_text', arguments: {} })),
          'This is a simple text response for testing.');
        const mrtr = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
        assert.equal(textOf(mrtr), 'Alice likes blue');
      } finally {
        await client.close();
      }
    });
  }

  test('pinned: concurrent calls of two callers share the one child; a listen stream is relayed', async () => {
    const a = makeClient({ pin: MODERN });
    const b = makeClient({ pin: MODERN });
    await a.connect(transport());
    await b.connect(transport('mcp mcp:images'));
    try {
      const results = await Promise.all([...Array(8)].map((_, i) =>
        (i % 2 ? a : b).callTool({ name: 'test_simple_text', arguments: {} })));
      for (const r of results) assert.equal(textOf(r), 'This is a simple text response for testing.');
      const sub = await a.listen({ toolsListChanged: true });
      assert.deepEqual(sub.honoredFilter, { toolsListChanged: true });
      await sub.close();
      await sub.closed;
    } finally {
      await a.close();
      await b.close();
    }
    assert.equal((s.stderr().match(/asking which MCP era it speaks/g) ?? []).length, 1, s.stderr().slice(-3000));
  });
});
