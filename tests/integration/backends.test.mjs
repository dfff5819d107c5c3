// The stdio MCP backends in tests/fixtures/backends/ (for the `serve -- COMMAND` bridge's
// tests) do what their README says: each is spawned with node and talked to with
// newline-delimited JSON-RPC, no mcpauth involved. Node built-ins only.
// Run: node --test tests/integration/backends.test.mjs

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../lib/harness.mjs';

const BACKENDS = path.join(REPO_ROOT, 'tests/fixtures/backends');

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: { sampling: {} }, clientInfo: { name: 'backends-test', version: '1.0.0' } },
};
const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };
const call = (id, name, args = {}, extra = {}) =>
  ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, ...extra } });

/**
 * Spawn `node <backend>` with stdin/stdout pipes. send(msg) writes one JSON line;
 * next(pred) resolves with the first stdout line (parsed when JSON, else the raw string)
 * matching pred, in arrival order, or rejects after 5 s. The child is killed by stop().
 */
function startBackend(file, env = {}) {
  const child = spawn(process.execPath, [path.join(BACKENDS, file)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, ...env },
  });
  const raw = [];
  const lines = [];
  let partial = []; // chunks of the line not yet ended
  let stderr = '';
  const waiters = new Set();
  const parse = (buf) => {
    const s = buf.toString('utf8');
    try {
      return JSON.parse(s);
    } catch {
      return s;
    }
  };
  child.stdout.on('data', (chunk) => {
    raw.push(chunk);
    let rest = chunk;
    for (let nl = rest.indexOf(0x0a); nl >= 0; nl = rest.indexOf(0x0a)) {
      lines.push(parse(Buffer.concat([...partial, rest.subarray(0, nl)])));
      partial = [];
      rest = rest.subarray(nl + 1);
    }
    if (rest.length) partial.push(rest);
    for (const w of waiters) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  child.stdin.on('error', () => {}); // EPIPE after the backend exits
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  let seen = 0;
  return {
    child,
    exited,
    stderr: () => stderr,
    stdout: () => Buffer.concat(raw),
    send: (msg) => child.stdin.write(`${JSON.stringify(msg)}\n`),
    next: (pred = () => true, timeoutMs = 5000) => new Promise((resolve, reject) => {
      const check = () => {
        while (seen < lines.length) {
          const line = lines[seen++];
          if (pred(line)) {
            done();
            resolve(line);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching line within ${timeoutMs} ms; stdout lines: ${JSON.stringify(lines).slice(0, 2000)}\nstderr: ${stderr}`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
    stop: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

const byId = (id) => (m) => typeof m === 'object' && m?.id === id;

async function initialize(b) {
  b.send(INITIALIZE);
  const init = await b.next(byId(1));
  assert.equal(init.result.protocolVersion, '2025-11-25');
  b.send(INITIALIZED);
  return init.result;
}

describe('fault backends', () => {
  test('exit-at-start exits with status 3 and writes nothing on stdout', async () => {
    const b = startBackend('exit-at-start.mjs');
    const { code } = await b.exited;
    assert.equal(code, 3);
    assert.equal(b.stdout().length, 0);
    assert.match(b.stderr(), /exit-at-start/);
  });

  test('crash-mid-call answers initialize and tools/list, then exits 1 on crash without answering', async () => {
    const b = startBackend('crash-mid-call.mjs');
    await initialize(b);
    b.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    assert.deepEqual((await b.next(byId(2))).result.tools.map((t) => t.name), ['crash']);
    b.send(call(3, 'crash'));
    const { code } = await b.exited;
    assert.equal(code, 1);
    assert.ok(!b.stdout().toString().includes('"id":3'), 'crash must not be answered');
  });

  test('garbage writes five non-message lines, then the real answer', async () => {
    const b = startBackend('garbage.mjs');
    try {
      await initialize(b);
      b.send(call(2, 'garbage'));
      const answer = await b.next(byId(2));
      assert.equal(answer.result.content[0].text, 'answer after garbage');
      const out = b.stdout();
      const garbage = out.subarray(out.indexOf('}\n') + 2, out.lastIndexOf('{"jsonrpc"'));
      assert.deepEqual(garbage, Buffer.concat([
        Buffer.from('this is not JSON\n{"jsonrpc":"2.0","id":\n42\n\n'), Buffer.from([0xff, 0xfe, 0x0a]),
      ]));
    } finally {
      await b.stop();
    }
  });

  test('huge-line answers with one 10 MiB line (or `bytes` long text)', async () => {
    const b = startBackend('huge-line.mjs');
    try {
      await initialize(b);
      b.send(call(2, 'huge'));
      const big = await b.next(byId(2), 20000);
      assert.equal(big.result.content[0].text.length, 10 * 1024 * 1024);
      b.send(call(3, 'huge', { bytes: 5 }));
      assert.equal((await b.next(byId(3))).result.content[0].text, 'xxxxx');
    } finally {
      await b.stop();
    }
  });

  test('never-answers keeps tools/call pending but still answers ping, and exits when stdin ends', async () => {
    const b = startBackend('never-answers.mjs');
    await initialize(b);
    b.send(call(2, 'wait'));
    b.send({ jsonrpc: '2.0', id: 3, method: 'ping' });
    assert.deepEqual((await b.next(byId(3))).result, {});
    await assert.rejects(b.next(byId(2), 500), /no matching line/);
    b.child.stdin.end();
    assert.equal((await b.exited).code, 0);
  });
});

describe('echo backend', () => {
  test('initialize offers its latest version for an unknown one; ping; logging/setLevel', async () => {
    const b = startBackend('echo.mjs');
    try {
      b.send({ ...INITIALIZE, params: { ...INITIALIZE.params, protocolVersion: '1999-01-01' } });
      const init = await b.next(byId(1));
      assert.equal(init.result.protocolVersion, '2025-11-25');
      assert.deepEqual(init.result.capabilities, { tools: {}, logging: {} });
      b.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
      assert.deepEqual((await b.next(byId(2))).result, {});
      b.send({ jsonrpc: '2.0', id: 3, method: 'logging/setLevel', params: { level: 'debug' } });
      assert.deepEqual((await b.next(byId(3))).result, {});
      b.send({ jsonrpc: '2.0', id: 4, method: 'no/such' });
      assert.equal((await b.next(byId(4))).error.code, -32601);
      b.send(call(5, 'no_such_tool'));
      assert.equal((await b.next(byId(5))).error.code, -32602);
    } finally {
      await b.stop();
    }
  });

  test('tools: echo, env, pid', async () => {
    const b = startBackend('echo.mjs', { ECHO_TEST_VAR: 'value 1' });
    try {
      await initialize(b);
      b.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      assert.deepEqual((await b.next(byId(2))).result.tools.map((t) => t.name), ['echo', 'env', 'pid', 'progress', 'log', 'ask']);
      b.send(call(3, 'echo', { a: 1, b: ['x'] }));
      assert.deepEqual(JSON.parse((await b.next(byId(3))).result.content[0].text), { a: 1, b: ['x'] });
      b.send(call(4, 'env'));
      assert.equal(JSON.parse((await b.next(byId(4))).result.content[0].text).ECHO_TEST_VAR, 'value 1');
      b.send(call(5, 'pid'));
      assert.equal((await b.next(byId(5))).result.content[0].text, String(b.child.pid));
    } finally {
      await b.stop();
    }
  });

  test('progress sends 3 notifications with the progress token, before its answer', async () => {
    const b = startBackend('echo.mjs');
    try {
      await initialize(b);
      b.send(call(2, 'progress', {}, { _meta: { progressToken: 'tok-1' } }));
      for (const progress of [1, 2, 3]) {
        const n = await b.next((m) => m?.method !== undefined || m?.id === 2);
        assert.deepEqual(n, { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'tok-1', progress, total: 3 } });
      }
      assert.equal((await b.next(byId(2))).result.content[0].text, 'progress done');
    } finally {
      await b.stop();
    }
  });

  test('log sends notifications/message before its answer', async () => {
    const b = startBackend('echo.mjs');
    try {
      await initialize(b);
      b.send(call(2, 'log'));
      const n = await b.next();
      assert.equal(n.method, 'notifications/message');
      assert.equal(n.params.level, 'info');
      assert.equal((await b.next()).id, 2);
    } finally {
      await b.stop();
    }
  });

  test('ask sends sampling/createMessage and returns the client answer (or its refusal)', async () => {
    const b = startBackend('echo.mjs');
    try {
      await initialize(b);
      b.send(call(2, 'ask', { prompt: 'what?' }));
      const req = await b.next((m) => m?.method === 'sampling/createMessage');
      assert.deepEqual(req.params.messages, [{ role: 'user', content: { type: 'text', text: 'what?' } }]);
      b.send({ jsonrpc: '2.0', id: req.id, result: { role: 'assistant', content: { type: 'text', text: 'forty-two' }, model: 'm' } });
      assert.deepEqual((await b.next(byId(2))).result, { content: [{ type: 'text', text: 'forty-two' }] });

      b.send(call(3, 'ask'));
      const req2 = await b.next((m) => m?.method === 'sampling/createMessage');
      assert.notEqual(req2.id, req.id);
      b.send({ jsonrpc: '2.0', id: req2.id, error: { code: -1, message: 'user rejected sampling' } });
      const refused = (await b.next(byId(3))).result;
      assert.equal(refused.isError, true);
      assert.match(refused.content[0].text, /user rejected sampling/);
    } finally {
      await b.stop();
    }
  });
});
