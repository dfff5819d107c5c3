// Integration tests for `mcpauth serve -- COMMAND` (issue 5): stdio backends bridged to
// Streamable HTTP. A small node fixture (tests/fixtures/stdio-server.mjs) plays the
// backend: round trips, SSE vs JSON, progress/log routing, a sampling request answered by
// the client's POST, the GET stream with Last-Event-ID, DELETE / idle timeout / SIGTERM
// ending children, the faults (exit at start, crash, garbage, a 10 MB line, no answer),
// the child's environment, and the identity with auth on.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-stdio.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { REPO_ROOT, run, startServe, startHttpServer, tmpDir } from '../lib/harness.mjs';
import { sleep } from '../lib/http.mjs';

const FIXTURE = path.join(REPO_ROOT, 'tests/fixtures/stdio-server.mjs');
const NODE = process.execPath;
const MCP_ACCEPT = 'application/json, text/event-stream';
const VERSION = '2025-11-25';

/** Parses a text/event-stream body into [{id, data, comment}]. */
function parseEvents(text) {
  const events = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    const e = { id: undefined, data: undefined, comment: false };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) e.comment = true;
      else if (line.startsWith('id: ')) e.id = line.slice(4);
      else if (line.startsWith('data: ')) e.data = (e.data ?? '') + line.slice(6);
      else if (line === 'data:') e.data = e.data ?? '';
    }
    events.push(e);
  }
  return events;
}

/**
 * One request whose answer is read as it comes. Resolves once the headers are in:
 * {status, headers, body() (all of it, once ended), events() (parsed so far),
 *  waitFor(pred) (the first event matching), close()}.
 */
function openRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let data = '';
      const waiters = [];
      const ended = new Promise((r) => res.on('end', r));
      res.setEncoding('utf8');
      res.on('data', (d) => {
        data += d;
        for (const w of [...waiters]) w();
      });
      res.on('error', () => {});
      const events = () => parseEvents(data).filter((e) => !e.comment);
      resolve({
        status: res.statusCode,
        headers: res.headers,
        body: async () => { await ended; return data; },
        events,
        waitFor: (pred, timeoutMs = 10000) => new Promise((ok, fail) => {
          const check = () => {
            const found = events().find(pred);
            if (found) {
              waiters.splice(waiters.indexOf(check), 1);
              clearTimeout(timer);
              ok(found);
            }
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(check), 1);
            fail(new Error(`no matching event within ${timeoutMs} ms; got:\n${data}`));
          }, timeoutMs);
          waiters.push(check);
          check();
        }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function mcpHeaders({ session, token, extra = {} } = {}) {
  const h = { accept: MCP_ACCEPT, 'content-type': 'application/json', ...extra };
  if (session) { h['mcp-session-id'] = session; h['mcp-protocol-version'] = VERSION; }
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

/** POSTs message; resolves {status, headers, body, json, events}. */
async function post(serve, message, opts = {}) {
  const r = await openRequest(serve.url('/mcp'), { method: 'POST', headers: mcpHeaders(opts), body: JSON.stringify(message) });
  const body = await r.body();
  return {
    status: r.status,
    headers: r.headers,
    body,
    json: () => JSON.parse(body),
    events: () => parseEvents(body).filter((e) => !e.comment),
  };
}

/** The JSON-RPC response in an answer, whichever the content type. */
function responseOf(r) {
  if (r.headers['content-type'] === 'application/json') return r.json();
  const last = r.events().filter((e) => e.data).map((e) => JSON.parse(e.data)).find((m) => 'result' in m || 'error' in m);
  assert.ok(last, `no response in the stream:\n${r.body}`);
  return last;
}

const INITIALIZE = {
  jsonrpc: '2.0', id: 'init-1', method: 'initialize',
  params: { protocolVersion: VERSION, capabilities: { sampling: {} }, clientInfo: { name: 'stdio-test', version: '1.0.0' } },
};

async function openSession(serve, token) {
  const r = await post(serve, INITIALIZE, { token });
  assert.equal(r.status, 200, r.body);
  const session = r.headers['mcp-session-id'];
  assert.match(session ?? '', /^[0-9a-f]{32}$/);
  const n = await post(serve, { jsonrpc: '2.0', method: 'notifications/initialized' }, { session, token });
  assert.equal(n.status, 202, n.body);
  return { session, init: r.json() };
}

function callTool(serve, session, name, args = {}, { id = 7, meta, token } = {}) {
  const params = { name, arguments: args };
  if (meta) params._meta = meta;
  return post(serve, { jsonrpc: '2.0', id, method: 'tools/call', params }, { session, token });
}

async function toolText(serve, session, name, args, opts) {
  const r = await callTool(serve, session, name, args, opts);
  assert.equal(r.status, 200, r.body);
  const msg = responseOf(r);
  assert.ok(msg.result, r.body);
  return msg.result.content[0].text;
}

const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (err) { return err.code !== 'ESRCH'; }
};

async function waitGone(pid, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > end) assert.fail(`process ${pid} is still there after ${timeoutMs} ms`);
    await sleep(50);
  }
}

