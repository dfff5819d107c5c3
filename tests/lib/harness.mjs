// Shared helpers for mcpauth's Node test scripts. Node built-ins only: the integration
// tests use this file without any `npm install`.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The binary under test: $MCPAUTH_BIN, else <repo>/build/mcpauth. */
export const MCPAUTH_BIN = process.env.MCPAUTH_BIN
  ? path.resolve(process.env.MCPAUTH_BIN)
  : path.resolve(REPO_ROOT, 'build/mcpauth');

// $MCPAUTH_WRAPPER, e.g. "valgrind --leak-check=full --error-exitcode=99
// --errors-for-leak-kinds=definite", is put in front of the binary (split on spaces).
const WRAPPER = (process.env.MCPAUTH_WRAPPER ?? '').split(' ').filter(Boolean);
// Wrapped runs are slow: timeouts are multiplied by $MCPAUTH_TIMEOUT_FACTOR
// (default 10 with a wrapper, 1 without).
const TIMEOUT_FACTOR = Number(process.env.MCPAUTH_TIMEOUT_FACTOR) || (WRAPPER.length ? 10 : 1);

/**
 * Run mcpauth asynchronously (so in-process test servers keep answering).
 * The child gets a minimal environment: PATH and HOME plus `env` (a key whose value is
 * undefined is left out); nothing else from the parent, so no stray MCPAUTH_* variables.
 * stdin gets `input` (if any) and is then closed.
 * `bin` runs another path instead of MCPAUTH_BIN (e.g. a mcpauth-SUBCOMMAND link to it),
 * still behind $MCPAUTH_WRAPPER.
 * @returns {Promise<{code: number|null, signal: string|null, stdout: string, stderr: string, timedOut: boolean}>}
 */
export function run(args, { env = {}, input, timeoutMs = 30000, cwd, bin } = {}) {
  const childEnv = {};
  // Sanitizer settings pass through so ASan/UBSan runs report the same way everywhere.
  const inherited = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']) inherited[k] = process.env[k];
  for (const [k, v] of Object.entries({ ...inherited, ...env })) {
    if (v !== undefined) childEnv[k] = String(v);
  }
  const argv = [...WRAPPER, bin ?? MCPAUTH_BIN, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: childEnv, cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.stdin.on('error', () => {}); // EPIPE if the child exits without reading
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs * TIMEOUT_FACTOR);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${argv[0]}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function listening(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

function endpoint(port, stop, extra) {
  const origin = `http://127.0.0.1:${port}`;
  return { port, origin, url: (p = '') => origin + p, stop, ...extra };
}

/**
 * An HTTP server on 127.0.0.1:<free port>. `handler(req, res)` may be async; if it
 * throws, the client gets a 500. stop() also destroys open (keep-alive) sockets.
 */
export async function startHttpServer(handler) {
  const server = http.createServer(async (req, res) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err?.stack ?? err));
    }
  });
  const port = await listening(server);
  const stop = () => new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return endpoint(port, stop, { server });
}

/**
 * A raw TCP server on 127.0.0.1:<free port> for misbehaving peers (garbage, slow or
 * truncated replies, dropped connections). `onConnection(socket)` gets each socket.
 * stop() destroys every socket still open.
 */
export async function startRawServer(onConnection) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client hanging up is not a test failure
    onConnection(socket);
  });
  const port = await listening(server);
  const stop = () => new Promise((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
  return endpoint(port, stop, { server });
}

const tmpDirs = new Set();
process.on('exit', () => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh empty directory, removed when the process exits. */
export function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-test-'));
  tmpDirs.add(d);
  return d;
}
