// The EdDSA family of JWS algorithm names (RFC 8037 "EdDSA", RFC 9864 "Ed25519" and
// "Ed448") in `check-token --verify` and `serve`, with keys from a --jwks-file: each name
// is its own entry in the --jwt-alg allow-list (leaving one out refuses exactly the tokens
// that carry it), and a header naming Ed25519 (or Ed448) over a key of another curve or
// type under the kid it names (Ed448, X25519, P-256; Ed25519 for Ed448) is refused.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/jwt-eddsa-names.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyPair, run, startServe, tmpDir } from '../lib/harness.mjs';

const ISSUER = 'https://as.example';
const AUDIENCE = 'https://mcp.example/mcp';

let jwksFile;
const keys = {};

before(() => {
  const dir = tmpDir();
  keys.ed25519 = keyPair('ed25519');
  keys.ed448 = keyPair('ed448');
  keys.x25519 = keyPair('x25519');
  keys.p256 = keyPair('ec', { namedCurve: 'P-256' });
  const jwk = (name, kid) => ({ ...keys[name].publicKey.export({ format: 'jwk' }), kid, use: 'sig' });
  jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({
    keys: [jwk('ed25519', 'k25519'), jwk('ed448', 'k448'), jwk('x25519', 'kx25519'), jwk('p256', 'kp256')],
  }));
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A JWT whose header says alg and kid, signed with the private key `signer` (an
 * X25519 key cannot sign: 64 random bytes stand in for a signature). */
function jwt(alg, kid, signer, aud = AUDIENCE) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg, typ: 'at+jwt', kid })}.${b64({
    iss: ISSUER, aud, sub: 'u1', client_id: 'c1', scope: 'mcp', iat: now, exp: now + 600,
  })}`;
  const sig = signer === 'x25519' ? crypto.randomBytes(64)
    : signer === 'p256' ? crypto.sign('sha256', Buffer.from(input), { key: keys.p256.privateKey, dsaEncoding: 'ieee-p1363' })
      : crypto.sign(null, Buffer.from(input), keys[signer].privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

/** check-token --verify on token with these --jwt-alg values (none: the defaults). */
function verify(token, algs = []) {
  return run(['check-token', '--verify', '--issuer', ISSUER, '--audience', AUDIENCE, '--jwks-file', jwksFile,
    ...algs.flatMap((a) => ['--jwt-alg', a]), '--token-file', '-'], { input: token });
}

// The tokens of each name, and the key that signs them.
const NAMED = {
  EdDSA: () => jwt('EdDSA', 'k25519', 'ed25519'),
  Ed25519: () => jwt('Ed25519', 'k25519', 'ed25519'),
  Ed448: () => jwt('Ed448', 'k448', 'ed448'),
};
const ALL = Object.keys(NAMED);

describe('check-token --verify: each name is its own allow-list entry', () => {
  for (const name of ALL) {
    test(`with all three allowed, a token signed ${name} verifies`, async () => {
      const r = await verify(NAMED[name](), ALL);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^JWT: signature valid \\(${name}, kid`, 'm'));
    });

    test(`leaving out ${name} refuses its tokens and only those`, async () => {
      const others = ALL.filter((n) => n !== name);
      const refused = await verify(NAMED[name](), others);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`alg ${name} not allowed`));
      for (const other of others) {
        const r = await verify(NAMED[other](), others);
        assert.equal(r.code, 0, `${other}: ${r.stderr}`);
      }
    });
  }

  test('EdDSA over an Ed448 key is EdDSA, not Ed448: allowed by EdDSA alone', async () => {
    const token = jwt('EdDSA', 'k448', 'ed448');
    assert.equal((await verify(token, ['EdDSA'])).code, 0);
    assert.equal((await verify(token, ['Ed448'])).code, 1);
  });
});

describe('a name and a key that disagree are refused', () => {
  for (const [alg, kid, signer, what] of [
    ['Ed25519', 'k448', 'ed448', 'an Ed448 key'],
    ['Ed25519', 'kx25519', 'x25519', 'an X25519 key'],
    ['Ed25519', 'kp256', 'p256', 'a P-256 key'],
    ['Ed448', 'k25519', 'ed25519', 'an Ed25519 key'],
  ]) {
    test(`check-token: a header naming ${alg} over ${what}`, async () => {
      const r = await verify(jwt(alg, kid, signer), ALL);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /signature valid/);
    });
  }

  describe('serve: 401', () => {
    let s;
    before(async () => {
      s = await startServe(['--stateless', '--issuer', ISSUER, '--jwks-file', jwksFile,
        ...ALL.flatMap((a) => ['--jwt-alg', a])]);
    });
    after(async () => {
      assert.equal((await s.stop()).code, 0);
    });
    const hello = (token) => fetch(s.url('/mcp'), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream',
        'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'hello_world', arguments: {} } }),
    });

    test('the right pairs are served', async () => {
      for (const name of ALL) {
        const token = { EdDSA: jwt('EdDSA', 'k25519', 'ed25519', s.resource),
          Ed25519: jwt('Ed25519', 'k25519', 'ed25519', s.resource), Ed448: jwt('Ed448', 'k448', 'ed448', s.resource) }[name];
        assert.equal((await hello(token)).status, 200, name);
      }
    });

    for (const [alg, kid, signer] of [['Ed25519', 'k448', 'ed448'], ['Ed25519', 'kx25519', 'x25519'],
      ['Ed25519', 'kp256', 'p256'], ['Ed448', 'k25519', 'ed25519']]) {
      test(`${alg} over the key ${kid}`, async () => {
        const r = await hello(jwt(alg, kid, signer, s.resource));
        assert.equal(r.status, 401);
        assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
      });
    }
  });
});
