// scripts/demo, the seed's walkthrough against `serve --dev`, as CI runs it:
// every step must report "ok", the script must end with its summary line and
// exit 0, and it must leave no server behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

import { MCPAUTH_BIN, REPO_ROOT } from '../lib/harness.mjs';

function runDemo(args = []) {
  return new Promise((resolve) => {
    const child = spawn(path.join(REPO_ROOT, 'scripts/demo'), args, {
      env: { ...process.env, MCPAUTH_BIN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('scripts/demo runs the whole walkthrough and checks every step', async () => {
  const r = await runDemo();
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  const steps = ['1. start', '2. register', '3. token', '4. check', '5. call', '6. revoke'];
  for (const s of steps) assert.match(r.stdout, new RegExp(`^== ${s.replace('.', '\\.')}`, 'm'), s);
  assert.match(r.stdout, /^ok: client dev-\S+ saved to client\.json \(mode 0600\)$/m);
  assert.match(r.stdout, /^ok: introspection: Introspection: active/m);
  assert.match(r.stdout, /^ok: local verification: JWT: signature valid \(ES256/m);
  assert.match(r.stdout, /^ok: probe: \d+ checks passed, none failed$/m);
  assert.match(r.stdout, /^ok: hello_world says: Hello, demo-user!$/m);
  assert.match(r.stdout, /^ok: check-token now exits 1: .*not active/m);
  assert.match(r.stdout, /^ok: the MCP endpoint now answers 401 to it$/m);
  assert.match(r.stdout, /^demo: all 6 steps passed$/m);
  assert.doesNotMatch(r.stdout + r.stderr, /FAILED/);
  // The server it started is gone: its port refuses connections.
  const port = Number(r.stdout.match(/^ok: MCP endpoint http:\/\/127\.0\.0\.1:(\d+)\/mcp/m)[1]);
  const refused = await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => { socket.destroy(); resolve(false); });
    socket.on('error', () => resolve(true));
  });
  assert.ok(refused, `serve --dev still listens on ${port} after the demo`);
});

test('scripts/demo refuses unknown options with exit 2', async () => {
  const r = await runDemo(['--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--bogus'/);
});
