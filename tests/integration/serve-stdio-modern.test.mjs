// Integration tests for `mcpauth serve -- COMMAND` with a child of the MCP 2026-07-28 era
// (tests/fixtures/modern-stdio-server.mjs): the probe with server/discover, one child shared
// by every modern caller with requests multiplexed by request id (the child sees our ids,
// each caller its own), _meta untouched, progress and log routing, subscriptions/listen,
// the revision's errors as HTTP statuses (-32021 400, -32601 404, -32022 400), a client
// that closes its response stream reaching the child as notifications/cancelled, a crashed
// child restarted and probed again, and a 2025-era child (tests/fixtures/stdio-server.mjs)
// whose modern clients get -32022 naming the 2025 versions while its sessions work.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-stdio-modern.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT, startServe, tmpDir } from '../lib/harness.mjs';

const MODERN_CHILD = path.join(REPO_ROOT, 'tests/fixtures/modern-stdio-server.mjs');
const LEGACY_CHILD = path.join(REPO_ROOT, 'tests/fixtures/stdio-server.mjs');
const NODE = process.execPath;
const MODERN = '2026-07-28';
const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const envelope = (extra = {}) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'serve-stdio-modern-test', version: '1.0.0' },
  ...extra,
});
const request = (id, method, params = {}, meta = {}) => ({ jsonrpc: '2.0', id, method, params: { ...params, _meta: envelope(meta) } });
const call = (id, name, args = {}, meta = {}) => request(id, 'tools/call', { name, arguments: args }, meta);

function headersFor(message) {
  const h = {
    accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': MODERN,
  };
  if (message.id !== undefined) h['mcp-method'] = message.method;
  if (message.method === 'tools/call') h['mcp-name'] = message.params.name;
  return h;
}

/** Parses a text/event-stream body into the JSON messages of its data lines. */
const eventsOf = (text) => text.split('\n\n').flatMap((block) => {
  const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
  return data ? [JSON.parse(data)] : [];
});

/** One POST whose answer is read as it comes: {status, headers, text(), messages(), waitFor(pred), close()}. */
function open(s, message, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(s.url('/mcp'), { method: 'POST', headers: { ...headersFor(message), ...headers }, agent: false }, (res) => {
      let data = '';
      const waiters = new Set();
      const ended = new Promise((r) => res.on('end', r));
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; for (const w of [...waiters]) w(); });
      res.on('error', () => {});
      const messages = () => (res.headers['content-type']?.startsWith('text/event-stream') ? eventsOf(data) : [JSON.parse(data)]);
      resolve({
        status: res.statusCode,
        headers: res.headers,
        text: async () => { await ended; return data; },
        messages: async () => { await ended; return messages(); },
        waitFor: (pred, ms = 10000) => new Promise((ok, fail) => {
          const check = () => {
            const found = eventsOf(data).find(pred);
            if (found) { waiters.delete(check); clearTimeout(timer); ok(found); }
          };
          const timer = setTimeout(() => { waiters.delete(check); fail(new Error(`no such event in ${ms} ms:\n${data}`)); }, ms);
          waiters.add(check);
          check();
        }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(message));
  });
}

/** POSTs message and reads the whole answer: {status, type, messages, last (the response)}. */
async function post(s, message) {
  return openWith(s, message, {});
}

/** post() with extra or replaced request headers. */
async function openWith(s, message, headers) {
  const r = await open(s, message, headers);
  const messages = await r.messages();
  return { status: r.status, type: r.headers['content-type'], session: r.headers['mcp-session-id'], messages, last: messages.at(-1) };
}

/** The messages the child received (its --record file). */
const received = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

/** Stops serve and checks it exited cleanly (with ASan/UBSan builds: nothing reported). */
async function stopClean(s) {
  if (!s) return;
  const exit = await s.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, s.stderr().slice(-3000));
  assert.doesNotMatch(s.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
}

async function until(pred, what, ms = 5000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (pred()) return;
  assert.fail(`timed out waiting for ${what}`);
}

