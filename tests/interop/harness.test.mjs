// Smoke test for tests/lib/harness.mjs (with node itself standing in for mcpauth).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';

process.env.MCPAUTH_BIN = process.execPath;
process.env.MCPAUTH_LEAK = 'parent';
delete process.env.MCPAUTH_WRAPPER;
const { run, startHttpServer, startRawServer, tmpDir, MCPAUTH_BIN } = await import('../lib/harness.mjs');

test('run: minimal env, stdin, exit code, timeout', async () => {
  assert.equal(MCPAUTH_BIN, process.execPath);
  const srv = await startHttpServer((req, res) => res.end('pong'));
  try {
    // The child fetches from a server in this process: the event loop must keep running.
    const r = await run(['-e', `
      const input = require('fs').readFileSync(0, 'utf8');
      fetch(process.env.URL).then((r) => r.text()).then((t) => {
        console.log(JSON.stringify({ input, t, leak: process.env.MCPAUTH_LEAK ?? null, keys: Object.keys(process.env).sort() }));
        process.exit(3);
      });`], { env: { URL: srv.url('/ping') }, input: 'hello' });
    assert.equal(r.code, 3, r.stderr);
    const out = JSON.parse(r.stdout);
    // Sanitizer settings pass through on purpose (scripts/test sets them).
    out.keys = out.keys.filter((k) => !/^[A-Z]+SAN_OPTIONS$/.test(k));
    assert.deepEqual(out, { input: 'hello', t: 'pong', leak: null, keys: ['HOME', 'PATH', 'URL'] });
  } finally {
    await srv.stop();
  }
  const slow = await run(['-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 200 });
  assert.equal(slow.timedOut, true);
  assert.equal(slow.signal, 'SIGKILL');
});

test('run: a timed-out child whose output pipes another process holds still ends, saying so', async () => {
  // The grandchild leaves the child's process group and keeps its stdout and stderr.
  const r = await run(['-e', `
    const { spawn } = require('child_process');
    const g = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'],
      { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
    console.log(g.pid);
    setTimeout(() => {}, 60000);`], { timeoutMs: 500 });
  try {
    assert.equal(r.timedOut, true);
    assert.match(r.stderr, /killed, but its output pipes stayed open/);
  } finally {
    process.kill(Number(r.stdout.trim()), 'SIGKILL');
  }
});

test('startRawServer: stop destroys open sockets', async () => {
  const raw = await startRawServer((socket) => socket.write('garbage\r\n'));
  const sock = net.connect(raw.port, '127.0.0.1');
  const first = await new Promise((resolve) => sock.once('data', (d) => resolve(String(d))));
  assert.equal(first, 'garbage\r\n');
  const closed = new Promise((resolve) => sock.once('close', resolve));
  await raw.stop();
  await closed;
});

test('tmpDir', () => {
  const d = tmpDir();
  assert.ok(fs.statSync(d).isDirectory());
  assert.deepEqual(fs.readdirSync(d), []);
});
