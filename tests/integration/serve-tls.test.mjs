// `serve --tls-cert/--tls-key`: HTTPS on the listener, with a test CA and
// certificates made here with certtool (GnuTLS's). curl and Node's TLS client
// call a tool over https; a wrong CA and an expired certificate are refused
// by the client; SIGHUP swaps the certificate while a keep-alive connection
// and an SSE stream stay open; a plain-HTTP request to the TLS port and a
// stalled handshake are answered or closed within their limits, the server
// unaffected.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { startServe, tmpDir, run, TIMEOUT_FACTOR } from '../lib/harness.mjs';

const haveCerttool = spawnSync('certtool', ['--version']).status === 0;
const haveCurl = spawnSync('curl', ['--version']).status === 0;

function certtool(args) {
  execFileSync('certtool', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

// A CA (key + self-signed certificate) in dir/NAME.{key,pem}.
function makeCa(dir, name) {
  const key = path.join(dir, `${name}.key`);
  const pem = path.join(dir, `${name}.pem`);
  const tmpl = path.join(dir, `${name}.tmpl`);
  fs.writeFileSync(tmpl, `cn = "mcpauth ${name}"\nca\ncert_signing_key\nexpiration_days = 2\n`);
  certtool(['--generate-privkey', '--key-type', 'ecdsa', '--outfile', key]);
  certtool(['--generate-self-signed', '--load-privkey', key, '--template', tmpl, '--outfile', pem]);
  return { key, pem };
}

// A server certificate for 127.0.0.1/localhost signed by ca, in dir/NAME.{key,pem} (key 0600).
function makeServerCert(dir, ca, name, { serial, expired = false }) {
  const key = path.join(dir, `${name}.key`);
  const pem = path.join(dir, `${name}.pem`);
  const tmpl = path.join(dir, `${name}.tmpl`);
  const validity = expired
    ? 'activation_date = "2020-01-01 00:00:00 UTC"\nexpiration_date = "2020-01-02 00:00:00 UTC"\n'
    : 'expiration_days = 2\n';
  fs.writeFileSync(tmpl, `cn = "${name}"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n` +
    `tls_www_server\nsigning_key\nencryption_key\nserial = ${serial}\n${validity}`);
  certtool(['--generate-privkey', '--key-type', 'ecdsa', '--outfile', key]);
  certtool(['--generate-certificate', '--load-privkey', key, '--load-ca-certificate', ca.pem,
    '--load-ca-privkey', ca.key, '--template', tmpl, '--outfile', pem]);
  fs.chmodSync(key, 0o600);
  return { key, pem };
}

const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};
const CALL = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call',
  params: { name: 'hello_world', arguments: {} } });

// One https request; resolves {status, body, socket, cert} or rejects with the TLS error.
function httpsRequest(url, { ca, method = 'GET', headers = {}, body, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca, agent, timeout: 10000 * TIMEOUT_FACTOR },
      (res) => {
        const cert = res.socket.getPeerCertificate();
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { data += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: data, socket: res.socket,
          cert, headers: res.headers }));
      });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// A fresh TLS handshake: the certificate the server presents, and the TLS details.
function handshake(port, options = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
      const out = { cert: s.getPeerCertificate(), protocol: s.getProtocol(),
        alpn: s.alpnProtocol };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  });
}

// Stops serve and checks it exited cleanly: under valgrind (MCPAUTH_WRAPPER), a leak or
// a memory error turns the exit status into 99.
async function stopClean(serve) {
  const { code, signal } = await serve.stop();
  assert.equal(code, 0, `serve exited with ${code ?? signal}\n${serve.stderr()}`);
}

function closedWithin(socket, ms) {
  return new Promise((resolve) => {
    const started = Date.now();
    const timer = setTimeout(() => resolve({ closed: false, ms: Date.now() - started }), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, ms: Date.now() - started });
    });
    socket.on('error', () => {});
  });
}

