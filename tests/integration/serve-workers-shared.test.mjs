// Integration tests for what the workers of one `mcpauth serve` share beyond the session
// table: /metrics (any worker answers for the whole server), and the token cache with its
// single flight (a new token costs one introspection per server, not one per worker, even
// after a worker is killed outright). Run with the default worker count (one per CPU) and
// with --workers forced, since the test machine may have only one CPU.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-workers-shared.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHttpServer, startServe, tmpDir, TIMEOUT_FACTOR } from '../lib/harness.mjs';
import { sleep, request as requestOnce } from '../lib/http.mjs';

const CLIENT_ID = 'rs-client';
const CLIENT_SECRET = 'rs-secret';
const CPUS = os.availableParallelism();

/** One request on its own connection, so that the kernel spreads them over the workers. */
const request = (url, { headers = {}, ...rest } = {}) =>
  requestOnce(url, { timeoutMs: 10000 * TIMEOUT_FACTOR, ...rest, headers: { connection: 'close', ...headers } });

/** A fake RFC 8414 + RFC 7662 authorization server: tokens starting "good" are active,
 * answered after delayMs; calls counts introspections per token. */
async function startFakeAS() {
  const as = { delayMs: 300, calls: new Map() };
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
    const token = new URLSearchParams(body).get('token') ?? '';
    as.calls.set(token, (as.calls.get(token) ?? 0) + 1);
    await sleep(as.delayMs);
    const now = Math.floor(Date.now() / 1000);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(token.startsWith('good')
      ? { active: true, sub: 'u1', client_id: 'c1', scope: 'mcp', aud: as.resource, iss: server.origin, exp: now + 3600 }
      : { active: false }));
  });
  return Object.assign(as, { issuer: server.origin, stop: server.stop });
}

