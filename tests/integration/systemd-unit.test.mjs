// dist/systemd/mcpauth.service: systemd-analyze verify accepts it (skipped when
// the machine has no systemd-analyze), it carries the hardening it promises,
// meson installs it, and its ExecStart= and ExecReload= work as written: the
// options from /etc/mcpauth/serve.json, the client secret from the credentials
// directory, SIGHUP leaves a server without TLS running; and (with strace)
// every system call serve makes passes its SystemCallFilter=.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { keyPair, MCPAUTH_BIN, REPO_ROOT, WRAPPER, freePort, startServe, tmpDir } from '../lib/harness.mjs';

const UNIT = fs.readFileSync(path.join(REPO_ROOT, 'dist/systemd/mcpauth.service.in'), 'utf8');
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const haveStrace = spawnSync('strace', ['-o', '/dev/null', 'true']).status === 0;
const haveCerttool = spawnSync('certtool', ['--version']).status === 0;

// The system calls in a systemd filter group, groups inside it expanded.
function filterGroup(name, seen = new Set()) {
  const r = spawnSync('systemd-analyze', ['syscall-filter', name], { encoding: 'utf8' });
  for (const line of r.stdout.split('\n').slice(1)) {
    const word = line.trim().split(/\s+/)[0];
    if (!word || word.startsWith('#'))
      continue;
    if (word.startsWith('@'))
      filterGroup(word, seen);
    else
      seen.add(word);
  }
  return seen;
}

// The unit as meson writes it, for the binary under test.
function unitFor(bindir) {
  return UNIT.replaceAll('@bindir@', bindir);
}

