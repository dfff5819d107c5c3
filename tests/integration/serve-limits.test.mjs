// Integration tests for `mcpauth serve` under hostile clients, with the real binary:
// a client that never reads its answers (memory bounded by --max-output-buffer, closed by
// --write-timeout), file descriptors running out (prlimit), RFC 9112 request rules, a
// half-closed client waiting for an asynchronous answer, and SIGTERM on keep-alive
// connections. Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-limits.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { MCPAUTH_BIN, REPO_ROOT, startHttpServer, startServe, freePort, tmpDir } from '../lib/harness.mjs';

const CLIENT_ID = 'rs-client';
const CLIENT_SECRET = 'rs-secret';
const ECHO = path.join(REPO_ROOT, 'tests/fixtures/backends/echo.mjs');

/** A fake RFC 8414 + RFC 7662 authorization server; tokens starting "good" are active,
 * answered after `delayMs`; `calls` counts introspections. */
async function startFakeAS() {
  const as = { delayMs: 0, calls: 0 };
  const server = await startHttpServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer: server.origin,
        token_endpoint: `${server.origin}/token`,
        introspection_endpoint: `${server.origin}/introspect`,
        response_types_supported: ['code'],
      }));
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    as.calls++;
    const token = new URLSearchParams(body).get('token') ?? '';
    await new Promise((r) => setTimeout(r, as.delayMs));
    const now = Math.floor(Date.now() / 1000);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(token.startsWith('good')
      ? { active: true, sub: 'u1', client_id: 'c1', scope: 'mcp', aud: as.resource, iss: server.origin, exp: now + 3600 }
      : { active: false }));
  });
  return Object.assign(as, { issuer: server.origin, stop: server.stop });
}

/** A raw connection collecting what it reads. */
function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const conn = { socket, data: Buffer.alloc(0), ended: false, events: new EventEmitter() };
    conn.closed = new Promise((res) => socket.on('close', res));
    socket.on('data', (d) => { conn.data = Buffer.concat([conn.data, d]); conn.events.emit('data'); });
    socket.on('end', () => { conn.ended = true; conn.events.emit('data'); });
    socket.on('close', () => { conn.ended = true; conn.events.emit('data'); });
    socket.on('error', () => {});
    /** Waits for n complete responses; fails when the connection ends first. */
    conn.responses = (n, timeoutMs = 5000) => new Promise((res, rej) => {
      const check = () => {
        const parsed = parseResponses(conn.data);
        if (parsed.length >= n) { cleanup(); res(parsed); } else if (conn.ended) {
          cleanup();
          rej(new Error(`connection ended after ${parsed.length} of ${n} responses:\n${conn.data}`));
        }
      };
      const timer = setTimeout(() => { cleanup(); rej(new Error(`only ${parseResponses(conn.data).length} of ${n} responses:\n${conn.data}`)); }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); conn.events.off('data', check); };
      conn.events.on('data', check);
      check();
    });
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

/** Complete Content-Length-framed responses in buf. */
function parseResponses(buf) {
  const out = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = buf.subarray(at, end).toString('latin1').split('\r\n');
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + length) break;
    out.push({ status: Number(head[0].split(' ')[1]), headers, body: buf.subarray(end + 4, end + 4 + length).toString() });
    at = end + 4 + length;
  }
  return out;
}

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
  });
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A sanitizer's quarantine keeps freed memory resident: RSS says nothing then.
const SANITIZED = process.env.ASAN_OPTIONS !== undefined || process.env.MCPAUTH_WRAPPER !== undefined;

function assertRssBounded(before, peak, what) {
  if (!SANITIZED) assert.ok(peak - before < 32 * 1024, `RSS grew by ${peak - before} KiB (from ${before} KiB; ${what})`);
}

let as;
let secretFile;
const serves = [];

async function startOn(args = [], opts = {}) {
  const s = await startServe(['--issuer', as.issuer, '--client-id', CLIENT_ID, '--client-secret-file', secretFile, ...args], opts);
  serves.push(s);
  return s;
}

