// Integration tests for scope hierarchies in `mcpauth serve` (MCP 2026-07-28 authorization:
// servers account for scope hierarchies; offline_access never in challenges or
// scopes_supported; every scope an operation needs in one challenge): --scope-implies and
// its config-file key, a broad scope satisfying --required-scope and per-tool scopes
// transitively, one 403 naming all the scopes an operation needs, offline_access left out
// however it is configured, and bad rules (cycles, syntax) refused at start with exit 5.
// Both eras: a 2025-11-25 session, and 2026-07-28 stateless requests on the same endpoint.
// Tokens are Ed25519-signed RFC 9068 JWTs checked against a --jwks-file.
// Node built-ins only. Run:
//   MCPAUTH_BIN=$PWD/build/mcpauth node --test tests/integration/serve-scope-implies.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { keyPair, run, startServe, freePort, tmpDir } from '../lib/harness.mjs';

const MODERN = '2026-07-28';

let dir;
let key;
let jwksFile;
let issuer;

before(async () => {
  dir = tmpDir();
  const { publicKey, privateKey } = keyPair('ed25519');
  key = privateKey;
  jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ed-1', alg: 'EdDSA', use: 'sig' }],
  }));
  issuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function tokenFor(s, scope) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: 'ed-1' })}.${b64({
    iss: issuer, sub: 'u1', aud: s.resource, client_id: 'c1', scope, iat: now, exp: now + 600,
  })}`;
  return `${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`;
}

function parseAnswer(type, text) {
  if (!text) return null;
  if (!type?.startsWith('text/event-stream')) {
    try { return JSON.parse(text); } catch { return null; }
  }
  const messages = text.split('\n').filter((l) => l.startsWith('data: ') && l.length > 6).map((l) => JSON.parse(l.slice(6)));
  return messages.find((m) => 'result' in m || 'error' in m) ?? null;
}

async function post(s, token, message, headers = {}) {
  const res = await fetch(s.url('/mcp'), {
    method: 'POST',
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(message),
  });
  const type = res.headers.get('content-type');
  const text = await res.text();
  return {
    status: res.status, challenge: res.headers.get('www-authenticate'),
    session: res.headers.get('mcp-session-id'), body: parseAnswer(type, text),
  };
}

/** The two eras' ways of calling a tool: a 2025-11-25 session, and a 2026-07-28 request. */
const eras = {
  async session(s, token, name) {
    // The session is opened with a token holding every scope (s.everything), as a client
    // would have before it calls a tool; the call itself carries the token under test.
    const opener = tokenFor(s, s.everything ?? 'mcp mcp:admin');
    const init = await post(s, opener, {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }, { 'mcp-protocol-version': '2025-11-25' });
    assert.equal(init.status, 200);
    const headers = { 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': init.session };
    await post(s, opener, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
    return post(s, token, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: {} } }, headers);
  },
  async modern(s, token, name) {
    const _meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
    };
    return post(s, token, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name, arguments: {}, _meta } },
      { 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'tools/call', 'Mcp-Name': name });
  },
};

const scopeOf = (challenge) => /scope="([^"]*)"/.exec(challenge)?.[1];

describe('a broad scope satisfies what it implies', () => {
  let s;
  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile,
      '--required-scope', 'mcp',
      '--scope-implies', 'mcp:admin=mcp:tools:read,mcp:tools:write',
      '--scope-implies', 'mcp:tools:write=mcp:whoami',
      '--tool-scope', 'whoami=mcp:whoami,mcp:tools:read', '--tool-scope', 'hello_*=']);
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  for (const [era, callTool] of Object.entries(eras)) {
    test(`${era}: a token with only the broad scope calls a tool needing narrow ones`, async () => {
      const r = await callTool(s, tokenFor(s, 'mcp mcp:admin'), 'whoami');
      assert.equal(r.status, 200, JSON.stringify(r));
      assert.equal(r.body.result.structuredContent.subject, 'u1');
    });

    test(`${era}: implication is transitive (mcp:tools:write implies mcp:whoami)`, async () => {
      const r = await callTool(s, tokenFor(s, 'mcp mcp:tools:write mcp:tools:read'), 'whoami');
      assert.equal(r.status, 200, JSON.stringify(r));
    });

    test(`${era}: a narrow scope is one 403 naming every scope the call needs, as configured`, async () => {
      const r = await callTool(s, tokenFor(s, 'mcp mcp:tools:read'), 'whoami');
      assert.equal(r.status, 403);
      assert.match(r.challenge, /error="insufficient_scope"/);
      assert.equal(scopeOf(r.challenge), 'mcp mcp:whoami mcp:tools:read');
    });

    test(`${era}: missing the required scope too, the one 403 still names the tool's scopes`, async () => {
      const r = await callTool(s, tokenFor(s, 'mcp:tools:read'), 'whoami');
      assert.equal(r.status, 403);
      assert.equal(scopeOf(r.challenge), 'mcp mcp:whoami mcp:tools:read');
      assert.match(r.challenge, /error_description="missing scope mcp"/);
    });

    test(`${era}: a narrow scope does not imply the broad one`, async () => {
      const r = await callTool(s, tokenFor(s, 'mcp mcp:whoami'), 'whoami');
      assert.equal(r.status, 403);
      assert.equal(scopeOf(r.challenge), 'mcp mcp:whoami mcp:tools:read');
    });
  }

  test('a broad scope satisfies --required-scope too', async () => {
    const t = await startServe(['--issuer', issuer, '--jwks-file', jwksFile,
      '--required-scope', 'mcp:read', '--required-scope', 'mcp:list', '--scope-implies', 'mcp:all=mcp:read,mcp:list']);
    try {
      const ok = await eras.modern(t, tokenFor(t, 'mcp:all'), 'hello_world');
      assert.equal(ok.status, 200, JSON.stringify(ok));
      const refused = await eras.modern(t, tokenFor(t, 'other'), 'hello_world');
      assert.equal(refused.status, 403);
      assert.equal(scopeOf(refused.challenge), 'mcp:read mcp:list');
      assert.match(refused.challenge, /error_description="missing scopes mcp:read mcp:list"/);
    } finally {
      assert.equal((await t.stop()).code, 0);
    }
  });

  test('scopes_supported: the scopes the rules ask for, then the hierarchy\'s others', async () => {
    const res = await fetch(s.url('/.well-known/oauth-protected-resource/mcp'));
    assert.deepEqual((await res.json()).scopes_supported,
      ['mcp', 'mcp:whoami', 'mcp:tools:read', 'mcp:admin', 'mcp:tools:write']);
  });
});

