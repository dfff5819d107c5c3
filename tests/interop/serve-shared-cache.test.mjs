// The Redis tier (--shared-cache) against real peers: two `mcpauth serve` instances of one
// resource share validation results through a real redis-server, and oidc-provider issues
// opaque tokens and counts its introspection calls.
// - 50 concurrent requests with a fresh token, spread over both instances: exactly one
//   introspection at oidc-provider (single flight across instances); a made-up token too.
// - Redis killed while requests run: none fails; each instance warns once and says so in
//   its metrics (mcpauth_shared_cache_up 0, errors counted); Redis back: used again (one
//   introspection for the next fresh token), and the log says it is back.
// - Redis stopped (SIGSTOP) rather than gone: answers later than --shared-cache-timeout
//   count as Redis down; requests still succeed.
// Needs redis-server (scripts/bootstrap installs it); skipped without it.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-shared-cache.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { clientCredentials, registerClientCredentials } from '../lib/mcp.mjs';
import { startAuthServer } from './lib/authserver.mjs';

const REDIS = process.env.REDIS_SERVER ?? 'redis-server';
const haveRedis = spawnSync(REDIS, ['--version']).status === 0;
const MODERN = '2026-07-28';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** redis-server on a loopback port, no persistence; resolves once it answers. */
async function startRedis(port) {
  const child = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (let i = 0; i < 100 && !/Ready to accept connections/.test(out); i++) await sleep(50);
  assert.match(out, /Ready to accept connections/, out);
  return { child, exited, stop: async () => { child.kill('SIGKILL'); await exited; } };
}

