// Integration tests for the era bridge: a client of MCP 2026-07-28 (stateless, per-request
// _meta, InputRequiredResult) through `mcpauth serve -- COMMAND` to a stdio server of the 2025
// era (tests/fixtures/stdio-server.mjs, which knows only initialize and sessions): the
// modern shape of answers, server/discover from the child's initialize, what the child is
// told (initialize, _meta stripped), -32022 listing both eras, a request of the child
// mid-call as an InputRequiredResult and the retry with inputResponses, the requestState
// refused when tampered with, replayed, expired (--request-state-ttl) or presented by another
// identity (auth on, two tokens), -32021 for a capability the request did not declare, a
// closed stream reaching the child as notifications/cancelled, and one child per identity.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-bridge.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startServe, startHttpServer, tmpDir } from '../lib/harness.mjs';
import { sleep } from '../lib/http.mjs';

const FIXTURE = path.join(REPO_ROOT, 'tests/fixtures/stdio-server.mjs');
const NODE = process.execPath;
const MODERN = '2026-07-28';
const ALL_CAPS = { elicitation: {}, sampling: {}, roots: {} };

let nextId = 1;

/** A modern request's body: the method, params and the required _meta. */
function body(method, params = {}, { caps = ALL_CAPS, meta = {}, id = nextId++ } = {}) {
  return {
    jsonrpc: '2.0', id, method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': caps,
        'io.modelcontextprotocol/clientInfo': { name: 'bridge-test', version: '9.9.9' },
        ...meta,
      },
    },
  };
}

/** POSTs a modern request with the mirrored headers; {status, json, events, text}. */
async function modern(serve, message, { token, version = MODERN, signal } = {}) {
  const headers = {
    'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'mcp-protocol-version': version, 'mcp-method': message.method,
  };
  const name = message.params?.name ?? message.params?.uri;
  if (name !== undefined) headers['mcp-name'] = name;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(serve.resource, { method: 'POST', headers, body: JSON.stringify(message), signal });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream')) {
    const events = text.split('\n\n').map((b) => b.split('\n').filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6)).join('')).filter(Boolean).map((d) => JSON.parse(d));
    return { status: res.status, json: events.at(-1), events, text };
  }
  return { status: res.status, json: text ? JSON.parse(text) : undefined, events: [], text };
}

const callTool = (serve, name, args = {}, opts = {}) =>
  modern(serve, body('tools/call', { name, arguments: args, ...(opts.params ?? {}) }, opts), opts);
const textOf = (r) => r.json?.result?.content?.find((c) => c.type === 'text')?.text;

/** Flips one byte in the middle of a base64url requestState (to another base64url char). */
function tamper(state) {
  const i = Math.floor(state.length / 2);
  return state.slice(0, i) + (state[i] === 'A' ? 'B' : 'A') + state.slice(i + 1);
}

