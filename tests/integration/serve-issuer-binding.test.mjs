// `mcpauth serve -c FILE` and issuer binding (MCP 2026-07-28 Client Registration
// §Authorization Server Binding): the resource server's credentials belong to the
// authorization server that issued them. A serve configured (--issuer, or the --config
// file) for another authorization server would publish metadata naming that server and
// send it introspection calls with the first one's credentials: it refuses to start, and
// the other server hears nothing.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/integration/serve-issuer-binding.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run, startHttpServer, startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { readBody, request, sendJson } from '../lib/http.mjs';
import { assertFail } from '../lib/cli.mjs';

const SECRET = 'rs-secret-never-printed';

/** An authorization server that counts every request; with metadata, it answers RFC 8414. */
async function startAS({ metadata = true } = {}) {
  const srv = await startHttpServer(async (req, res) => {
    srv.requests.push(`${req.method} ${req.url}`);
    await readBody(req);
    if (metadata && req.url === '/.well-known/oauth-authorization-server') {
      return sendJson(res, 200, {
        issuer: srv.origin,
        token_endpoint: srv.url('/token'),
        introspection_endpoint: srv.url('/introspect'),
        response_types_supported: ['code'],
      });
    }
    return sendJson(res, 404, { error: 'not_found' });
  });
  srv.requests = [];
  return srv;
}

/** The credentials file `mcpauth register -o` writes, registered at issuer. */
function credentials(issuer) {
  const file = path.join(tmpDir(), 'rs.json');
  fs.writeFileSync(file, JSON.stringify({
    version: 1,
    issuer,
    client: { client_id: 'rs', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic' },
  }), { mode: 0o600 });
  return file;
}

function registerAgain(file, a, source, b) {
  return `mcpauth serve: ${file} was registered at ${a}, but ${source} names "${b}" as the `
    + 'authorization server: client credentials are bound to the server that issued them; '
    + `register again: mcpauth register --issuer "${b}" -o ${file} --force`;
}

test('serve -c FILE from issuer A with --issuer B: exit 2, how to register again, nothing sent to A or B', async (t) => {
  const a = await startAS();
  t.after(a.stop);
  const b = await startAS();
  t.after(b.stop);
  const creds = credentials(a.origin);
  const port = await freePort();
  const r = await run(['serve', '-c', creds, '--issuer', b.origin, '--listen', `127.0.0.1:${port}`,
    '--resource', `http://127.0.0.1:${port}/mcp`, '--workers', '1'], { timeoutMs: 10000 });
  assertFail(r, 2, /was registered at/);
  assert.equal(r.stderr.trimEnd(), registerAgain(creds, a.origin, '--issuer', b.origin));
  assert.doesNotMatch(r.stderr + r.stdout, new RegExp(SECRET));
  assert.deepEqual(b.requests, []);
  assert.deepEqual(a.requests, []);
});

test('serve -c FILE from issuer A with a --config file naming B: exit 5, nothing sent to A or B', async (t) => {
  const a = await startAS();
  t.after(a.stop);
  const b = await startAS();
  t.after(b.stop);
  const creds = credentials(a.origin);
  const port = await freePort();
  const config = path.join(tmpDir(), 'serve.json');
  fs.writeFileSync(config, JSON.stringify({
    issuer: b.origin, credentials: creds, listen: `127.0.0.1:${port}`,
    resource: `http://127.0.0.1:${port}/mcp`, workers: 1,
  }));
  const r = await run(['serve', '--config', config], { timeoutMs: 10000 });
  assertFail(r, 5, /was registered at/);
  assert.equal(r.stderr.trimEnd(), registerAgain(creds, a.origin, config, b.origin));
  assert.deepEqual(b.requests, []);
  assert.deepEqual(a.requests, []);

  // --issuer A on the command line wins over the file's B: the binding holds, serve starts.
  const s = await startServe(['--config', config, '--issuer', a.origin], { listenArgs: false });
  t.after(() => s.stop());
  const prm = (await request(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
  assert.deepEqual(prm.authorization_servers, [a.origin]);
  assert.deepEqual(b.requests, []);
});

test('serve -c FILE with its own issuer (given, or a trailing slash apart, or none) starts and names it', async (t) => {
  const a = await startAS();
  t.after(a.stop);
  const creds = credentials(a.origin);
  for (const extra of [[], ['--issuer', a.origin], ['--issuer', `${a.origin}/`]]) {
    const s = await startServe(['-c', creds, '--validation', 'introspect', ...extra]);
    const prm = (await request(s.url('/.well-known/oauth-protected-resource/mcp'))).json();
    assert.equal(prm.authorization_servers.length, 1);
    assert.match(prm.authorization_servers[0], new RegExp(`^${a.origin}/?$`));
    await s.stop();
  }
});