describe('offline_access is never asked for', () => {
  let s;
  before(async () => {
    s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile,
      '--required-scope', 'mcp', '--required-scope', 'offline_access',
      '--tool-scope', 'whoami=offline_access,mcp:whoami',
      '--scope-implies', 'mcp:all=mcp:whoami,offline_access']);
    s.everything = 'mcp offline_access';
  });
  after(async () => {
    const { code } = await s.stop();
    assert.equal(code, 0, s.stderr());
  });

  test('a warning at start, once', () => {
    const warnings = s.stderr().split('\n').filter((l) => /warning: .*offline_access/.test(l));
    assert.equal(warnings.length, 1, s.stderr());
  });

  test('not in the 401 challenge', async () => {
    const r = await eras.modern(s, null, 'whoami');
    assert.equal(r.status, 401);
    assert.equal(scopeOf(r.challenge), 'mcp');
  });

  for (const [era, callTool] of Object.entries(eras)) {
    test(`${era}: not in the 403 challenge`, async () => {
      const r = await callTool(s, tokenFor(s, 'mcp'), 'whoami');
      assert.equal(r.status, 403);
      assert.equal(scopeOf(r.challenge), 'mcp mcp:whoami');
    });
  }

  test('a challenge with nothing else to name has no scope', async () => {
    const t = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--required-scope', 'offline_access']);
    try {
      const r = await eras.modern(t, null, 'hello_world');
      assert.equal(r.status, 401);
      assert.doesNotMatch(r.challenge, /scope=/);
      const doc = await (await fetch(t.url('/.well-known/oauth-protected-resource/mcp'))).json();
      assert.equal(doc.scopes_supported, undefined);
    } finally {
      assert.equal((await t.stop()).code, 0);
    }
  });

  test('not in scopes_supported', async () => {
    const doc = await (await fetch(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.deepEqual(doc.scopes_supported, ['mcp', 'mcp:whoami', 'mcp:all']);
  });
});

