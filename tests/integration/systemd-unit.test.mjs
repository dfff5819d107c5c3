// dist/systemd/mcpauth.service: systemd-analyze verify accepts it (skipped when
// the machine has no systemd-analyze), it carries the hardening it promises,
// meson installs it, and its ExecStart= and ExecReload= work as written: the
// options from /etc/mcpauth/serve.json, the client secret from the credentials
// directory, SIGHUP leaves a server without TLS running.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MCPAUTH_BIN, REPO_ROOT, startServe, tmpDir } from '../lib/harness.mjs';

const UNIT = fs.readFileSync(path.join(REPO_ROOT, 'dist/systemd/mcpauth.service.in'), 'utf8');
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

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
    const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
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
});
