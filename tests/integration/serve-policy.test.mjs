// Integration tests for the per-tool scope policy of `mcpauth serve` (issue 5): the policy
// from --tool-scope flags and the "tools" object of --config, refused at start when it is
// bad (exit status, one line naming the flag or the JSON path), and the RFC 9728 metadata,
// whose scopes_supported is the union of the required scopes and every policy scope.
// The servers verify JWTs with a --jwks-file, so no authorization server is needed.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-policy.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyPair, run, startServe, freePort, tmpDir } from '../lib/harness.mjs';

let dir;
let jwksFile;
let issuer;

before(async () => {
  dir = tmpDir();
  jwksFile = path.join(dir, 'jwks.json');
  const { publicKey } = keyPair('ed25519');
  fs.writeFileSync(jwksFile, JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA', use: 'sig' }],
  }));
  issuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there, nothing asks it
});

function writeConfig(content) {
  const file = path.join(dir, `serve-${crypto.randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** `mcpauth serve` that must refuse to start: { code, lines }. */
async function refused(args) {
  const port = await freePort();
  const r = await run(['serve', '--issuer', issuer, '--jwks-file', jwksFile,
    '--listen', `127.0.0.1:${port}`, '--workers', '1', ...args], { timeoutMs: 10000 });
  assert.ok(!r.timedOut, `still running after 10 s:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /listening on/);
  return { code: r.code, lines: r.stderr.trimEnd().split('\n'), stderr: r.stderr };
}

async function metadata(s) {
  const res = await fetch(s.url('/.well-known/oauth-protected-resource/mcp'));
  assert.equal(res.status, 200);
  return res.json();
}

describe('a bad policy in the --config file: exit 5, one line naming the file and the JSON path', () => {
  const many = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`tool${i}`, ['s']]));
  for (const [name, tools, message] of [
    ['an invalid scope token', { scopes: { 'admin_*': ['mcp:admin', 'mcp admin'] } },
      'tools.scopes["admin_*"][1]: not a valid scope token'],
    ['a quote in a scope', { default_scopes: ['a"b'] }, 'tools.default_scopes[0]: not a valid scope token'],
    ['not an object', ['mcp'], 'tools: must be an object'],
    ['an unknown member', { default: ['mcp'] }, 'tools: unknown member "default"'],
    ['default_scopes not an array', { default_scopes: 'mcp' }, 'tools.default_scopes: must be an array of scope tokens'],
    ['scopes not an object', { scopes: [['admin_*', 'x']] }, 'tools.scopes: must be an object'],
    ['a list that is not an array', { scopes: { hello_world: 'mcp' } }, 'tools.scopes["hello_world"]: must be an array'],
    ['a scope that is not a string', { scopes: { hello_world: [1] } }, 'tools.scopes["hello_world"][0]: must be a string'],
    ['an empty pattern', { scopes: { '': [] } }, 'tools.scopes[""]: not a valid pattern'],
    ['a pattern with a space', { scopes: { 'a b': [] } }, 'tools.scopes["a b"]: not a valid pattern'],
    ['too many scopes', { scopes: { t: Array.from({ length: 33 }, (_, i) => `s${i}`) } }, 'tools.scopes["t"]: more than 32 scopes'],
    ['too many patterns', { scopes: many }, 'tools.scopes["tool256"]: more than 256 patterns'],
  ]) {
    test(name, async () => {
      const file = writeConfig({ tools });
      const r = await refused(['--config', file]);
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.lines.length, 1, r.stderr);
      assert.ok(r.lines[0].startsWith(`mcpauth serve: ${file}: ${message}`), r.stderr);
    });
  }

  test('a bad "tool-scope" member (the flag in the file) is a configuration error too', async () => {
    const file = writeConfig({ 'tool-scope': ['admin_*'] });
    const r = await refused(['--config', file]);
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(r.lines, [`mcpauth serve: ${file}: --tool-scope "admin_*": not PATTERN=SCOPE[,SCOPE...]`]);
  });
});