describe('serve --dev: the development issuer grants the broad scope', () => {
  test('a client-credentials token for mcp:admin calls a tool needing mcp:whoami', async () => {
    const s = await startServe(['--dev', '--dev-user', 'dev', '--stateless',
      '--scope-implies', 'mcp:admin=mcp:whoami', '--tool-scope', 'whoami=mcp:whoami']);
    try {
      const md = await (await fetch(s.url('/.well-known/oauth-authorization-server'))).json();
      assert.ok(md.scopes_supported.includes('mcp:admin'), JSON.stringify(md.scopes_supported));
      const reg = await fetch(s.url('/register'), {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 't', grant_types: ['client_credentials'], redirect_uris: [] }),
      });
      const client = await reg.json();
      assert.equal(reg.status, 201, JSON.stringify(client));
      const res = await fetch(s.url('/token'), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp mcp:admin', resource: s.resource }),
      });
      const token = await res.json();
      assert.equal(res.status, 200, JSON.stringify(token));
      const r = await eras.modern(s, token.access_token, 'whoami');
      assert.equal(r.status, 200, JSON.stringify(r));
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
  });
});

describe('the "scope-implies" key of --config', () => {
  test('works as the flag does', async () => {
    const file = path.join(dir, 'implies.json');
    fs.writeFileSync(file, JSON.stringify({
      'scope-implies': ['mcp:admin=mcp:whoami'], 'tool-scope': ['whoami=mcp:whoami'],
    }));
    const s = await startServe(['--issuer', issuer, '--jwks-file', jwksFile, '--config', file]);
    try {
      assert.equal((await eras.modern(s, tokenFor(s, 'mcp mcp:admin'), 'whoami')).status, 200);
      assert.equal((await eras.modern(s, tokenFor(s, 'mcp'), 'whoami')).status, 403);
    } finally {
      assert.equal((await s.stop()).code, 0);
    }
  });
});

describe('bad rules: exit 5, one line naming the rule', () => {
  async function refused(args) {
    const port = await freePort();
    const r = await run(['serve', '--issuer', issuer, '--jwks-file', jwksFile,
      '--listen', `127.0.0.1:${port}`, '--workers', '1', ...args], { timeoutMs: 10000 });
    assert.ok(!r.timedOut, r.stderr);
    assert.doesNotMatch(r.stderr, /listening on/);
    return { code: r.code, lines: r.stderr.trimEnd().split('\n'), stderr: r.stderr };
  }

  for (const [name, rules, message] of [
    ['a cycle of two', ['a=b', 'b=a'], '--scope-implies "a=b": the rules form a cycle: a -> b -> a'],
    ['a scope implying itself', ['a=a'], '--scope-implies "a=a": a implies itself'],
    ['a longer cycle', ['mcp:admin=mcp:write', 'mcp:write=mcp:read', 'mcp:read=mcp:admin'],
      '--scope-implies "mcp:admin=mcp:write": the rules form a cycle: mcp:admin -> mcp:write -> mcp:read -> mcp:admin'],
    ['no =', ['mcp:admin'], '--scope-implies "mcp:admin": not BROAD=NARROW[,NARROW...]'],
    ['an empty broad scope', ['=b'], '--scope-implies "=b": empty scope name'],
    ['an empty narrow scope', ['a=b,'], '--scope-implies "a=b,": empty scope name'],
    ['a space in a scope', ['a=b c'], '--scope-implies "a=b c": "b c" is not a valid scope token'],
    ['a quote in a scope', ['a=b"'], '--scope-implies "a=b\\"": "b\\"" is not a valid scope token'],
  ]) {
    test(`${name}, on the command line`, async () => {
      const r = await refused(rules.flatMap((rule) => ['--scope-implies', rule]));
      assert.equal(r.code, 5, r.stderr);
      assert.equal(r.lines.length, 1, r.stderr);
      assert.ok(r.lines[0].startsWith(`mcpauth serve: ${message}`), r.stderr);
    });
  }

  test('a cycle in the --config file names the file', async () => {
    const file = path.join(dir, 'cycle.json');
    fs.writeFileSync(file, JSON.stringify({ 'scope-implies': ['a=b', 'b=a'] }));
    const r = await refused(['--config', file]);
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(r.lines, [`mcpauth serve: ${file}: --scope-implies "a=b": the rules form a cycle: a -> b -> a`]);
  });
});