function workerPids(serve) {
  try {
    return execFileSync('pgrep', ['-P', String(serve.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Waits until the server runs n workers, none of them in `not`. */
async function waitForWorkers(serve, n, not = []) {
  let pids = [];
  for (const deadline = Date.now() + 10000 * TIMEOUT_FACTOR; Date.now() < deadline; await sleep(50)) {
    pids = workerPids(serve);
    if (pids.length === n && !pids.some((p) => not.includes(p))) break;
  }
  assert.equal(pids.length, n, `workers: ${pids}`);
  // Each worker says so once it listens; give the last ones a moment.
  await sleep(200);
  return pids;
}

function post(serve, token) {
  return request(serve.url('/mcp'), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
}

const metric = (text, name) => {
  const m = text.match(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+(?:\\.\\d+)?)$`, 'm'));
  return m ? Number(m[1]) : undefined;
};

const freshToken = () => `good-${crypto.randomBytes(16).toString('hex')}`;

let as;
let secretFile;

before(async () => {
  as = await startFakeAS();
  secretFile = path.join(tmpDir(), 'secret');
  fs.writeFileSync(secretFile, CLIENT_SECRET, { mode: 0o600 });
});

after(async () => {
  await as?.stop();
});

for (const mode of ['default', '--workers 3']) {
  describe(`serve with ${mode === 'default' ? `the default worker count (${CPUS} CPUs)` : mode}`, () => {
    const workers = mode === 'default' ? CPUS : 3;
    let serve;
    let pids;

    before(async () => {
      const args = ['--issuer', as.issuer, '--client-id', CLIENT_ID, '--client-secret-file', secretFile, '--stateless'];
      if (mode !== 'default') args.push(...mode.split(' '));
      serve = await startServe(args, { defaultWorkers: true });
      as.resource = serve.resource;
      pids = workers > 1 ? await waitForWorkers(serve, workers) : [serve.pid];
    });

    after(async () => {
      if (!serve) return;
      // A clean stop: exit 0 from every worker, no sanitizer report.
      const exit = await serve.stop('SIGTERM');
      assert.equal(exit.code, 0, serve.stderr().slice(-3000));
      assert.doesNotMatch(serve.stderr(), /ERROR: (Address|Leak)Sanitizer|runtime error:/);
    });

    test(`${workers} worker${workers > 1 ? 's' : ''} run, and /metrics says so`, async () => {
      if (workers > 1) assert.match(serve.stderr(), new RegExp(`, ${workers} workers`));
      const r = await request(serve.url('/metrics'));
      assert.equal(metric(r.body, 'mcpauth_workers'), workers, r.body);
    });

    test('50 concurrent requests with a fresh opaque token: exactly 1 introspection', async () => {
      const token = freshToken();
      const replies = await Promise.all(Array.from({ length: 50 }, () => post(serve, token)));
      assert.deepEqual(replies.map((r) => r.status), Array(50).fill(200));
      assert.equal(as.calls.get(token), 1);
      // And a rejected one: its rejection is shared too.
      const bad = `bad-${crypto.randomBytes(16).toString('hex')}`;
      const refused = await Promise.all(Array.from({ length: 50 }, () => post(serve, bad)));
      assert.deepEqual(refused.map((r) => r.status), Array(50).fill(401));
      assert.equal(as.calls.get(bad), 1);
    });

    test('/metrics totals equal the requests sent, over 100 scrapes', async () => {
      const start = await request(serve.url('/metrics'));
      const base2xx = metric(start.body, 'mcpauth_http_requests_total{code="2xx"}');
      const base4xx = metric(start.body, 'mcpauth_http_requests_total{code="4xx"}');
      const token = freshToken();
      let sent2xx = 1; // the scrape above, counted once answered
      let sent4xx = 0;
      const seenPids = new Set();
      for (let round = 0; round < 100; round++) {
        const batch = await Promise.all([post(serve, token), post(serve, token), request(serve.url('/nowhere'))]);
        assert.deepEqual(batch.map((r) => r.status), [200, 200, 404]);
        sent2xx += 2;
        sent4xx += 1;
        const m = await request(serve.url('/metrics'));
        assert.equal(metric(m.body, 'mcpauth_http_requests_total{code="2xx"}') - base2xx, sent2xx, `round ${round}`);
        assert.equal(metric(m.body, 'mcpauth_http_requests_total{code="4xx"}') - base4xx, sent4xx, `round ${round}`);
        sent2xx += 1;
        for (const [, pid] of m.body.matchAll(/^mcpauth_worker_open_connections\{worker="\d+",pid="(\d+)"\} 1$/gm)) seenPids.add(Number(pid));
      }
      const last = (await request(serve.url('/metrics'))).body;
      assert.equal(metric(last, 'mcpauth_token_validations_total{outcome="valid"}') >= 200, true, last);
      assert.equal(as.calls.get(token), 1);
      if (workers > 1) assert.ok(seenPids.size > 1, `scrapes answered by ${[...seenPids]}`);
    });

    if (workers > 1) {
      test('a worker killed (SIGKILL) during validations: replaced, counters kept, the cache still shared', async () => {
        const before = (await request(serve.url('/metrics'))).body;
        const valid = metric(before, 'mcpauth_token_validations_total{outcome="valid"}');
        // Kill one worker while every worker is busy with new tokens (and so with the
        // shared cache's locks).
        const flood = Array.from({ length: 200 }, () => post(serve, freshToken()).catch(() => null));
        await sleep(20);
        process.kill(pids[0], 'SIGKILL');
        await Promise.all(flood);
        await serve.waitForLog(new RegExp(`worker ${pids[0]} killed by signal 9`));
        pids = await waitForWorkers(serve, workers, [pids[0]]);
        const token = freshToken();
        const replies = await Promise.all(Array.from({ length: 50 }, () => post(serve, token)));
        assert.deepEqual(replies.map((r) => r.status), Array(50).fill(200));
        assert.equal(as.calls.get(token), 1);
        const after = (await request(serve.url('/metrics'))).body;
        assert.ok(metric(after, 'mcpauth_token_validations_total{outcome="valid"}') >= valid + 50, after);
      });
    }
  });
}