describe('a bad --tool-scope on the command line: a usage error (exit 2)', () => {
  for (const [rule, message] of [
    ['admin_*', '--tool-scope "admin_*": not PATTERN=SCOPE[,SCOPE...]'],
    ['=mcp', '--tool-scope "=mcp": not a valid pattern'],
    ['admin_*=mcp:admin,mcp admin', '--tool-scope "admin_*=mcp:admin,mcp admin": "mcp admin" is not a valid scope token'],
    ['admin_*=mcp,', '--tool-scope "admin_*=mcp,": "" is not a valid scope token'],
  ]) {
    test(rule, async () => {
      const r = await refused(['--tool-scope', 'hello_world=', '--tool-scope', rule]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.lines[0].startsWith(`mcpauth serve: ${message}`), r.stderr);
      assert.match(r.lines[1], /Try 'mcpauth serve --help'/);
    });
  }

  test('per-tool scopes with --no-auth are refused: there would be no token to check', async () => {
    const port = await freePort();
    const r = await run(['serve', '--no-auth', '--listen', `127.0.0.1:${port}`, '--workers', '1',
      '--tool-scope', 'admin_*=mcp:admin'], { timeoutMs: 10000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.split('\n')[0], /^mcpauth serve: per-tool scopes .* not with --no-auth$/);
  });

  test('an empty "tools" object with --no-auth is no policy, and is fine', async () => {
    const file = writeConfig({ tools: {}, 'no-auth': true });
    const s = await startServe(['--config', file]);
    try {
      assert.deepEqual((await metadata(s)).scopes_supported, ['mcp']);
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
  });
});

describe('scopes_supported in the metadata is the union', () => {
  const serves = [];
  after(async () => {
    // A clean stop: under ASan a leak would show as another exit status.
    const stopped = await Promise.all(serves.map((s) => s.stop()));
    for (const { code } of stopped) assert.equal(code, 0);
  });
  const serve = async (args) => {
    const s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, ...args]);
    serves.push(s);
    return s;
  };

  test('without a policy: the required scopes only', async () => {
    const s = await serve([]);
    assert.deepEqual((await metadata(s)).scopes_supported, ['mcp']);
  });

  test('--tool-scope rules: required scopes first, then each rule\'s, each once', async () => {
    const s = await serve(['--tool-scope', 'admin_*=mcp:admin,mcp:write', '--tool-scope', 'hello_world=',
      '--tool-scope', 'fs/*=mcp:write,mcp,files']);
    assert.deepEqual((await metadata(s)).scopes_supported, ['mcp', 'mcp:admin', 'mcp:write', 'files']);
  });

  test('the config file\'s "tools": defaults, then the patterns in file order, after the flags\' rules', async () => {
    const file = writeConfig({
      'required-scope': ['mcp', 'profile'],
      tools: {
        default_scopes: ['mcp:basic'],
        scopes: { 'admin_*': ['mcp:admin'], hello_world: [], 'z*': ['mcp:z', 'profile'] },
      },
    });
    const s = await serve(['--config', file, '--tool-scope', 'flag_tool=from:flag']);
    assert.deepEqual((await metadata(s)).scopes_supported,
      ['mcp', 'profile', 'mcp:basic', 'from:flag', 'mcp:admin', 'mcp:z']);
  });

  test('a --tool-scope on the command line replaces the file\'s "tool-scope" list, not its "tools"', async () => {
    const file = writeConfig({ 'tool-scope': ['a=from:file:flag'], tools: { scopes: { b: ['from:file:tools'] } } });
    const s = await serve(['--config', file, '--tool-scope', 'c=from:command:line']);
    assert.deepEqual((await metadata(s)).scopes_supported, ['mcp', 'from:command:line', 'from:file:tools']);
  });

  test('patterns that need no scope add nothing', async () => {
    const file = writeConfig({ tools: { default_scopes: [], scopes: { hello_world: [], '*': [] } } });
    const s = await serve(['--config', file]);
    assert.deepEqual((await metadata(s)).scopes_supported, ['mcp']);
  });

  test('the 401 challenge still asks for the required scopes only; tools are stepped up later', async () => {
    const s = await serve(['--tool-scope', 'admin_*=mcp:admin']);
    const res = await fetch(s.url('/mcp'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate');
    assert.match(challenge, /scope="mcp"/);
    assert.doesNotMatch(challenge, /mcp:admin/);
  });

  test('--workers 2: every worker serves the same union', async () => {
    const s = await serve(['--workers', '2', '--tool-scope', 'admin_*=mcp:admin']);
    const docs = await Promise.all(Array.from({ length: 8 }, () => metadata(s)));
    for (const doc of docs) assert.deepEqual(doc.scopes_supported, ['mcp', 'mcp:admin']);
  });
});