describe('a modern stdio child', () => {
  let s;
  let record;
  before(async () => {
    record = path.join(tmpDir(), 'received.jsonl');
    s = await startServe(['--no-auth', '--backend-timeout', '5', '--', NODE, MODERN_CHILD, '--record', record]);
  });
  after(async () => { await stopClean(s); });

  test('is probed with server/discover first, then serves the request; server/discover passes through', async () => {
    const r = await post(s, request('d-1', 'server/discover'));
    assert.equal(r.status, 200);
    assert.equal(r.last.id, 'd-1');
    assert.deepEqual(r.last.result.supportedVersions, [MODERN]);
    assert.equal(r.last.result._meta['io.modelcontextprotocol/serverInfo'].name, 'modern-stdio-fixture');
    assert.equal(r.session, undefined);
    const [probe, list, mine] = received(record);
    assert.equal(probe.method, 'server/discover');
    assert.equal(probe.params._meta['io.modelcontextprotocol/protocolVersion'], MODERN);
    assert.equal(list.method, 'tools/list', 'the tools, for the Mcp-Param-* headers');
    assert.equal(mine.method, 'server/discover');
    assert.equal(typeof mine.id, 'number');
    await s.waitForLog(/speaks MCP 2026-07-28 \(server\/discover answered\)/);
  });

  test('passes _meta through untouched; the child sees our id, the client its own', async () => {
    const meta = { 'io.modelcontextprotocol/logLevel': 'info', 'com.example/trace': { a: [1, 2] }, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const r = await post(s, call('e-1', 'echo', { x: 1 }, meta));
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/json');
    assert.equal(r.last.id, 'e-1');
    const echoed = JSON.parse(r.last.result.content[0].text);
    assert.deepEqual(echoed.arguments, { x: 1 });
    assert.deepEqual(echoed._meta, envelope(meta));
    assert.equal(typeof echoed.id, 'number');
  });

  test('concurrent callers with the same request id are told apart (multiplexed by our ids)', async () => {
    const answers = await Promise.all([700, 100, 400, 200].map((ms) => post(s, call(1, 'slow', { ms }))));
    assert.deepEqual(answers.map((a) => [a.status, a.last.id, a.last.result.content[0].text]),
      [[200, 1, 'slow 700'], [200, 1, 'slow 100'], [200, 1, 'slow 400'], [200, 1, 'slow 200']]);
    assert.equal((s.stderr().match(/asking which MCP era it speaks/g) ?? []).length, 1, 'one child for all');
  });

  test('an answer that takes over a second comes as a stream (keep-alive first, then the response)', async () => {
    const r = await open(s, call('s-1', 'slow', { ms: 2500 }));
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.equal(r.headers['content-type'], 'text/event-stream');
    assert.match(text, /^: keepalive\n\n/);
    assert.equal(eventsOf(text).at(-1).result.content[0].text, 'slow 2500');
  });

  test('Mcp-Param-* headers are checked against the body for the child (x-mcp-header in its tools/list)', async () => {
    const region = (id, headers) => openWith(s, call(id, 'region', { where: { region: 'eu-west' }, count: 42 }), headers);
    const ok = await region('r-1', { 'mcp-param-region': 'eu-west', 'mcp-param-count': '42' });
    assert.equal(ok.status, 200, JSON.stringify(ok.last));
    assert.equal(ok.last.result.content[0].text, 'region eu-west count 42');
    const encoded = await region('r-2', { 'mcp-param-region': `=?base64?${Buffer.from('eu-west').toString('base64')}?=`, 'mcp-param-count': '42.0' });
    assert.equal(encoded.status, 200, JSON.stringify(encoded.last));
    const before = received(record).length;
    for (const [id, headers] of [
      ['r-3', { 'mcp-param-count': '42' }],
      ['r-4', { 'mcp-param-region': 'us-east', 'mcp-param-count': '42' }],
      ['r-5', { 'mcp-param-region': 'eu-west', 'mcp-param-count': '41' }],
      ['r-6', { 'mcp-param-region': '=?base64?%%%?=', 'mcp-param-count': '42' }],
    ]) {
      const r = await region(id, headers);
      assert.deepEqual([r.status, r.last.id, r.last.error?.code], [400, id, -32020], JSON.stringify(r.last));
    }
    assert.equal(received(record).length, before, 'refused before the child saw them');
    // An argument that is absent or null needs no header.
    const absent = await openWith(s, call('r-7', 'region', { count: null }), {});
    assert.equal(absent.status, 200);
  });

  test('a version the child does not list: -32022 naming its versions, before it sees the request', async () => {
    const before = received(record).length;
    const message = call('v-1', 'pid');
    message.params._meta['io.modelcontextprotocol/protocolVersion'] = '2099-01-01';
    const r = await openWith(s, message, { 'mcp-protocol-version': '2099-01-01' });
    assert.equal(r.status, 400);
    assert.deepEqual(r.last.error, { code: -32022, message: 'Unsupported protocol version', data: { supported: [MODERN], requested: '2099-01-01' } });
    assert.equal(r.last.id, 'v-1');
    assert.equal(received(record).length, before);
  });

  test('progress comes back on the request\'s stream with the client\'s token', async () => {
    const r = await post(s, call('p-1', 'progress', {}, { progressToken: 'tok-A' }));
    assert.equal(r.type, 'text/event-stream');
    const progress = r.messages.filter((m) => m.method === 'notifications/progress');
    assert.deepEqual(progress.map((m) => [m.params.progressToken, m.params.progress]), [['tok-A', 1], ['tok-A', 2]]);
    assert.equal(r.last.id, 'p-1');
    const sent = received(record).find((m) => m.params?._meta?.progressToken !== undefined && m.params.name === 'progress');
    assert.equal(sent.params._meta.progressToken, sent.id, 'the child sees a token of ours');
  });

  test('notifications/message goes to the one request that asked for logs', async () => {
    const r = await post(s, call('l-1', 'log', {}, { 'io.modelcontextprotocol/logLevel': 'debug' }));
    assert.deepEqual(r.messages.map((m) => m.method ?? 'response'), ['notifications/message', 'response']);
  });

  test('the revision\'s errors keep their HTTP status: -32021 400, -32601 404, -32022 400', async () => {
    const missing = await post(s, call('c-1', 'needs_sampling'));
    assert.deepEqual([missing.status, missing.last.id, missing.last.error.code], [400, 'c-1', -32021]);
    assert.deepEqual(missing.last.error.data.requiredCapabilities, { sampling: {} });
    const declared = await post(s, call('c-2', 'needs_sampling', {}, { 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } }));
    assert.equal(declared.status, 200);
    assert.equal(declared.last.result.content[0].text, 'sampling declared');
    const unknown = await post(s, request('m-1', 'prompts/list'));
    assert.deepEqual([unknown.status, unknown.last.id, unknown.last.error.code], [404, 'm-1', -32601]);
    const toolError = await post(s, call('t-1', 'no_such_tool'));
    assert.deepEqual([toolError.status, toolError.last.error.code], [200, -32602]);
  });

  test('a client that closes its response stream cancels the request at the child', async () => {
    const r = await open(s, call('h-1', 'hang'));
    await until(() => received(record).some((m) => m.params?.name === 'hang'), 'the call to reach the child');
    const childId = received(record).find((m) => m.params?.name === 'hang').id;
    // Unanswered after a second, the answer became a stream; closing it is the cancellation.
    await r.waitFor(() => false, 1500).catch(() => {});
    assert.equal(r.headers['content-type'], 'text/event-stream');
    r.close();
    await until(() => received(record).some((m) => m.method === 'notifications/cancelled' && m.params.requestId === childId),
      'notifications/cancelled at the child', 1000);
    const cancel = received(record).find((m) => m.method === 'notifications/cancelled' && m.params.requestId === childId);
    assert.match(cancel.params.reason, /closed its response stream/);
    // The child still serves others.
    assert.equal((await post(s, call('after', 'pid'))).status, 200);
  });

  test('a request the child does not answer in time: an error ends its stream; the child hears the cancellation', async () => {
    const r = await post(s, call('to-1', 'hang'));
    assert.deepEqual([r.status, r.type], [200, 'text/event-stream']);
    assert.deepEqual([r.last.id, r.last.error.code], ['to-1', -32603]);
    assert.match(r.last.error.message, /timed out/);
    const childId = received(record).filter((m) => m.params?.name === 'hang').at(-1).id;
    await until(() => received(record).some((m) => m.method === 'notifications/cancelled' && m.params.requestId === childId),
      'notifications/cancelled at the child');
  });

  test('subscriptions/listen: acknowledged with the client\'s id, notifications relayed, closing cancels', async () => {
    const l = await open(s, request('sub-1', 'subscriptions/listen', { notifications: { toolsListChanged: true } }));
    assert.equal(l.status, 200);
    const ack = await l.waitFor((m) => m.method === 'notifications/subscriptions/acknowledged');
    assert.equal(ack.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
    const n = await post(s, call('n-1', 'notify'));
    assert.equal(n.last.result.content[0].text, 'notified 1');
    const changed = await l.waitFor((m) => m.method === 'notifications/tools/list_changed');
    assert.equal(changed.params._meta['io.modelcontextprotocol/subscriptionId'], 'sub-1');
    l.close();
    await s.waitForLog(/subscription \d+ ended/);
    assert.equal((await post(s, call('n-2', 'notify'))).last.result.content[0].text, 'notified 0');
  });

  test('client notifications are 202 and not forwarded (their ids are the client\'s)', async () => {
    const before = received(record).length;
    const r = await open(s, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, _meta: envelope() } });
    assert.equal(r.status, 202);
    assert.equal(await r.text(), '');
    await sleep(100);
    assert.equal(received(record).length, before);
  });

  test('a child that crashes fails its requests with 502; the next request starts and probes a new one', async () => {
    const pid = Number((await post(s, call('pid-1', 'pid'))).last.result.content[0].text);
    const r = await post(s, call('x-1', 'crash'));
    assert.equal(r.status, 502);
    assert.match(r.last.error.message, /exited with status 9/);
    const again = await post(s, call('pid-2', 'pid'));
    assert.equal(again.status, 200);
    assert.notEqual(Number(again.last.result.content[0].text), pid);
    assert.equal((s.stderr().match(/asking which MCP era it speaks/g) ?? []).length, 2);
  });
});

