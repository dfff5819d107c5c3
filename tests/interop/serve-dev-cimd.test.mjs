// MCP Inspector 2.12.0's CLI signing in to `mcpauth serve --dev` with a Client ID Metadata
// Document (--client-metadata-url): the document is served over https by a test server
// under a CA made at test time (serve trusts it with --cacert; Node with
// NODE_EXTRA_CA_CERTS). The Inspector finds client_id_metadata_document_supported in the
// issuer's metadata, uses the document URL as its client id, and the test plays the browser:
// it opens the printed authorization URL (auto-approved) and follows the redirect to the
// Inspector's callback listener. Then the Inspector calls hello_world.
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/serve-dev-cimd.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { makeTestCa, startDocumentServer } from '../lib/cimd.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const INSPECTOR = path.join(HERE, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');
const USER = 'cimd-alice';

/** Runs the Inspector CLI, approving the authorization it asks for; {code, stdout, stderr}. */
function inspector(args, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [INSPECTOR, '--cli', ...args], { cwd: HERE, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let followed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 90000);
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', async (d) => {
      stderr += d;
      const m = /Please navigate to: (\S+)/.exec(stderr);
      if (!m || followed) return;
      followed = true;
      // The browser: the dev issuer approves at once and redirects to the callback listener.
      const a = await fetch(m[1], { redirect: 'manual' });
      const location = a.headers.get('location');
      if (location) await fetch(location).catch(() => {});
      else stderr += `\n[test] authorize answered ${a.status}: ${await a.text()}\n`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('MCP Inspector CLI with --client-metadata-url against serve --dev', () => {
  let ca, docs, s, callback, home;
  before(async () => {
    ca = makeTestCa();
    callback = `http://127.0.0.1:${await freePort()}/oauth/callback`;
    docs = await startDocumentServer(ca, {
      '/inspector.json': (req, res, base) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
        res.end(JSON.stringify({
          client_id: `${base}/inspector.json`,
          client_name: 'MCP Inspector (test)',
          redirect_uris: [callback],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        }));
      },
    });
    s = await startServe(['--dev', '--dev-auto-approve', '--dev-user', USER, '--cacert', ca.caFile]);
    home = tmpDir();
    // No real browser: the Inspector's opener finds this one, which does nothing.
    fs.mkdirSync(path.join(home, 'bin'));
    fs.writeFileSync(path.join(home, 'bin', 'xdg-open'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  });
  after(async () => {
    const r = await s?.stop();
    await docs?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  test('signs in with the document URL as client id and calls hello_world', async () => {
    const env = {
      PATH: `${path.join(home, 'bin')}:${process.env.PATH}`,
      HOME: home,
      NODE_EXTRA_CA_CERTS: ca.caFile,
      MCP_AUTO_OPEN_ENABLED: 'true',
      NO_COLOR: '1',
    };
    const clientId = docs.url('/inspector.json');
    const r = await inspector([s.resource, '--transport', 'http', '--client-metadata-url', clientId,
      '--callback-url', callback, '--method', 'tools/call', '--tool-name', 'hello_world', '--format', 'json'], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const result = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    const text = JSON.stringify(result);
    assert.match(text, new RegExp(`Hello, ${USER}!`));
    // The issuer fetched the document (once: cached) and saw the client by that id.
    assert.equal(docs.fetches['/inspector.json'], 1);
    // Request lines are buffered and written by a timer: wait for it.
    await s.waitForLog(/"GET \/authorize[^"]*" 302/);
  });
});