describe('two instances sharing results through Redis', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let as, redis, redisPort, a, b, resource, mcpClient, tokenEndpoint;
  let introspections = 0;

  before(async () => {
    const portA = await freePort();
    resource = `http://127.0.0.1:${portA}/mcp`;
    as = await startAuthServer({
      resources: { [resource]: { scope: 'mcp', accessTokenFormat: 'opaque' } },
      use: [async (ctx, next) => {
        if (ctx.method === 'POST' && ctx.path === '/token/introspection') introspections++;
        await next();
      }],
    });
    const metadata = await (await fetch(as.url('/.well-known/oauth-authorization-server'))).json();
    tokenEndpoint = metadata.token_endpoint;
    assert.equal(new URL(metadata.introspection_endpoint).pathname, '/token/introspection');
    const dir = tmpDir();
    const credentials = path.join(dir, 'rs.json');
    await registerClientCredentials(as.issuer, 'mcpauth instances', { out: credentials });
    mcpClient = await registerClientCredentials(as.issuer, 'mcp client');

    redisPort = await freePort();
    redis = await startRedis(redisPort);
    const common = ['--credentials', credentials, '--resource', resource,
      '--shared-cache', `redis://127.0.0.1:${redisPort}`, '--cache-ttl', '60'];
    a = await startServe([...common, '--listen', `127.0.0.1:${portA}`], { port: portA, listenArgs: false });
    const portB = await freePort();
    b = await startServe([...common, '--listen', `127.0.0.1:${portB}`], { port: portB, listenArgs: false });
  });

  after(async () => {
    for (const s of [a, b]) {
      const r = await s?.stop();
      if (r) assert.deepEqual(r, { code: 0, signal: null });
    }
    await redis?.stop();
    await as?.stop();
  });

  const freshToken = async () => (await clientCredentials(tokenEndpoint, mcpClient, { resource })).access_token;

  /** A 2026-07-28 tools/call of hello_world on instance s: its HTTP status. */
  async function call(s, token) {
    const r = await fetch(s.url('/mcp'), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'hello_world',
      },
      body: JSON.stringify({
        jsonrpc: '2.0', id: 1, method: 'tools/call', params: {
          name: 'hello_world', arguments: {},
          _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      }),
    });
    await r.text();
    return r.status;
  }

  /** 50 concurrent calls with token, alternating between the instances. */
  const burst = (token) => Promise.all(Array.from({ length: 50 }, (_, i) => call(i % 2 ? b : a, token)));

  async function metric(s, name) {
    const text = await (await fetch(s.url('/metrics'))).text();
    const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
    assert.ok(m, `${name} in ${text}`);
    return Number(m[1]);
  }

  async function waitFor(what, predicate, ms = 10000) {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await predicate()) return;
    assert.fail(`timed out waiting for ${what}`);
  }

  test('a fresh token costs one introspection for both instances', async () => {
    await waitFor('Redis connected', async () => (await metric(a, 'mcpauth_shared_cache_up')) === 1 &&
      (await metric(b, 'mcpauth_shared_cache_up')) === 1);
    const token = await freshToken();
    const before = introspections;
    const statuses = await burst(token);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(introspections - before, 1, 'introspections at oidc-provider');
    assert.equal(await metric(a, 'mcpauth_introspection_requests_total') +
      await metric(b, 'mcpauth_introspection_requests_total'), 1);
    assert.ok(await metric(a, 'mcpauth_shared_cache_hits_total') + await metric(b, 'mcpauth_shared_cache_hits_total') >= 1);
  });

  test('a made-up token: one introspection, every request 401', async () => {
    const before = introspections;
    const statuses = await burst(`made-up-${Date.now()}`);
    assert.deepEqual([...new Set(statuses)], [401]);
    assert.equal(introspections - before, 1);
  });

  /** Writes value under the result key of token, as another instance (or an attacker
   * with access to Redis) would. */
  function plant(token, value) {
    const sha = (text) => crypto.createHash('sha256').update(text).digest('hex');
    const key = `mcpauth:${sha(resource).slice(0, 16)}:t:${sha(token)}`;
    const r = spawnSync('redis-cli', ['-p', String(redisPort), 'SET', key, value, 'EX', '60']);
    assert.equal(String(r.stdout).trim(), 'OK', String(r.stderr));
  }

  test('what Redis holds is checked like any answer: garbage ignored, foreign claims refused', async () => {
    const token = await freshToken();
    plant(token, '{not json');
    let before = introspections;
    assert.equal(await call(a, token), 200);
    assert.equal(introspections - before, 1, 'a garbage entry is as good as none');

    // A well-formed "valid" entry for a token of another resource: this server's own
    // audience check still refuses it, without asking the authorization server.
    const forged = `forged-${Date.now()}`;
    plant(forged, JSON.stringify({
      valid: true, by: 'introspection',
      info: { active: true, aud: ['https://elsewhere.example/mcp'], scope: 'mcp', exp: Math.floor(Date.now() / 1000) + 600 },
    }));
    before = introspections;
    assert.equal(await call(b, forged), 401);
    assert.equal(introspections - before, 0);
  });

  test('Redis stopped mid-run: no request fails, a warning, the metric; back: used again', async () => {
    const token = await freshToken();
    let failures = 0, done = 0, running = true;
    const load = (async () => {
      while (running) {
        const statuses = await Promise.all([call(a, token), call(b, token)]);
        failures += statuses.filter((s) => s !== 200).length;
        done += 2;
      }
    })();
    await sleep(200);
    await redis.stop();
    // Fresh tokens while Redis is gone: validated locally, still 200.
    const statuses = await burst(await freshToken());
    assert.deepEqual([...new Set(statuses)], [200]);
    await waitFor('the instances to notice', async () => (await metric(a, 'mcpauth_shared_cache_up')) === 0 &&
      (await metric(b, 'mcpauth_shared_cache_up')) === 0);
    assert.ok(await metric(a, 'mcpauth_shared_cache_errors_total') >= 1);
    running = false;
    await load;
    assert.equal(failures, 0, `${failures} of ${done} requests failed while Redis went away`);
    for (const s of [a, b]) {
      const warnings = s.stderr().match(/shared cache redis:\/\/127\.0\.0\.1:\d+: .*validating locally until it is back/g) ?? [];
      assert.equal(warnings.length, 1, s.stderr());
    }

    redis = await startRedis(redisPort);
    await waitFor('Redis used again', async () => (await metric(a, 'mcpauth_shared_cache_up')) === 1 &&
      (await metric(b, 'mcpauth_shared_cache_up')) === 1, 15000);
    for (const s of [a, b]) assert.match(s.stderr(), /shared cache redis:\/\/127\.0\.0\.1:\d+ is back/);
    const before = introspections;
    assert.deepEqual([...new Set(await burst(await freshToken()))], [200]);
    assert.equal(introspections - before, 1);
  });

  test('Redis frozen: answers later than the timeout count as down, requests succeed', async () => {
    const errorsBefore = await metric(a, 'mcpauth_shared_cache_errors_total');
    redis.child.kill('SIGSTOP');
    try {
      const statuses = await burst(await freshToken());
      assert.deepEqual([...new Set(statuses)], [200]);
      assert.ok(await metric(a, 'mcpauth_shared_cache_errors_total') > errorsBefore);
    } finally {
      redis.child.kill('SIGCONT');
    }
    await waitFor('Redis used again', async () => (await metric(a, 'mcpauth_shared_cache_up')) === 1 &&
      (await metric(b, 'mcpauth_shared_cache_up')) === 1, 15000);
    assert.match(a.stderr(), /no answer within 250 ms/);
  });
});