describe('serve over TLS', { skip: !haveCerttool && 'certtool (gnutls-bin) is not installed' }, () => {
  let dir, ca, otherCa, first, second, expired;

  before(() => {
    dir = tmpDir();
    ca = makeCa(dir, 'ca');
    otherCa = makeCa(dir, 'other-ca');
    first = makeServerCert(dir, ca, 'first', { serial: '0x1001' });
    second = makeServerCert(dir, ca, 'second', { serial: '0x2002' });
    expired = makeServerCert(dir, ca, 'expired', { serial: '0x3003', expired: true });
  });

  function tlsArgs(cert, extra = []) {
    return (port) => ['--no-auth', '--resource', `https://127.0.0.1:${port}/mcp`,
      '--tls-cert', cert.pem, '--tls-key', cert.key, ...extra];
  }

  describe('one server', () => {
    let serve;
    const caPem = () => fs.readFileSync(ca.pem);
    before(async () => {
      serve = await startServe(tlsArgs(first, ['--stateless', '--header-timeout', '1',
        '--max-pipelined', '4']));
    });
    after(async () => { if (serve) await stopClean(serve); });

    test('announces https and the certificate it serves', () => {
      assert.match(serve.stderr(), /listening on https:\/\/127\.0\.0\.1:\d+/);
      assert.match(serve.stderr(), /TLS certificate: subject CN=first, serial 1001, not after \S+Z\n/);
      assert.equal(serve.origin.startsWith('https://'), true);
    });

    test('curl calls a tool over https, trusting the test CA', { skip: !haveCurl && 'no curl' },
      async () => {
        const r = spawnSync('curl', ['-sS', '--cacert', ca.pem, serve.url('/mcp'),
          ...Object.entries(JSON_HEADERS).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
          '-d', CALL], { encoding: 'utf8', timeout: 20000 * TIMEOUT_FACTOR });
        assert.equal(r.status, 0, r.stderr);
        assert.match(JSON.parse(r.stdout).result.content[0].text, /Hello/);
      });

    test('curl with another CA refuses the certificate', { skip: !haveCurl && 'no curl' }, () => {
      const r = spawnSync('curl', ['-sS', '--cacert', otherCa.pem, serve.url('/healthz')],
        { encoding: 'utf8', timeout: 20000 * TIMEOUT_FACTOR });
      assert.equal(r.status, 60, `curl exit ${r.status}: ${r.stderr}`); // CURLE_PEER_FAILED_VERIFICATION
    });

    test('Node calls a tool; TLS 1.3, ALPN http/1.1; another CA is refused', async () => {
      const r = await httpsRequest(serve.url('/mcp'), { ca: caPem(), method: 'POST',
        headers: JSON_HEADERS, body: CALL });
      assert.equal(r.status, 200);
      assert.match(JSON.parse(r.body).result.content[0].text, /Hello/);
      const h = await handshake(serve.port, { ca: caPem(), ALPNProtocols: ['h2', 'http/1.1'] });
      assert.equal(h.protocol, 'TLSv1.3');
      assert.equal(h.alpn, 'http/1.1');
      const h12 = await handshake(serve.port, { ca: caPem(), maxVersion: 'TLSv1.2' });
      assert.equal(h12.protocol, 'TLSv1.2');
      await assert.rejects(handshake(serve.port, { ca: fs.readFileSync(otherCa.pem) }),
        (err) => /UNABLE_TO_VERIFY|self.signed|unable to verify/i.test(`${err.code} ${err.message}`));
    });

    test('TLS 1.1 is refused', async () => {
      // The server's protocol_version alert, not the client's own refusal.
      await assert.rejects(handshake(serve.port, { ca: caPem(), minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }),
      (err) => /alert protocol version/i.test(err.message));
      const r = await httpsRequest(serve.url('/healthz'), { ca: caPem() });
      assert.equal(r.status, 200);
    });

    test('pipelined requests over TLS are all answered, in order, past --max-pipelined',
      async () => {
        const n = 60;
        const socket = tls.connect({ host: '127.0.0.1', port: serve.port, ca: caPem(),
          servername: 'localhost' });
        await new Promise((resolve, reject) => socket.once('secureConnect', resolve)
          .once('error', reject));
        // One write: many requests in few records, read while the queue is full.
        let batch = '';
        for (let i = 0; i < n; i++)
          batch += `GET /metadata-miss-${i} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
        batch += 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
        socket.write(batch);
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (d) => { text += d; });
        await new Promise((resolve) => socket.on('end', resolve));
        socket.destroy();
        const statuses = [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]);
        assert.equal(statuses.length, n + 1);
        assert.deepEqual(statuses.slice(0, n), Array(n).fill('404'));
        assert.equal(statuses[n], '200');
        assert.match(text, /ok\n?$/);
      });

    test('a body over --max-body-bytes gets 413 over TLS too', async () => {
      const socket = tls.connect({ host: '127.0.0.1', port: serve.port, ca: caPem(),
        servername: 'localhost' });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve)
        .once('error', reject));
      socket.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${2 * 1024 * 1024}\r\n\r\n{`);
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (d) => { text += d; });
      socket.on('error', () => {});
      await new Promise((resolve) => socket.on('close', resolve));
      assert.match(text, /^HTTP\/1\.1 413 /);
    });

    test('a plain-HTTP request to the TLS port gets a plain 400 and the connection closes',
      async () => {
        const started = Date.now();
        const r = await new Promise((resolve, reject) => {
          const req = http.get(`http://127.0.0.1:${serve.port}/healthz`, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve({ status: res.statusCode, body,
              connection: res.headers.connection }));
          });
          req.on('error', reject);
        });
        assert.equal(r.status, 400);
        assert.equal(r.connection, 'close');
        assert.match(r.body, /HTTPS/);
        assert.ok(Date.now() - started < 2000 * TIMEOUT_FACTOR);
        await serve.waitForLog(/" 400 .*plain HTTP sent to the TLS port/);
        const ok = await httpsRequest(serve.url('/healthz'), { ca: caPem() });
        assert.equal(ok.status, 200);
      });

    test('a handshake that stalls is closed after the header timeout', async () => {
      // Nothing at all, and a ClientHello's first bytes that never finish.
      const silent = net.connect(serve.port, '127.0.0.1');
      const partial = net.connect(serve.port, '127.0.0.1', () => {
        partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      });
      const [a, b] = await Promise.all([closedWithin(silent, 4000 * TIMEOUT_FACTOR),
        closedWithin(partial, 4000 * TIMEOUT_FACTOR)]);
      assert.equal(a.closed, true, 'the silent connection stayed open');
      assert.equal(b.closed, true, 'the stalled handshake stayed open');
      assert.ok(a.ms >= 800 && b.ms >= 800, `closed too early: ${a.ms} ${b.ms} ms`);
      const ok = await httpsRequest(serve.url('/healthz'), { ca: caPem() });
      assert.equal(ok.status, 200);
    });

    test('a bogus handshake record closes only that connection, within the header timeout', async () => {
      const s = net.connect(serve.port, '127.0.0.1', () => {
        s.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10]),
          Buffer.alloc(16, 0xff)]));
      });
      const c = await closedWithin(s, 4000 * TIMEOUT_FACTOR);
      assert.equal(c.closed, true);
      const ok = await httpsRequest(serve.url('/healthz'), { ca: caPem() });
      assert.equal(ok.status, 200);
    });
  });

  test('an expired certificate is refused by the clients', async () => {
    const serve = await startServe(tlsArgs(expired));
    try {
      assert.match(serve.stderr(), /TLS certificate: subject CN=expired, .*EXPIRED/);
      await assert.rejects(httpsRequest(serve.url('/healthz'), { ca: fs.readFileSync(ca.pem) }),
        (err) => err.code === 'CERT_HAS_EXPIRED');
      if (haveCurl) {
        const r = spawnSync('curl', ['-sS', '--cacert', ca.pem, serve.url('/healthz')],
          { encoding: 'utf8', timeout: 20000 * TIMEOUT_FACTOR });
        assert.equal(r.status, 60, `curl exit ${r.status}: ${r.stderr}`);
        assert.match(r.stderr, /expired/i);
      }
    } finally {
      await stopClean(serve);
    }
  });

  test('SIGHUP swaps the certificate; a keep-alive connection and an SSE stream stay open',
    async () => {
      // The served files are copies, replaced in place before the signal.
      const live = { pem: path.join(dir, 'live.pem'), key: path.join(dir, 'live.key') };
      fs.copyFileSync(first.pem, live.pem);
      fs.copyFileSync(first.key, live.key);
      fs.chmodSync(live.key, 0o600);
      const serve = await startServe(tlsArgs(live));
      const caPem = fs.readFileSync(ca.pem);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: caPem });
      try {
        // Keep-alive connection under the first certificate.
        const k1 = await httpsRequest(serve.url('/healthz'), { agent });
        assert.equal(k1.cert.serialNumber, '1001');
        // An SSE stream (the legacy transport) under the first certificate.
        const events = [];
        let streamClosed = false;
        const stream = await new Promise((resolve, reject) => {
          const req = https.get(serve.url('/sse'), { ca: caPem }, (res) => {
            res.setEncoding('utf8');
            res.on('data', (d) => { events.push(d); });
            res.on('close', () => { streamClosed = true; });
            resolve(res);
          });
          req.on('error', reject);
        });
        assert.equal(stream.statusCode, 200);
        while (!events.join('').includes('event: endpoint'))
          await new Promise((r) => setTimeout(r, 20));
        const endpoint = /data: (\S+)/.exec(events.join(''))[1];

        fs.copyFileSync(second.pem, live.pem);
        fs.copyFileSync(second.key, live.key);
        process.kill(serve.pid, 'SIGHUP');
        await serve.waitForLog(/TLS certificate reloaded: subject CN=second, serial 2002/);

        const fresh = await handshake(serve.port, { ca: caPem });
        assert.equal(fresh.cert.serialNumber, '2002');
        assert.equal(fresh.cert.subject.CN, 'second');

        // The keep-alive connection is the same socket, still under the old certificate.
        const k2 = await httpsRequest(serve.url('/healthz'), { agent });
        assert.equal(k2.status, 200);
        assert.equal(k2.socket, k1.socket, 'the keep-alive connection was not reused');
        assert.equal(k2.cert.serialNumber, '1001');

        // The stream still delivers: the answer to a POST arrives on it.
        assert.equal(streamClosed, false);
        const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
          params: { protocolVersion: '2024-11-05', capabilities: {},
            clientInfo: { name: 'tls-test', version: '1' } } });
        const post = await httpsRequest(new URL(endpoint, serve.url('/')).href, { ca: caPem,
          method: 'POST', headers: { 'content-type': 'application/json' }, body: init });
        assert.equal(post.status, 202);
        while (!events.join('').includes('"id":1'))
          await new Promise((r) => setTimeout(r, 20));
        assert.match(events.join(''), /event: message[\s\S]*"protocolVersion"/);

        // A bad new certificate keeps the current one.
        fs.writeFileSync(live.pem, 'not a certificate\n');
        process.kill(serve.pid, 'SIGHUP');
        await serve.waitForLog(/SIGHUP: keeping the current certificate: .*live\.pem/);
        const still = await handshake(serve.port, { ca: caPem });
        assert.equal(still.cert.serialNumber, '2002');
        stream.destroy();
      } finally {
        agent.destroy();
        await stopClean(serve);
      }
    });

  test('with several workers, SIGHUP reaches each of them', async () => {
    const live = { pem: path.join(dir, 'workers.pem'), key: path.join(dir, 'workers.key') };
    fs.copyFileSync(first.pem, live.pem);
    fs.copyFileSync(first.key, live.key);
    fs.chmodSync(live.key, 0o600);
    const serve = await startServe(tlsArgs(live, ['--workers', '2']));
    try {
      fs.copyFileSync(second.pem, live.pem);
      fs.copyFileSync(second.key, live.key);
      process.kill(serve.pid, 'SIGHUP');
      await serve.waitForLog(/reloaded: subject CN=second[^]*reloaded: subject CN=second/);
      // Each new connection lands on either worker: all see the new certificate.
      for (let i = 0; i < 6; i++)
        assert.equal((await handshake(serve.port, { ca: fs.readFileSync(ca.pem) })).cert.serialNumber,
          '2002');
    } finally {
      await stopClean(serve);
    }
  });

  test('refused at start: a shared key, an http resource, one file without the other',
    async () => {
      const shared = path.join(dir, 'shared.key');
      fs.copyFileSync(first.key, shared);
      fs.chmodSync(shared, 0o644);
      let r = await run(['serve', '--no-auth', '--listen', '127.0.0.1:0', '--resource',
        'https://127.0.0.1:1/mcp', '--tls-cert', first.pem, '--tls-key', shared]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /readable by group or others/);
      r = await run(['serve', '--no-auth', '--listen', '127.0.0.1:0', '--resource',
        'http://127.0.0.1:1/mcp', '--tls-cert', first.pem, '--tls-key', first.key]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /http:\/\/ but the listener speaks TLS/);
      r = await run(['serve', '--no-auth', '--listen', '127.0.0.1:0', '--resource',
        'https://127.0.0.1:1/mcp', '--tls-cert', first.pem]);
      assert.equal(r.code, 2, r.stderr);
      r = await run(['serve', '--no-auth', '--listen', '127.0.0.1:0', '--resource',
        'https://127.0.0.1:1/mcp', '--tls-cert', first.pem, '--tls-key', second.key]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr, /cannot use TLS certificate/);
    });

  test('an https resource on a plain listener is warned about, unless --behind-proxy',
    async () => {
      const warned = await startServe((port) => ['--no-auth', '--resource',
        `https://127.0.0.1:${port}/mcp`]);
      await stopClean(warned);
      assert.match(warned.stderr(), /is https:\/\/ but the listener speaks plain HTTP/);
      const quiet = await startServe((port) => ['--no-auth', '--behind-proxy', '--resource',
        `https://127.0.0.1:${port}/mcp`]);
      await stopClean(quiet);
      assert.doesNotMatch(quiet.stderr(), /speaks plain HTTP/);
    });

  test('--dev on TLS: the issuer is https on the same listener', async () => {
    const serve = await startServe((port) => ['--dev', '--dev-auto-approve', '--resource',
      `https://127.0.0.1:${port}/mcp`, '--tls-cert', first.pem, '--tls-key', first.key,
      '--cacert', ca.pem]);
    try {
      const caPem = fs.readFileSync(ca.pem);
      const prm = await httpsRequest(serve.url('/.well-known/oauth-protected-resource/mcp'),
        { ca: caPem });
      assert.equal(JSON.parse(prm.body).authorization_servers[0], serve.origin);
      const asm = await httpsRequest(serve.url('/.well-known/oauth-authorization-server'),
        { ca: caPem });
      const meta = JSON.parse(asm.body);
      assert.equal(meta.issuer, serve.origin);
      assert.ok(meta.token_endpoint.startsWith('https://'));
    } finally {
      await stopClean(serve);
    }
    const r = await run(['serve', '--dev', '--listen', '127.0.0.1:0', '--resource',
      'http://127.0.0.1:1/mcp', '--tls-cert', first.pem, '--tls-key', first.key]);
    assert.equal(r.code, 5, r.stderr);
  });
});