// The [Service] lines as key → [values].
function directives(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m)
      out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe('the systemd unit', () => {
  test('carries the hardening, the credential and the reload signal', () => {
    const d = directives(UNIT);
    const one = (k) => (d.get(k) ?? []).join(' ');
    assert.equal(one('DynamicUser'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.equal(one('ProtectHome'), 'yes');
    assert.equal(one('RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX');
    assert.equal(one('SystemCallFilter'), '@system-service');
    assert.equal(one('CapabilityBoundingSet'), '');
    assert.equal(one('LoadCredential'), 'client-secret:/etc/mcpauth/client-secret');
    assert.match(one('ExecStart'),
      /^@bindir@\/mcpauth serve .*--client-secret-file \$\{CREDENTIALS_DIRECTORY\}\/client-secret$/);
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
    // The secret never on the command line.
    assert.doesNotMatch(one('ExecStart'), /MCPAUTH_CLIENT_SECRET|--client-secret /);
  });

  test('systemd-analyze verify accepts it, without a warning',
    { skip: !haveAnalyze && 'no systemd-analyze on this machine' }, () => {
      const dir = tmpDir();
      const file = path.join(dir, 'mcpauth.service');
      fs.writeFileSync(file, unitFor(path.dirname(MCPAUTH_BIN)));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('mcpauth'));
      assert.deepEqual(ours, []);
      // And its own exposure score, where this systemd can score a unit file offline.
      const s = spawnSync('systemd-analyze', ['security', '--offline=yes', file],
        { encoding: 'utf8' });
      const score = /Overall exposure level for mcpauth\.service: ([0-9.]+)/.exec(s.stdout);
      if (score)
        assert.ok(Number(score[1]) <= 2.5, `exposure ${score[1]}`);
    });

  test('meson installs it into the systemd unit directory',
    { skip: !fs.existsSync(path.join(path.dirname(MCPAUTH_BIN), 'meson-info')) && 'not a meson build directory' },
    () => {
      const build = path.dirname(MCPAUTH_BIN);
      const r = spawnSync('meson', ['introspect', build, '--installed'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const installed = JSON.parse(r.stdout);
      const dest = installed[path.join(build, 'mcpauth.service')];
      assert.match(dest ?? '', /\/systemd\/system\/mcpauth\.service$/);
      const built = fs.readFileSync(path.join(build, 'mcpauth.service'), 'utf8');
      assert.doesNotMatch(built, /@bindir@/);
      assert.match(built, /^ExecStart=\/\S+\/mcpauth serve /m);
    });

  test('its ExecStart works as written, and SIGHUP without TLS changes nothing', async () => {
    const etc = tmpDir();
    const credentials = tmpDir();
    const { publicKey } = keyPair('ec', { namedCurve: 'P-256' });
    const jwks = path.join(etc, 'jwks.json');
    fs.writeFileSync(jwks, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }),
      kid: 'k1', alg: 'ES256', use: 'sig' }] }));
    const secret = path.join(credentials, 'client-secret');
    fs.writeFileSync(secret, 'not-a-real-secret\n', { mode: 0o400 });
    const exec = directives(UNIT).get('ExecStart')[0].split(' ').slice(1)
      .map((a) => a.replaceAll('/etc/mcpauth', etc)
        .replaceAll('${CREDENTIALS_DIRECTORY}', credentials));
    assert.deepEqual(exec.slice(0, 3), ['serve', '--config', path.join(etc, 'serve.json')]);
    const serve = await startServe((port) => {
      fs.writeFileSync(path.join(etc, 'serve.json'), JSON.stringify({
        listen: `127.0.0.1:${port}`, resource: `https://mcp.example.com/mcp`,
        'behind-proxy': true, issuer: 'https://auth.example.com', 'client-id': 'rs',
        'jwks-file': jwks, validation: 'jwt', 'allowed-host': `127.0.0.1:${port}` }));
      return exec.slice(1);
    }, { listenArgs: false });
    try {
      const r = await fetch(serve.url('/healthz'));
      assert.equal(r.status, 200);
      process.kill(serve.pid, 'SIGHUP');
      await serve.waitForLog(/SIGHUP: nothing to reload \(no TLS\)/);
      assert.equal((await fetch(serve.url('/healthz'))).status, 200);
      assert.doesNotMatch(serve.stderr(), /not-a-real-secret/);
    } finally {
      const { code } = await serve.stop();
      assert.equal(code, 0, serve.stderr());
    }
  });

  test('every system call serve makes is in SystemCallFilter=@system-service', {
    skip: (!haveAnalyze && 'no systemd-analyze') || (!haveStrace && 'no strace (or no ptrace)') ||
      (!haveCerttool && 'no certtool') || (WRAPPER.length > 0 && 'under a wrapper'),
  }, async () => {
    // A self-signed certificate: the client trusts it as it is.
    const dir = tmpDir();
    const key = path.join(dir, 'server.key');
    const pem = path.join(dir, 'server.pem');
    fs.writeFileSync(path.join(dir, 'tmpl'), 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\n' +
      'tls_www_server\nsigning_key\nexpiration_days = 2\n');
    execFileSync('certtool', ['--generate-privkey', '--key-type', 'ecdsa', '--outfile', key],
      { stdio: 'ignore' });
    execFileSync('certtool', ['--generate-self-signed', '--load-privkey', key, '--template',
      path.join(dir, 'tmpl'), '--outfile', pem], { stdio: 'ignore' });
    fs.chmodSync(key, 0o600);
    // serve under strace: two workers, TLS, a request, SIGHUP, SIGTERM.
    const trace = path.join(dir, 'trace');
    const port = await freePort();
    const child = spawn('strace', ['-f', '-qq', '-o', trace, MCPAUTH_BIN, 'serve', '--no-auth',
      '--workers', '2', '--listen', `127.0.0.1:${port}`, '--resource',
      `https://127.0.0.1:${port}/mcp`, '--tls-cert', pem, '--tls-key', key],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => { log += d; });
    const exited = new Promise((resolve) => child.on('close', resolve));
    const waitFor = async (done) => {
      for (let i = 0; i < 100 && !done(); i++)
        await new Promise((r) => setTimeout(r, 100));
    };
    try {
      await waitFor(() => /listening on/.test(log));
      assert.match(log, /listening on https/);
      const status = await new Promise((resolve, reject) => {
        https.get(`https://127.0.0.1:${port}/healthz`, { ca: fs.readFileSync(pem) }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        }).on('error', reject);
      });
      assert.equal(status, 200);
      // strace's child is serve's main process.
      const serve = Number(spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .stdout.trim().split('\n')[0]);
      process.kill(serve, 'SIGHUP');
      await waitFor(() => (log.match(/reloaded/g) ?? []).length >= 2);
      process.kill(serve, 'SIGTERM');
      await waitFor(() => /stopped/.test(log));
    } finally {
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
      if (child.exitCode === null)
        child.kill('SIGKILL');
    }
    const used = new Set();
    for (const line of fs.readFileSync(trace, 'utf8').split('\n')) {
      const m = /^\d+ +([a-z_0-9]+)\(/.exec(line);
      if (m)
        used.add(m[1]);
    }
    assert.ok(used.has('accept4') && (used.has('fork') || used.has('clone')), [...used].join(' '));
    const allowed = filterGroup('@system-service');
    assert.deepEqual([...used].filter((c) => !allowed.has(c)).sort(), []);
  });
});