const serves = [];
async function startBackend(args = [], fixtureArgs = [], opts = {}) {
  const s = await startServe(['--no-auth', ...args, '--', NODE, FIXTURE, ...fixtureArgs], opts);
  serves.push(s);
  return s;
}

// Every serve must stop cleanly: exit status 0 also means no sanitizer report.
after(async () => {
  const results = await Promise.all(serves.map((s) => s.stop()));
  results.forEach(({ code }, i) => assert.equal(code, 0, serves[i].stderr()));
});

/** A session through several workers: every request on a connection of its own, so the
 * kernel gives them to any worker; those that do not hold the session's child hand the
 * request to the one that does, and relay its answer (JSON, or a stream). */
describe('a stdio backend over several workers', () => {
  for (const workers of [null, 3]) {
    test(`${workers ? `--workers ${workers}` : 'the default worker count'}: a session's requests reach its child whichever worker takes them`, async () => {
      const serve = await startBackend(workers ? ['--workers', String(workers)] : [], [], { defaultWorkers: true });
      const { session } = await openSession(serve);
      const pid = await toolText(serve, session, 'pid', {}, { id: 5 });
      for (let round = 0; round < 4; round++) {
        const texts = await Promise.all(Array.from({ length: 10 }, (_, i) =>
          toolText(serve, session, 'echo', { text: `n${round * 10 + i}` }, { id: 100 + round * 10 + i })));
        texts.forEach((t, i) => assert.equal(t, `n${round * 10 + i}`));
        const pids = await Promise.all(Array.from({ length: 4 }, (_, i) => toolText(serve, session, 'pid', {}, { id: 200 + round * 4 + i })));
        assert.deepEqual(pids, Array(4).fill(pid), 'one child serves the session');
      }
      // Large messages both ways (over a datagram: they travel in a memfd).
      const big = 'y'.repeat(300 * 1024);
      const bigs = await Promise.all(Array.from({ length: 4 }, (_, i) => toolText(serve, session, 'echo', { text: big }, { id: 250 + i })));
      bigs.forEach((t) => assert.equal(t, big));
      // A streamed answer (progress notifications before the response) comes through whole.
      for (let i = 0; i < 4; i++) {
        const r = await callTool(serve, session, 'progress', {}, { id: 300 + i, meta: { progressToken: `p${i}` } });
        assert.equal(r.status, 200, r.body);
        const messages = r.events().filter((e) => e.data).map((e) => JSON.parse(e.data));
        assert.equal(messages.filter((m) => m.method === 'notifications/progress').length, 3, r.body);
        assert.equal(messages.at(-1).id, 300 + i, r.body);
      }
      // The standalone stream opens from any worker. Closing one reaches the
      // session's worker a moment later (relayed from another worker, slowly
      // under ASan); until then the next gets 409, one stream per session.
      for (let i = 0; i < 4; i++) {
        let g;
        for (const deadline = Date.now() + 5000; ; await sleep(50)) {
          g = await openRequest(serve.url('/mcp'), { headers: mcpHeaders({ session, extra: { accept: 'text/event-stream' } }) });
          if (g.status !== 409 || Date.now() > deadline) break;
          await g.body();
        }
        assert.equal(g.status, 200);
        assert.match(g.headers['content-type'], /^text\/event-stream/);
        g.close();
      }
      await serve.waitForLog(/"POST \/mcp" 200 .*\(handed to the session's worker\)/);
      // DELETE from whichever worker ends the session and its child; then 404 everywhere.
      const d = await openRequest(serve.url('/mcp'), { method: 'DELETE', headers: mcpHeaders({ session }) });
      assert.equal(d.status, 200);
      await d.body();
      await waitGone(Number(pid));
      const after = await Promise.all(Array.from({ length: 6 }, (_, i) => callTool(serve, session, 'echo', {}, { id: 400 + i })));
      assert.deepEqual(after.map((r) => r.status), Array(6).fill(404));
      // Every worker stops cleanly (a worker's own exit status does not reach the parent's).
      assert.equal((await serve.stop()).code, 0, serve.stderr());
      assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
    });
  }
});

describe('bridging', () => {
  let serve;
  before(async () => { serve = await startBackend(['--backend-timeout', '2']); });

  test('initialize is the child\'s answer, with our session id; JSON when nothing precedes the response', async () => {
    const { session, init } = await openSession(serve);
    assert.equal(init.id, 'init-1');
    assert.deepEqual(init.result.serverInfo, { name: 'stdio-fixture', version: '1.0.0' });
    assert.deepEqual(init.result.capabilities, { tools: {}, logging: {} });
    const r = await callTool(serve, session, 'echo', { text: 'hi there' }, { id: 'abc' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(r.json(), { jsonrpc: '2.0', id: 'abc', result: { content: [{ type: 'text', text: 'hi there' }] } });
    const list = await post(serve, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { session });
    assert.ok(list.json().result.tools.some((t) => t.name === 'sample'));
  });

  test('progress and log notifications come on the call\'s SSE stream before its response', async () => {
    const { session } = await openSession(serve);
    const r = await callTool(serve, session, 'progress', { steps: 2 }, { id: 41, meta: { progressToken: 'pt-1' } });
    assert.equal(r.headers['content-type'], 'text/event-stream');
    assert.equal(r.headers['x-accel-buffering'], 'no');
    const events = r.events();
    assert.equal(events[0].data, '', 'a priming event first');
    assert.match(events[0].id, /^\d+-0$/);
    const messages = events.slice(1).map((e) => JSON.parse(e.data));
    assert.deepEqual(messages.map((m) => m.method ?? 'response'),
      ['notifications/progress', 'notifications/progress', 'response']);
    assert.equal(messages[0].params.progressToken, 'pt-1');
    assert.equal(messages[2].id, 41);
    const stream = events[0].id.split('-')[0];
    assert.ok(events.every((e) => e.id.startsWith(`${stream}-`)), 'ids name the stream');

    const log = await callTool(serve, session, 'log', {}, { id: 42 });
    assert.equal(log.headers['content-type'], 'text/event-stream');
    const logged = log.events().slice(1).map((e) => JSON.parse(e.data));
    assert.equal(logged[0].method, 'notifications/message');
    assert.equal(logged[1].result.content[0].text, 'logged');
  });

  test('a child request reaches the client with our id; the client\'s POSTed answer goes back', async () => {
    const { session } = await openSession(serve);
    const call = await openRequest(serve.url('/mcp'), {
      method: 'POST', headers: mcpHeaders({ session }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1000, method: 'tools/call', params: { name: 'sample', arguments: {} } }),
    });
    assert.equal(call.headers['content-type'], 'text/event-stream');
    const ev = await call.waitFor((e) => e.data && JSON.parse(e.data).method === 'sampling/createMessage');
    const request = JSON.parse(ev.data);
    assert.equal(typeof request.id, 'number');
    const answer = await post(serve, { jsonrpc: '2.0', id: request.id, result: { role: 'assistant', content: { type: 'text', text: 'pong' }, model: 'm' } }, { session });
    assert.equal(answer.status, 202, answer.body);
    const final = await call.waitFor((e) => e.data && 'result' in JSON.parse(e.data));
    assert.deepEqual(JSON.parse(final.data), { jsonrpc: '2.0', id: 1000, result: { content: [{ type: 'text', text: 'client said: pong' }] } });
    await call.body(); // the stream ends after the response
  });

  test('GET: a priming event, unrelated messages, one stream per session, Last-Event-ID resumes it', async () => {
    const { session } = await openSession(serve);
    const headers = { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': VERSION };
    const get = await openRequest(serve.url('/mcp'), { headers });
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-type'], 'text/event-stream');
    const priming = await get.waitFor(() => true);
    assert.equal(priming.data, '');
    const second = await openRequest(serve.url('/mcp'), { headers });
    assert.equal(second.status, 409);
    await second.body();

    assert.equal(await toolText(serve, session, 'later'), 'soon');
    const first = await get.waitFor((e) => e.data);
    assert.equal(JSON.parse(first.data).method, 'notifications/tools/list_changed');
    get.close();
    await sleep(200);
    // While no GET is open the message is kept; a POST stream's events are never replayed on it.
    await toolText(serve, session, 'later');
    await callTool(serve, session, 'log', {}, { id: 77 });
    await sleep(600);
    const resumed = await openRequest(serve.url('/mcp'), { headers: { ...headers, 'last-event-id': first.id } });
    assert.equal(resumed.status, 200);
    const again = await resumed.waitFor((e) => e.data);
    assert.equal(JSON.parse(again.data).method, 'notifications/tools/list_changed');
    assert.notEqual(again.id, first.id);
    assert.equal(again.id.split('-')[0], first.id.split('-')[0]);
    await sleep(200);
    assert.deepEqual(resumed.events().filter((e) => e.data).map((e) => JSON.parse(e.data).method),
      ['notifications/tools/list_changed']);
    resumed.close();
  });

  test('a client that drops a POST stream resumes it with GET and Last-Event-ID; nothing is cancelled', async () => {
    const { session } = await openSession(serve);
    const headers = { accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': VERSION };
    for (const [id, waitMs] of [['live', 0], ['done', 1200]]) {
      const call = await openRequest(serve.url('/mcp'), {
        method: 'POST', headers: mcpHeaders({ session }),
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: {} } }),
      });
      const started = await call.waitFor((e) => e.data);
      assert.equal(JSON.parse(started.data).method, 'notifications/message');
      call.close();
      await sleep(waitMs || 100);
      // Still in flight ('live'): the GET carries on with the rest; finished ('done'): the
      // kept events, then the end.
      const resumed = await openRequest(serve.url('/mcp'), { headers: { ...headers, 'last-event-id': started.id } });
      assert.equal(resumed.status, 200);
      const events = parseEvents(await resumed.body()).filter((e) => e.data);
      assert.equal(events.length, 1, JSON.stringify(events));
      assert.equal(events[0].id.split('-')[0], started.id.split('-')[0]);
      assert.deepEqual(JSON.parse(events[0].data), { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'slow done' }] } });
    }
  });

  test('GET without a backend session is 404, without Accept 406', async () => {
    const missing = await openRequest(serve.url('/mcp'), { headers: { accept: 'text/event-stream', 'mcp-session-id': 'f'.repeat(32) } });
    assert.equal(missing.status, 404);
    await missing.body();
    const { session } = await openSession(serve);
    const bad = await openRequest(serve.url('/mcp'), { headers: { accept: 'application/json', 'mcp-session-id': session } });
    assert.equal(bad.status, 406);
    await bad.body();
  });

  test('client notifications/cancelled reaches the child with the remapped id; a timeout cancels too', async () => {
    const { session } = await openSession(serve);
    const r = await callTool(serve, session, 'hang', {}, { id: 'h-1' });
    const msg = responseOf(r);
    assert.equal(msg.id, 'h-1');
    assert.equal(msg.error.code, -32603);
    assert.match(msg.error.message, /timed out/);
    const hung = callTool(serve, session, 'hang', {}, { id: 'h-2' });
    // Cancel only once the call is in flight at the child (h-1 logged the first line).
    await serve.waitForLog(/fixture: hanging[\s\S]*fixture: hanging/);
    const other = await openSession(serve);
    assert.equal(await toolText(serve, other.session, 'echo', { text: 'meanwhile' }), 'meanwhile');
    const n = await post(serve, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'h-2' } }, { session });
    assert.equal(n.status, 202);
    await hung;
    const cancelled = JSON.parse(await toolText(serve, session, 'cancelled', {}, { id: 'c' }));
    assert.equal(cancelled.length, 3, JSON.stringify(cancelled)); // timeout, client's cancel, timeout
    assert.ok(cancelled.every((id) => typeof id === 'number'), 'the child sees its own ids');
    assert.equal(cancelled[1], cancelled[2]);
  });

  test('faults: garbage is skipped, a crash fails the call, a 10 MB line kills the child; others keep working', async () => {
    const other = await openSession(serve);
    const { session } = await openSession(serve);
    assert.equal(await toolText(serve, session, 'garbage'), 'still here');
    await serve.waitForLog(/skipped a line that is not JSON-RPC \(23 bytes\): this is not json at all/);

    const crash = responseOf(await callTool(serve, session, 'crash', {}, { id: 'x' }));
    assert.equal(crash.id, 'x');
    assert.equal(crash.error.code, -32603);
    assert.match(crash.error.message, /exited with status 7/);
    const after = await callTool(serve, session, 'echo', { text: 'a' });
    assert.equal(after.status, 404);

    const big = await openSession(serve);
    const pid = Number(await toolText(serve, big.session, 'pid'));
    const huge = responseOf(await callTool(serve, big.session, 'huge', {}, { id: 'big' }));
    assert.equal(huge.error.code, -32603);
    assert.match(huge.error.message, /protocol/);
    await serve.waitForLog(/protocol violation/);
    await waitGone(pid);
    assert.ok(!serve.stderr().includes('x'.repeat(200)), 'the line is never logged whole');

    assert.equal(await toolText(serve, other.session, 'echo', { text: 'fine' }), 'fine');
  });

  test('DELETE ends the session and its child', async () => {
    const { session } = await openSession(serve);
    const pid = Number(await toolText(serve, session, 'pid'));
    assert.ok(alive(pid));
    const d = await openRequest(serve.url('/mcp'), { method: 'DELETE', headers: mcpHeaders({ session }) });
    assert.equal(d.status, 200);
    await d.body();
    await waitGone(pid);
    assert.equal((await callTool(serve, session, 'echo', { text: 'a' })).status, 404);
    const log = await serve.waitForLog(new RegExp(`info: backend\\[${pid}\\]: the session was ended`));
    assert.match(log, new RegExp(`info: backend\\[${pid}\\]: started for session ${session.slice(0, 8)}`));
    assert.match(log, new RegExp(`info: backend\\[${pid}\\]: fixture ${pid} started`), 'stderr lines are logged');
  });
});

