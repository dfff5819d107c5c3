// `mcpauth serve` keeps its calls to the authorization server bounded whatever clients
// send: 400 requests, each with a different made-up token, against an authorization
// server whose introspection endpoint hangs. At most --max-introspections calls are out
// at once; --max-introspection-queue more validations wait; the rest get 503 with
// Retry-After at once, counted in /metrics. When the AS answers, the queue drains in
// turn, and a rejection is cached as before.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-introspection-limits.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServe, tmpDir } from '../lib/harness.mjs';

const CLIENT_ID = 'rs-client';
const CLIENT_SECRET = 'rs-secret';
const CAP = 8;
const QUEUE = 50;
const REQUESTS = 400;

/** An RFC 8414 + RFC 7662 server whose introspection answers wait for release(). */
async function startHangingAS() {
  const as = { open: 0, most: 0, calls: 0, held: [] };
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        issuer: as.issuer,
        token_endpoint: `${as.issuer}/token`,
        introspection_endpoint: `${as.issuer}/introspect`,
        response_types_supported: ['code'],
      }));
      return;
    }
    as.calls++;
    as.open++;
    as.most = Math.max(as.most, as.open);
    req.resume();
    const answer = () => {
      as.open--;
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"active":false}');
    };
    res.on('close', () => { if (!res.writableEnded) as.open--; });
    if (as.releasing) answer();
    else as.held.push(answer);
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  as.issuer = `http://127.0.0.1:${server.address().port}`;
  as.release = () => {
    as.releasing = true;
    for (const answer of as.held.splice(0)) answer();
  };
  as.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); });
  return as;
}

function post(serve, token) {
  return new Promise((resolve, reject) => {
    const req = http.request(serve.url('/mcp'), {
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        connection: 'close',
      },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }));
  });
}

function metric(text, name) {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function metrics(serve) {
  const body = await new Promise((resolve, reject) => {
    http.get(serve.url('/metrics'), { agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (d) => { data += d; }).on('end', () => resolve(data));
    }).on('error', reject);
  });
  return body;
}

describe(`serve --max-introspections ${CAP} --max-introspection-queue ${QUEUE}, AS hanging`, () => {
  let as;
  let serve;

  before(async () => {
    as = await startHangingAS();
    const secret = path.join(tmpDir(), 'secret');
    fs.writeFileSync(secret, `${CLIENT_SECRET}\n`, { mode: 0o600 });
    serve = await startServe(['--issuer', as.issuer, '--client-id', CLIENT_ID, '--client-secret-file', secret,
      '--max-introspections', String(CAP), '--max-introspection-queue', String(QUEUE), '--timeout', '60']);
  });

  after(async () => {
    as?.release();
    if (serve) await serve.stop('SIGKILL');
    if (as) await as.close();
  });

  test(`${REQUESTS} made-up tokens: ${CAP} calls out, ${QUEUE} waiting, the rest 503 at once`, async () => {
    const tokens = Array.from({ length: REQUESTS }, () => crypto.randomBytes(16).toString('hex'));
    const answers = tokens.map((t) => post(serve, t));
    // Everything beyond cap + queue is answered without the AS answering anything.
    const overflow = REQUESTS - CAP - QUEUE;
    const early = [];
    for (const [i, a] of answers.entries()) a.then((r) => { early.push({ i, ...r }); });
    for (const deadline = Date.now() + 20000; early.length < overflow && Date.now() < deadline;) {
      await new Promise((resolve) => { setTimeout(resolve, 50); });
    }
    assert.equal(early.length, overflow, `answered before the AS said anything: ${early.length}`);
    assert.ok(early.every((r) => r.status === 503), JSON.stringify(early.filter((r) => r.status !== 503).slice(0, 3)));
    assert.equal(early[0].headers['retry-after'], '5');
    // The calls reach the AS as their connections open: wait for them, then a while more
    // to see that no call beyond the cap follows.
    for (const deadline = Date.now() + 10000; as.open < CAP && Date.now() < deadline;) {
      await new Promise((resolve) => { setTimeout(resolve, 50); });
    }
    await new Promise((resolve) => { setTimeout(resolve, 300); });
    assert.equal(as.open, CAP, 'introspection calls out at once');
    const m = await metrics(serve);
    assert.equal(metric(m, 'mcpauth_introspection_overloaded_total'), overflow, m);
    assert.equal(metric(m, 'mcpauth_introspections_in_flight'), CAP, m);
    assert.equal(metric(m, 'mcpauth_introspections_queued'), QUEUE, m);

    as.release();
    const all = await Promise.all(answers);
    assert.equal(all.filter((r) => r.status === 401).length, CAP + QUEUE);
    assert.ok(as.most <= CAP, `at most ${CAP} calls at once, saw ${as.most}`);
    assert.equal(as.calls, CAP + QUEUE);
    const after = await metrics(serve);
    assert.equal(metric(after, 'mcpauth_introspections_in_flight'), 0, after);
    assert.equal(metric(after, 'mcpauth_introspections_queued'), 0, after);
  });

  test('a rejection is still cached: the same made-up token again costs no call', async () => {
    const token = crypto.randomBytes(16).toString('hex');
    assert.equal((await post(serve, token)).status, 401);
    const calls = as.calls;
    assert.equal((await post(serve, token)).status, 401);
    assert.equal(as.calls, calls);
  });

  test('a 503 for overload is not cached: the token is asked about once a slot is free', async () => {
    const token = crypto.randomBytes(16).toString('hex');
    const calls = as.calls;
    assert.equal((await post(serve, token)).status, 401);
    assert.equal(as.calls, calls + 1);
  });
});