describe('serve -- <a 2025-era stdio server> for a 2026-07-28 client (--no-auth)', () => {
  let s;
  before(async () => {
    s = await startServe(['--no-auth', '--', NODE, FIXTURE]);
  });
  after(async () => {
    await s?.stop();
  });

  test('server/discover is answered from the child\'s initialize, in the modern shape', async () => {
    const r = await modern(s, body('server/discover'));
    assert.equal(r.status, 200);
    const result = r.json.result;
    assert.equal(result.resultType, 'complete');
    assert.deepEqual(result.supportedVersions, [MODERN, '2025-11-25', '2025-06-18', '2025-03-26']);
    assert.deepEqual(result.capabilities, { tools: {}, logging: {} });
    assert.deepEqual(result._meta['io.modelcontextprotocol/serverInfo'], { name: 'stdio-fixture', version: '1.0.0' });
  });

  test('tools/call: resultType complete, serverInfo in _meta; tools/list with caching hints', async () => {
    const r = await callTool(s, 'echo', { text: 'hi there' });
    assert.equal(r.status, 200);
    assert.equal(textOf(r), 'hi there');
    assert.equal(r.json.result.resultType, 'complete');
    assert.equal(r.json.result._meta['io.modelcontextprotocol/serverInfo'].name, 'stdio-fixture');
    const list = await modern(s, body('tools/list'));
    assert.equal(list.json.result.resultType, 'complete');
    assert.equal(list.json.result.ttlMs, 0);
    assert.equal(list.json.result.cacheScope, 'private');
    assert.ok(list.json.result.tools.some((t) => t.name === 'echo'));
  });

  test('the child got initialize (2025-11-25, the client\'s info) and requests without the io.modelcontextprotocol/ keys', async () => {
    const init = JSON.parse(textOf(await callTool(s, 'init')));
    assert.equal(init.protocolVersion, '2025-11-25');
    assert.deepEqual(init.clientInfo, { name: 'bridge-test', version: '9.9.9' });
    for (const cap of ['elicitation', 'sampling', 'roots']) assert.ok(init.capabilities[cap], cap);
    const meta = JSON.parse(textOf(await callTool(s, 'meta', {}, { meta: { progressToken: 'p1', 'x.example/keep': 1 } })));
    // The progress token is the bridge's own (unique per child); other keys pass as they are.
    assert.deepEqual(Object.keys(meta).sort(), ['progressToken', 'x.example/keep']);
    assert.equal(meta['x.example/keep'], 1);
    assert.ok(!Object.keys(meta).some((k) => k.startsWith('io.modelcontextprotocol/')));
  });

  test('an unsupported version: 400 -32022 listing both eras, with the request id', async () => {
    const msg = body('tools/list', {}, { meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } });
    const r = await modern(s, msg, { version: '2099-01-01' });
    assert.equal(r.status, 400);
    assert.equal(r.json.id, msg.id);
    assert.equal(r.json.error.code, -32022);
    assert.deepEqual(r.json.error.data.supported, [MODERN, '2025-11-25', '2025-06-18', '2025-03-26']);
  });

  test('subscriptions/listen: acknowledged with an empty filter (change notifications are not relayed)', async () => {
    const abort = new AbortController();
    const msg = body('subscriptions/listen', { notifications: { toolsListChanged: true } });
    const res = await fetch(s.resource, {
      method: 'POST', signal: abort.signal, body: JSON.stringify(msg),
      headers: {
        'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen',
      },
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    const ack = JSON.parse(text.split('\n').find((l) => l.startsWith('data: ')).slice(6));
    assert.equal(ack.method, 'notifications/subscriptions/acknowledged');
    assert.deepEqual(ack.params.notifications, {});
  });

  test('removed and unknown methods: 404 -32601', async () => {
    for (const method of ['ping', 'initialize', 'no/such']) {
      const r = await modern(s, body(method));
      assert.equal(r.status, 404, method);
      assert.equal(r.json.error.code, -32601, method);
    }
  });

  test('elicitation mid-call: InputRequiredResult, the retry completes; replay and tampering refused', async () => {
    const first = await callTool(s, 'elicit');
    assert.equal(first.status, 200);
    const irr = first.json.result;
    assert.equal(irr.resultType, 'input_required');
    const keys = Object.keys(irr.inputRequests);
    assert.equal(keys.length, 1);
    assert.equal(irr.inputRequests[keys[0]].method, 'elicitation/create');
    assert.equal(irr.inputRequests[keys[0]].params.message, 'Your name?');
    assert.equal(typeof irr.requestState, 'string');
    const inputResponses = { [keys[0]]: { action: 'accept', content: { name: 'Ada' } } };

    // Tampered: refused with the request's id; the child's call is not touched.
    const bad = body('tools/call', { name: 'elicit', arguments: {}, inputResponses, requestState: tamper(irr.requestState) });
    const refused = await modern(s, bad);
    assert.equal(refused.json.id, bad.id);
    assert.equal(refused.json.error.code, -32602);
    const suffixed = await callTool(s, 'elicit', {}, { params: { inputResponses, requestState: `${irr.requestState}-TAMPERED` } });
    assert.equal(suffixed.json.error.code, -32602);
    // Another request's state: refused too.
    const other = await callTool(s, 'echo', { text: 'x' }, { params: { inputResponses, requestState: irr.requestState } });
    assert.equal(other.json.error.code, -32602);

    const done = await callTool(s, 'elicit', {}, { params: { inputResponses, requestState: irr.requestState } });
    assert.equal(done.status, 200);
    assert.equal(textOf(done), 'hello Ada');
    assert.equal(done.json.result.resultType, 'complete');

    const replay = await callTool(s, 'elicit', {}, { params: { inputResponses, requestState: irr.requestState } });
    assert.equal(replay.json.error.code, -32602);
    assert.match(replay.json.error.message, /used already/);
  });

  test('a retry without the answer is asked again; inputResponses that are no object are refused', async () => {
    const first = await callTool(s, 'sample');
    const irr = first.json.result;
    const key = Object.keys(irr.inputRequests)[0];
    assert.equal(irr.inputRequests[key].method, 'sampling/createMessage');
    const again = await callTool(s, 'sample', {}, { params: { inputResponses: { wrong: {} }, requestState: irr.requestState } });
    assert.equal(again.json.result.resultType, 'input_required');
    assert.deepEqual(Object.keys(again.json.result.inputRequests), [key]);
    assert.notEqual(again.json.result.requestState, irr.requestState);
    const nulls = await callTool(s, 'sample', {}, { params: { inputResponses: null } });
    assert.equal(nulls.status, 400);
    assert.equal(nulls.json.error.code, -32602);
    const done = await callTool(s, 'sample', {}, {
      params: {
        inputResponses: { [key]: { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'm' } },
        requestState: again.json.result.requestState,
      },
    });
    assert.equal(textOf(done), 'client said: Paris');
  });

  test('calls waiting for input and a running call share the caller\'s one child', async () => {
    const pid = textOf(await callTool(s, 'pid'));
    const a = (await callTool(s, 'elicit')).json.result;
    const b = (await callTool(s, 'sample')).json.result;
    assert.equal(a.resultType, 'input_required');
    assert.equal(b.resultType, 'input_required');
    // A retry while another call runs waits for it: the child's next request could not be
    // told apart from that call's.
    const slow = callTool(s, 'slow', { ms: 500 });
    await sleep(100);
    const keyA = Object.keys(a.inputRequests)[0];
    const keyB = Object.keys(b.inputRequests)[0];
    const [doneA, doneB, doneSlow] = await Promise.all([
      callTool(s, 'elicit', {}, { params: { inputResponses: { [keyA]: { action: 'accept', content: { name: 'Grace' } } }, requestState: a.requestState } }),
      callTool(s, 'sample', {}, {
        params: { inputResponses: { [keyB]: { role: 'assistant', content: { type: 'text', text: 'Rome' }, model: 'm' } }, requestState: b.requestState },
      }),
      slow,
    ]);
    assert.equal(textOf(doneA), 'hello Grace');
    assert.equal(textOf(doneB), 'client said: Rome');
    assert.equal(textOf(doneSlow), 'slow done');
    assert.equal(textOf(await callTool(s, 'pid')), pid);
  });

  test('a request of the child the client did not declare the capability for: 400 -32021', async () => {
    const msg = body('tools/call', { name: 'sample', arguments: {} }, { caps: {} });
    const r = await modern(s, msg);
    assert.equal(r.status, 400);
    assert.equal(r.json.id, msg.id);
    assert.equal(r.json.error.code, -32021);
    assert.deepEqual(r.json.error.data.requiredCapabilities, { sampling: {} });
  });

  test('progress travels on the response stream with the client\'s token', async () => {
    const r = await callTool(s, 'progress', { steps: 2 }, { meta: { progressToken: 'tok-7' } });
    const progress = r.events.filter((e) => e.method === 'notifications/progress');
    assert.deepEqual(progress.map((e) => e.params.progressToken), ['tok-7', 'tok-7']);
    assert.equal(textOf(r), 'done');
    // notifications/message only for a request that asked for a log level.
    const quiet = await callTool(s, 'log');
    assert.ok(!quiet.events.some((e) => e.method === 'notifications/message'));
    const loud = await callTool(s, 'log', {}, { meta: { 'io.modelcontextprotocol/logLevel': 'info' } });
    assert.ok(loud.events.some((e) => e.method === 'notifications/message'));
  });

  test('the child exits: calls fail with why, a waiting call\'s retry gets the error, the next call starts a new child', async () => {
    const pid = textOf(await callTool(s, 'pid'));
    const irr = (await callTool(s, 'elicit')).json.result;
    const crash = await callTool(s, 'crash');
    assert.equal(crash.json.error.code, -32603);
    assert.match(crash.json.error.message, /exited with status 7/);
    const key = Object.keys(irr.inputRequests)[0];
    const retry = await callTool(s, 'elicit', {}, { params: { inputResponses: { [key]: { action: 'accept', content: { name: 'x' } } }, requestState: irr.requestState } });
    assert.match(retry.json.error.message, /exited with status 7/);
    const again = textOf(await callTool(s, 'pid'));
    assert.ok(again && again !== pid, `a new child (${pid} -> ${again})`);
  });

  test('closing the response stream cancels the call at the child', async () => {
    const abort = new AbortController();
    const msg = body('tools/call', { name: 'slow', arguments: { ms: 3000 } });
    const pending = modern(s, msg, { signal: abort.signal }).catch((err) => err);
    await sleep(400);
    abort.abort();
    await pending;
    let cancelled = [];
    for (let i = 0; i < 40 && cancelled.length === 0; i++) {
      await sleep(100);
      cancelled = JSON.parse(textOf(await callTool(s, 'cancelled')));
    }
    assert.equal(cancelled.length, 1, `the child heard notifications/cancelled\n${s.stderr()}`);
  });
});

describe('the requestState expires (--request-state-ttl)', () => {
  let s;
  before(async () => {
    s = await startServe(['--no-auth', '--request-state-ttl', '1', '--', NODE, FIXTURE]);
  });
  after(async () => {
    await s?.stop();
  });

  test('a retry after the TTL: -32602, and the child\'s call is cancelled', async () => {
    const first = await callTool(s, 'elicit');
    const irr = first.json.result;
    await sleep(1300);
    const key = Object.keys(irr.inputRequests)[0];
    const late = await callTool(s, 'elicit', {}, {
      params: { inputResponses: { [key]: { action: 'accept', content: { name: 'late' } } }, requestState: irr.requestState },
    });
    assert.equal(late.json.error.code, -32602);
    assert.match(late.json.error.message, /expired/);
    const cancelled = JSON.parse(textOf(await callTool(s, 'cancelled')));
    assert.equal(cancelled.length, 1, 'the waiting call was cancelled at the child when its state expired');
  });
});

describe('--max-input-waits 1: a second call waiting for input cancels the first', () => {
  let s;
  before(async () => {
    s = await startServe(['--no-auth', '--max-input-waits', '1', '--', NODE, FIXTURE]);
  });
  after(async () => {
    await s?.stop();
  });

  test('the oldest waiting call is cancelled at the child; its retry is refused, the newer one completes', async () => {
    const first = (await callTool(s, 'elicit')).json.result;
    const second = (await callTool(s, 'elicit')).json.result;
    const answer = (irr, name) => ({ inputResponses: { [Object.keys(irr.inputRequests)[0]]: { action: 'accept', content: { name } } }, requestState: irr.requestState });
    const stale = await callTool(s, 'elicit', {}, { params: answer(first, 'one') });
    assert.equal(stale.json.error.code, -32602);
    assert.match(stale.json.error.message, /call is over/);
    assert.equal(textOf(await callTool(s, 'elicit', {}, { params: answer(second, 'two') })), 'hello two');
    const cancelled = JSON.parse(textOf(await callTool(s, 'cancelled')));
    assert.equal(cancelled.length, 1);
    await s.waitForLog(/--max-input-waits/);
  });
});

describe('--shared-backend: every identity\'s session on the one child', () => {
  let s;
  before(async () => {
    s = await startServe(['--no-auth', '--shared-backend', '--', NODE, FIXTURE]);
  });
  after(async () => {
    await s?.stop();
  });

  test('modern calls and an InputRequiredResult round trip through the shared child', async () => {
    const pid = textOf(await callTool(s, 'pid'));
    const irr = (await callTool(s, 'elicit')).json.result;
    const key = Object.keys(irr.inputRequests)[0];
    const done = await callTool(s, 'elicit', {}, { params: { inputResponses: { [key]: { action: 'accept', content: { name: 'Lin' } } }, requestState: irr.requestState } });
    assert.equal(textOf(done), 'hello Lin');
    assert.equal(textOf(await callTool(s, 'pid')), pid);
  });
});

describe('with auth on: one child per identity, a state bound to its identity', () => {
  let as;
  let s;
  const tokens = { 'tok-alice': 'alice', 'tok-bob': 'bob' };
  before(async () => {
    let resource;
    as = await startHttpServer(async (req, res) => {
      let raw = '';
      for await (const d of req) raw += d;
      const sub = tokens[new URLSearchParams(raw).get('token')];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(sub ? {
        active: true, sub, client_id: 'client-1', scope: 'mcp',
        aud: resource, iss: as.origin, exp: Math.floor(Date.now() / 1000) + 3600,
      } : { active: false }));
    });
    const dir = tmpDir();
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, 'rs-secret', { mode: 0o600 });
    s = await startServe((port) => {
      resource = `http://127.0.0.1:${port}/mcp`;
      return ['--issuer', as.origin, '--introspection-endpoint', `${as.origin}/introspect`,
        '--client-id', 'rs', '--client-secret-file', secretFile, '--', NODE, FIXTURE];
    });
  });
  after(async () => {
    await s?.stop();
    await as?.stop();
  });

  test('no token: 401, as in the 2025 era', async () => {
    const r = await callTool(s, 'echo', { text: 'x' });
    assert.equal(r.status, 401);
  });

  test('each identity has its own child, which sees its subject', async () => {
    const envA = JSON.parse(textOf(await callTool(s, 'env', {}, { token: 'tok-alice' })));
    const envB = JSON.parse(textOf(await modern(s, body('tools/call', { name: 'env', arguments: {} }), { token: 'tok-bob' })));
    assert.equal(envA.MCPAUTH_SUBJECT, 'alice');
    assert.equal(envB.MCPAUTH_SUBJECT, 'bob');
    assert.ok(!JSON.stringify(envA).includes('tok-alice'), 'the token never reaches the child');
    const pidA = textOf(await callTool(s, 'pid', {}, { token: 'tok-alice' }));
    const pidB = textOf(await callTool(s, 'pid', {}, { token: 'tok-bob' }));
    assert.notEqual(pidA, pidB);
    assert.equal(textOf(await callTool(s, 'pid', {}, { token: 'tok-alice' })), pidA);
  });

  test('another identity replaying the state: -32602; the owner\'s call is unaffected', async () => {
    const first = await callTool(s, 'elicit', {}, { token: 'tok-alice' });
    const irr = first.json.result;
    assert.equal(irr.resultType, 'input_required');
    const key = Object.keys(irr.inputRequests)[0];
    const params = { inputResponses: { [key]: { action: 'accept', content: { name: 'Mallory' } } }, requestState: irr.requestState };
    const msg = body('tools/call', { name: 'elicit', arguments: {}, ...params });
    const foreign = await modern(s, msg, { token: 'tok-bob' });
    assert.equal(foreign.json.id, msg.id);
    assert.equal(foreign.json.error.code, -32602);
    assert.match(foreign.json.error.message, /another principal/);
    const own = await callTool(s, 'elicit', {}, {
      token: 'tok-alice',
      params: { inputResponses: { [key]: { action: 'accept', content: { name: 'Alice' } } }, requestState: irr.requestState },
    });
    assert.equal(textOf(own), 'hello Alice');
  });
});