describe('lifecycle', () => {
  test('a child that exits at start: initialize gets 502 and a JSON-RPC error naming the status', async () => {
    const marker = path.join(tmpDir(), 'started');
    const serve = await startBackend([], ['--exit-at-start-once', marker]);
    const r = await post(serve, INITIALIZE);
    assert.equal(r.status, 502, r.body);
    const msg = r.json();
    assert.equal(msg.id, 'init-1');
    assert.equal(msg.error.code, -32603);
    assert.match(msg.error.message, /exited with status 3/);
    assert.equal(r.headers['mcp-session-id'], undefined);
    await serve.waitForLog(/backend\[\d+\]: fixture: exiting at start as asked/);
    // The next session's child starts fine.
    const { session } = await openSession(serve);
    assert.equal(await toolText(serve, session, 'echo', { text: 'second' }), 'second');
  });

  test('a command that does not exist: 502 with the reason', async () => {
    const s = await startServe(['--no-auth', '--', '/nonexistent/mcp-server']);
    serves.push(s);
    const r = await post(s, INITIALIZE);
    assert.equal(r.status, 502);
    assert.match(r.json().error.message, /cannot start the backend \/nonexistent\/mcp-server/);
  });

  test('the idle timeout ends the session and its child', async () => {
    const serve = await startBackend(['--session-idle-timeout', '2']);
    const { session } = await openSession(serve);
    // A call longer than the idle timeout keeps its session in use.
    assert.equal(await toolText(serve, session, 'slow', { ms: 3500 }), 'slow done');
    const pid = Number(await toolText(serve, session, 'pid'));
    await waitGone(pid, 8000);
    assert.equal((await callTool(serve, session, 'echo', { text: 'a' })).status, 404);
  });

  test('after SIGTERM no child process remains', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'pids');
    const serve = await startBackend([], ['--pidfile', pidfile]);
    const sessions = [await openSession(serve), await openSession(serve), await openSession(serve)];
    // One of them is busy: its request fails instead of hanging the shutdown.
    const busy = callTool(serve, sessions[0].session, 'hang', {}, { id: 'busy' });
    await serve.waitForLog(/fixture: hanging/); // the call reached the child: it is in flight
    const pids = fs.readFileSync(pidfile, 'utf8').trim().split('\n').map(Number);
    assert.equal(pids.length, 3);
    assert.ok(pids.every(alive));
    const { code } = await serve.stop('SIGTERM');
    assert.equal(code, 0);
    const answer = responseOf(await busy);
    assert.match(answer.error.message, /shutting down|signal/);
    for (const pid of pids) assert.ok(!alive(pid), `child ${pid} survived`);
  });

  test('a child that stops reading: input beyond --backend-max-buffer gets 503', async () => {
    const serve = await startBackend(['--backend-max-buffer', '65536', '--backend-timeout', '3']);
    const { session } = await openSession(serve);
    assert.equal(await toolText(serve, session, 'deaf'), 'deaf now');
    // The pipe takes 64 KiB, node's paused stream some more, then mcpauth
    // holds up to 64 KiB: 768 KiB overflows them all, however slowly a loaded
    // machine sends the requests.
    const padding = 'p'.repeat(16 * 1024);
    const answers = await Promise.all(Array.from({ length: 48 }, (_, i) =>
      callTool(serve, session, 'echo', { text: padding }, { id: i })));
    const statuses = answers.map((r) => r.status);
    assert.ok(statuses.includes(503), statuses.join(' '));
    const refused = answers.find((r) => r.status === 503).json();
    assert.match(refused.error.message, /not reading its input/);
    // The others time out (or were read before the child stopped reading).
    for (const r of answers.filter((a) => a.status === 200)) {
      const msg = responseOf(r);
      assert.ok(msg.result || /timed out/.test(msg.error.message), r.body.slice(0, 200));
    }
  });

  test('--shared-backend: one child for every session, initialize cached', async () => {
    const serve = await startBackend(['--shared-backend']);
    const a = await openSession(serve);
    const b = await openSession(serve);
    assert.notEqual(a.session, b.session);
    assert.deepEqual(a.init.result, b.init.result);
    const pa = await toolText(serve, a.session, 'pid', {}, { id: 5 });
    const pb = await toolText(serve, b.session, 'pid', {}, { id: 5 });
    assert.equal(pa, pb);
    const d = await openRequest(serve.url('/mcp'), { method: 'DELETE', headers: mcpHeaders({ session: a.session }) });
    assert.equal(d.status, 200);
    await d.body();
    assert.equal(await toolText(serve, b.session, 'echo', { text: 'still' }), 'still');
    assert.ok(alive(Number(pb)));
  });

  test('a stray word instead of a backend command after -- is a usage error', async () => {
    const stray = await run(['serve', '--no-auth', 'node']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /after --/);
  });

  test('--config backend-command and backend keys', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    fs.writeFileSync(file, JSON.stringify({ 'no-auth': true, 'backend-command': [NODE, FIXTURE], env: ['FROM_FILE=1'], 'backend-timeout': 30 }));
    const serve = await startServe(['--config', file]);
    serves.push(serve);
    const { session } = await openSession(serve);
    const env = JSON.parse(await toolText(serve, session, 'env'));
    assert.equal(env.FROM_FILE, '1');
    const bad = await run(['serve', '--config', (fs.writeFileSync(file, '{"backend-command": "node"}'), file)]);
    assert.equal(bad.code, 5);
    assert.match(bad.stderr, /backend-command/);
  });
});