before(async () => {
  as = await startFakeAS();
  secretFile = path.join(tmpDir(), 'secret');
  fs.writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
});

after(async () => {
  await Promise.all(serves.map((s) => s.stop('SIGKILL')));
  await as?.stop();
});

describe('a client that never reads (--max-output-buffer, --write-timeout)', () => {
  test('pipelined GET /metrics without reading: RSS stays bounded, the connection is closed, /metrics counts both', async () => {
    const s = await startOn(['--max-output-buffer', '1048576', '--write-timeout', '2']);
    as.resource = s.resource;
    const before = rssKiB(s.pid);
    const conn = await rawConnect(s.port);
    conn.socket.pause(); // never read
    const request = Buffer.from(`GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
    const batch = Buffer.concat(Array(2000).fill(request));
    // Write as fast as the server takes it (the old server: about 1 GB queued) until it
    // says it stopped reading: the kernel's buffers on loopback take megabytes of answers
    // first, which a server slowed by other load may take several seconds to fill.
    const until = Date.now() + 20000;
    const stopped = /stopped reading from a client that leaves over --max-output-buffer unread/;
    let peak = before;
    while (Date.now() < until && !conn.ended && !stopped.test(s.stderr())) {
      if (!conn.socket.write(batch)) await sleep(100); // the server stopped taking it
      peak = Math.max(peak, rssKiB(s.pid));
    }
    peak = Math.max(peak, rssKiB(s.pid));
    assertRssBounded(before, peak, 'pipelined /metrics');
    // Its output does not move: closed within the write timeout (2 s) and a check.
    const closed = await Promise.race([conn.closed.then(() => true), sleep(6000).then(() => false)]);
    assert.ok(closed, 'the connection was not closed by --write-timeout');
    const m = await get(s.url('/metrics'));
    const hits = (label) => Number(new RegExp(`mcpauth_http_limit_hits_total\\{limit="${label}"\\} (\\d+)`).exec(m.body)?.[1]);
    assert.ok(hits('output_buffer') >= 1, m.body);
    assert.equal(hits('write_timeout'), 1, m.body);
    assert.match(s.stderr(), /stopped reading from a client that leaves over --max-output-buffer unread/);
    assert.match(s.stderr(), /closed a connection whose output did not move for --write-timeout/);
  });

  test('two workers: /metrics counts the limits at once, whichever worker answers it', async () => {
    // A limit that ends a connection leaves its worker nothing more to answer; /metrics
    // from the other worker must count it all the same, not after a log tick.
    const s = await startOn(['--workers', '2', '--max-output-buffer', '65536', '--write-timeout', '1']);
    as.resource = s.resource;
    const conn = await rawConnect(s.port);
    conn.socket.pause();
    const request = Buffer.from(`GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
    const batch = Buffer.concat(Array(2000).fill(request));
    const until = Date.now() + 20000;
    while (Date.now() < until && !conn.ended) {
      if (!conn.socket.write(batch)) await sleep(100);
    }
    assert.ok(conn.ended, 'the connection was not closed by --write-timeout');
    // Fresh connections, spread over both workers by the kernel.
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(s.url('/metrics'))));
    for (const m of answers) {
      const hits = (label) => Number(new RegExp(`mcpauth_http_limit_hits_total\\{limit="${label}"\\} (\\d+)`).exec(m.body)?.[1]);
      assert.equal(hits('write_timeout'), 1, m.body);
      assert.ok(hits('output_buffer') >= 1, m.body);
    }
  });

  test('--max-output-buffer and --write-timeout are checked, and read from --config', async () => {
    const s = await startServe(['--no-auth', '--max-output-buffer', '100']).catch((e) => e);
    assert.ok(s instanceof Error && /max-output-buffer/.test(s.message), String(s));
    const dir = tmpDir();
    const file = path.join(dir, 'serve.json');
    fs.writeFileSync(file, JSON.stringify({ 'no-auth': true, 'max-output-buffer': 65536, 'write-timeout': 5 }));
    const c = await startServe(['--config', file]);
    serves.push(c);
    assert.equal((await get(c.url('/healthz'))).status, 200);
  });
});

