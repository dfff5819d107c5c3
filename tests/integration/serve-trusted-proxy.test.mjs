// `serve --trusted-proxy CIDR`: from a trusted peer the access log names the
// client its Forwarded / X-Forwarded-For fields give (and the scheme its
// X-Forwarded-Proto gives); from any other peer those fields are ignored. The
// untrusted peer is 127.0.0.2, a second loopback address the test binds to.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startServe, run, tmpDir } from '../lib/harness.mjs';

function get(url, { headers = {}, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
  });
}

// The JSON access-log line of the request to path (a unique path per request).
async function logLine(serve, path) {
  const escaped = path.replace(/[?]/g, '\\?');
  const log = await serve.waitForLog(new RegExp(`"path":"${escaped}"`));
  return JSON.parse(log.split('\n').find((l) => l.includes(`"path":"${path}"`)));
}

describe('serve --trusted-proxy', () => {
  let serve;
  before(async () => {
    serve = await startServe(['--no-auth', '--log-format', 'json', '--trusted-proxy',
      '127.0.0.1/32', '--trusted-proxy', '10.0.0.0/8', '--trusted-proxy', '::1']);
  });
  after(async () => {
    const { code } = await serve.stop();
    assert.equal(code, 0);
  });

  test('from a trusted peer: the rightmost untrusted X-Forwarded-For address, and the proto',
    async () => {
      assert.equal(await get(serve.url('/healthz?a'), { headers: {
        'x-forwarded-for': '203.0.113.66, 198.51.100.7, 10.1.2.3', 'x-forwarded-proto': 'https' } }),
      200);
      const line = await logLine(serve, '/healthz');
      assert.equal(line.peer, '198.51.100.7');
      assert.equal(line.scheme, 'https');
    });

  test('from a trusted peer: RFC 7239 Forwarded, which wins over X-Forwarded-For', async () => {
    assert.equal(await get(serve.url('/metadata-miss-1'), { headers: {
      forwarded: 'for=192.0.2.1, for="[2001:db8::7]:4711";proto=http', 'x-forwarded-for': '8.8.8.8' } }),
    404);
    const line = await logLine(serve, '/metadata-miss-1');
    assert.equal(line.peer, '2001:db8::7');
    assert.equal(line.scheme, 'http');
  });

  test('from a trusted peer: a hostile entry ends the walk at the last trusted hop', async () => {
    assert.equal(await get(serve.url('/metadata-miss-2'), { headers: {
      'x-forwarded-for': '1.2.3.4, <script>alert(1)</script>, 10.9.8.7' } }), 404);
    const line = await logLine(serve, '/metadata-miss-2');
    assert.equal(line.peer, '10.9.8.7');
  });

  test('from an untrusted peer the fields are ignored', async () => {
    assert.equal(await get(serve.url('/metadata-miss-3'), { localAddress: '127.0.0.2', headers: {
      'x-forwarded-for': '198.51.100.7', forwarded: 'for=192.0.2.1;proto=https',
      'x-forwarded-proto': 'https' } }), 404);
    const line = await logLine(serve, '/metadata-miss-3');
    assert.equal(line.peer, '127.0.0.2');
    assert.equal(line.scheme, 'http');
  });

  test('without the fields, the peer', async () => {
    assert.equal(await get(serve.url('/metadata-miss-4')), 404);
    assert.equal((await logLine(serve, '/metadata-miss-4')).peer, '127.0.0.1');
  });
});

test('without --trusted-proxy nobody is believed', async () => {
  const serve = await startServe(['--no-auth']);
  try {
    assert.equal(await get(serve.url('/metadata-miss-5'), { headers: {
      'x-forwarded-for': '198.51.100.7' } }), 404);
    const log = await serve.waitForLog(/"GET \/metadata-miss-5" 404/);
    assert.match(log, /127\.0\.0\.1 "GET \/metadata-miss-5" 404/);
    assert.doesNotMatch(log, /198\.51\.100\.7/);
  } finally {
    await serve.stop();
  }
});

test('a malformed --trusted-proxy is a usage error', async () => {
  for (const bad of ['10.0.0.1/8', 'example.com', '::/200', '']) {
    const r = await run(['serve', '--no-auth', '--trusted-proxy', bad]);
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--trusted-proxy/);
  }
});

test('from a --config file; --trusted-proxy on the command line replaces its list', async () => {
  const file = path.join(tmpDir(), 'serve.json');
  fs.writeFileSync(file, JSON.stringify({ 'no-auth': true, 'log-format': 'json',
    'trusted-proxy': ['127.0.0.1'] }));
  const headers = { 'x-forwarded-for': '198.51.100.9' };
  const fromFile = await startServe(['--config', file]);
  try {
    await get(fromFile.url('/metadata-miss-6'), { headers });
    assert.equal((await logLine(fromFile, '/metadata-miss-6')).peer, '198.51.100.9');
  } finally {
    await fromFile.stop();
  }
  const replaced = await startServe(['--config', file, '--trusted-proxy', '10.0.0.0/8']);
  try {
    await get(replaced.url('/metadata-miss-7'), { headers });
    assert.equal((await logLine(replaced, '/metadata-miss-7')).peer, '127.0.0.1');
  } finally {
    await replaced.stop();
  }
});