describe('a stdio child of the 2025 era', () => {
  let s;
  before(async () => {
    s = await startServe(['--no-auth', '--', NODE, LEGACY_CHILD]);
  });
  after(async () => { await stopClean(s); });

  test('a modern request: found legacy once, then served through the era bridge; 2025 sessions still work', async () => {
    // The request that waited for the probe is bridged too, not refused.
    const r = await post(s, call('v-1', 'echo', { text: 'one' }));
    assert.equal(r.status, 200, JSON.stringify(r.last));
    assert.equal(r.last.id, 'v-1');
    assert.equal(r.last.result.resultType, 'complete');
    assert.equal(r.last.result.content[0].text, 'one');
    await s.waitForLog(/does not speak MCP 2026-07-28 \(server\/discover was not understood\); its modern clients go through the era bridge/);
    // Cached: the next modern request goes to the bridge without a new probe.
    const again = await post(s, call('v-2', 'echo', { text: 'two' }));
    assert.equal(again.last.result.content[0].text, 'two');
    assert.equal((s.stderr().match(/asking which MCP era it speaks/g) ?? []).length, 1);
    const init = await fetch(s.url('/mcp'), {
      method: 'POST',
      headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    assert.equal(init.status, 200);
    assert.ok(init.headers.get('mcp-session-id'));
  });
});

describe('the built-in tools', () => {
  let s;
  before(async () => { s = await startServe(['--no-auth']); });
  after(async () => { await stopClean(s); });

  // basic §_meta: -32021 is for a request whose processing needs a capability the client did
  // not declare. No built-in method needs one (hello_world and whoami ask the client
  // nothing; subscriptions/listen needs none), so a request declaring none is served.
  test('need no client capability: each method is served with clientCapabilities {}', async () => {
    for (const message of [request(1, 'server/discover'), request(2, 'tools/list'), call(3, 'hello_world', { name: 'x' }), call(4, 'whoami')]) {
      const r = await post(s, message);
      assert.equal(r.status, 200, JSON.stringify(r.last));
      assert.equal(r.last.result.resultType, 'complete');
    }
  });
});

describe('server shutdown with a modern child', () => {
  test('an open listen stream gets the listen result (subscriptions §Graceful Closure); the server exits 0', async () => {
    const s = await startServe(['--no-auth', '--', NODE, MODERN_CHILD]);
    let l;
    try {
      l = await open(s, request('sub-9', 'subscriptions/listen', { notifications: { toolsListChanged: true } }));
      await l.waitFor((m) => m.method === 'notifications/subscriptions/acknowledged');
    } finally {
      await stopClean(s);
    }
    const last = eventsOf(await l.text()).at(-1);
    assert.deepEqual(last, {
      jsonrpc: '2.0', id: 'sub-9', result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-9' } },
    });
  });
});