describe('environment', () => {
  test('a clean environment plus --env and --pass-env; no identity without auth', async () => {
    const serve = await startBackend(['--env', 'GREETING=hello world', '--pass-env', 'PASS_ME'], [],
      { env: { PASS_ME: 'passed', NOT_ME: 'secret', LANG: 'C.UTF-8' } });
    const { session } = await openSession(serve);
    const env = JSON.parse(await toolText(serve, session, 'env'));
    assert.equal(env.GREETING, 'hello world');
    assert.equal(env.PASS_ME, 'passed');
    assert.equal(env.LANG, 'C.UTF-8');
    assert.ok(env.PATH);
    assert.equal(env.NOT_ME, undefined);
    assert.equal(env.MCPAUTH_SUBJECT, undefined);
  });

  test('with auth on, the validated identity reaches the child and the token never does', async () => {
    const token = 'tok-' + Math.random().toString(36).slice(2);
    const as = await startHttpServer(async (req, res) => {
      let body = '';
      for await (const d of req) body += d;
      const active = new URLSearchParams(body).get('token') === token;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(active ? {
        active: true, sub: 'alice', client_id: 'client-9', scope: 'mcp tools:read',
        aud: resource, iss: as.origin, exp: Math.floor(Date.now() / 1000) + 3600,
      } : { active: false }));
    });
    let resource;
    try {
      const dir = tmpDir();
      const secretFile = path.join(dir, 'secret');
      fs.writeFileSync(secretFile, 'rs-secret', { mode: 0o600 });
      const serve = await startServe((port) => {
        resource = `http://127.0.0.1:${port}/mcp`;
        return ['--issuer', as.origin, '--introspection-endpoint', `${as.origin}/introspect`,
          '--client-id', 'rs', '--client-secret-file', secretFile, '--', NODE, FIXTURE];
      });
      serves.push(serve);
      const { session } = await openSession(serve, token);
      const env = JSON.parse(await toolText(serve, session, 'env', {}, { token }));
      assert.equal(env.MCPAUTH_SUBJECT, 'alice');
      assert.equal(env.MCPAUTH_CLIENT_ID, 'client-9');
      assert.equal(env.MCPAUTH_SCOPES, 'mcp tools:read');
      assert.ok(!JSON.stringify(env).includes(token), 'the token must not reach the child');
      // The session stays bound to its subject: no token, no stream.
      const r = await post(serve, { jsonrpc: '2.0', id: 1, method: 'ping' }, { session });
      assert.equal(r.status, 401);
    } finally {
      await as.stop();
    }
  });
});