describe('an event stream that is never read (legacy HTTP+SSE)', () => {
  test('answers pile up on the stream: bounded, the session dropped, the connection closed', async () => {
    const s = await startServe(['--no-auth', '--max-output-buffer', '262144', '--write-timeout', '2',
      '--', process.execPath, ECHO]);
    serves.push(s);
    const before = rssKiB(s.pid);
    const conn = await rawConnect(s.port);
    conn.socket.write(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAccept: text/event-stream\r\n\r\n`);
    for (let i = 0; i < 50 && !/session_id=[0-9a-f]+/.test(conn.data.toString()); i++) await sleep(50);
    const endpoint = /(\/messages\?session_id=[0-9a-f]+)/.exec(conn.data.toString())[1];
    conn.socket.pause(); // from now on, nothing is read
    const post = (message) => fetch(s.url(endpoint), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message),
    }).then((r) => r.status).catch(() => 0);
    await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const big = 'x'.repeat(256 * 1024);
    let peak = before;
    for (let i = 0; i < 80; i++) {
      const status = await post({ jsonrpc: '2.0', id: 10 + i, method: 'tools/call', params: { name: 'echo', arguments: { big } } });
      peak = Math.max(peak, rssKiB(s.pid));
      if (status !== 202) break; // the session is gone
    }
    assertRssBounded(before, peak, '20 MiB of answers sent');
    // Its output does not move: closed (with a reset) by the write timeout.
    await s.waitForLog(/closed a connection whose output did not move/, 8000);
    const m = await get(s.url('/metrics'));
    conn.socket.resume(); // the reset is there to read
    const closed = await Promise.race([conn.closed.then(() => true), sleep(3000).then(() => false)]);
    assert.ok(closed, 'the stream connection is still open');
    assert.match(m.body, /mcpauth_http_limit_hits_total\{limit="stream_output_buffer"\} [1-9]/);
    assert.match(s.stderr(), /refused a stream write/);
  });
});

describe('file descriptors (prlimit --nofile=1024)', () => {
  test('1100 idle connections: the excess gets 503 with a log line, and token checks still reach the AS', async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const child = spawn('prlimit', ['--nofile=1024', MCPAUTH_BIN, 'serve', '--listen', `127.0.0.1:${port}`,
      '--resource', `${origin}/mcp`, '--issuer', as.issuer, '--client-id', CLIENT_ID,
      '--client-secret-file', secretFile, '--no-legacy-sse', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { log += d; });
    const exited = new Promise((r) => child.on('close', r));
    try {
      for (let i = 0; i < 100 && !/listening on/.test(log); i++) await sleep(100);
      assert.match(log, /listening on/);
      assert.match(log, /file descriptor limit 1024: at most \d+ connections per worker/);
      as.resource = `${origin}/mcp`;
      const conns = [];
      for (let i = 0; i < 1100; i++) conns.push(await rawConnect(port).catch((e) => e));
      await sleep(1000);
      const refused = conns.filter((c) => !(c instanceof Error) && c.ended && /^HTTP\/1\.1 503 /.test(c.data.toString()));
      const reset = conns.filter((c) => c instanceof Error || (c.ended && c.data.length === 0));
      assert.ok(refused.length >= 50, `${refused.length} connections got 503`);
      assert.equal(reset.length, 0, `${reset.length} connections were reset or closed without an answer`);
      assert.match(log, /503/);
      // A valid token still gets through: the introspection call has a descriptor.
      const idle = conns.find((c) => !(c instanceof Error) && !c.ended);
      idle.socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer good-fd\r\n`
        + 'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 40\r\n\r\n'
        + '{"jsonrpc":"2.0","id":1,"method":"ping"}');
      const [r] = await idle.responses(1);
      assert.notEqual(r.status, 503, r.body);
      assert.notEqual(r.status, 401, r.body);
      for (const c of conns) if (!(c instanceof Error)) c.socket.destroy();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});

describe('HTTP/1.1 rules (RFC 9112)', () => {
  let s;
  before(async () => { s = await startServe(['--no-auth']); serves.push(s); });

  const cases = [
    ['no Host', (p) => 'GET /healthz HTTP/1.1\r\n\r\n', 400],
    ['two Hosts', (p) => `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${p}\r\nHost: 127.0.0.1:${p}\r\n\r\n`, 400],
    ['Host [::1]evil.com', () => 'GET /healthz HTTP/1.1\r\nHost: [::1]evil.com\r\n\r\n', 400],
    ['Host localhost:80@evil.com', () => 'GET /healthz HTTP/1.1\r\nHost: localhost:80@evil.com\r\n\r\n', 400],
    ['space before the colon', (p) => `GET /healthz HTTP/1.1\r\nHost : 127.0.0.1:${p}\r\n\r\n`, 400],
    ['HTTP/2.0', (p) => `GET /healthz HTTP/2.0\r\nHost: 127.0.0.1:${p}\r\n\r\n`, 505],
  ];
  for (const [name, request, status] of cases) {
    test(`${name}: ${status}`, async () => {
      const conn = await rawConnect(s.port);
      conn.socket.write(request(s.port));
      const [r] = await conn.responses(1);
      assert.equal(r.status, status, conn.data.toString());
      assert.equal(r.headers.connection, 'close');
      conn.socket.destroy();
    });
  }

  test('absolute-form target: served as its path', async () => {
    const conn = await rawConnect(s.port);
    conn.socket.write(`GET http://127.0.0.1:${s.port}/healthz HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
    const [r] = await conn.responses(1);
    assert.equal(r.status, 200, conn.data.toString());
    assert.equal(r.body, 'ok\n');
    conn.socket.destroy();
  });

  test('absolute-form target naming a foreign host: the Host check applies to it', async () => {
    const conn = await rawConnect(s.port);
    conn.socket.write(`GET http://evil.example/mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
    const [r] = await conn.responses(1);
    assert.equal(r.status, 403, conn.data.toString());
    conn.socket.destroy();
  });
});

describe('half-close (RFC 9112 §9.6)', () => {
  test('a client that shuts down its sending side gets the answer of a first token check', async () => {
    const s = await startOn();
    as.resource = s.resource;
    as.delayMs = 300; // the answer is asynchronous: it waits for introspection
    try {
      const conn = await rawConnect(s.port);
      conn.socket.end(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAuthorization: Bearer good-half\r\n`
        + 'Accept: text/event-stream\r\n\r\n');
      const [r] = await conn.responses(1);
      assert.notEqual(r.status, 401, r.body);
      assert.equal(r.headers.connection, 'close');
    } finally {
      as.delayMs = 0;
    }
  });
});

describe('SIGTERM on keep-alive connections', () => {
  test('a request half received at SIGTERM is answered, one pipelined behind a busy one gets 503', async () => {
    const s = await startOn(['--shutdown-timeout', '5']);
    as.resource = s.resource;
    as.delayMs = 1000;
    try {
      const half = await rawConnect(s.port);
      half.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n`);
      const busy = await rawConnect(s.port);
      busy.socket.write(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAuthorization: Bearer good-busy\r\n`
        + 'Accept: text/event-stream\r\n\r\n');
      await sleep(200);
      process.kill(s.pid, 'SIGTERM');
      await sleep(200);
      half.socket.write('\r\n');
      busy.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`);
      const [h] = await half.responses(1);
      assert.equal(h.headers.connection, 'close');
      assert.ok(h.status === 200 || h.status === 503, String(h.status));
      const [b1, b2] = await busy.responses(2, 8000);
      assert.equal(b1.headers.connection, 'close');
      assert.equal(b2.status, 503);
      assert.equal(b2.headers.connection, 'close');
      const exit = await s.exited;
      assert.equal(exit.code, 0);
    } finally {
      as.delayMs = 0;
    }
  });
});
