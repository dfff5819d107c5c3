// The conformance suite 0.2.0-alpha.12 (`conformance-next`) has two `authorization` scenarios
// for an authorization server: authorization-server-metadata-endpoint (RFC 8414 metadata, with
// a warning when client_id_metadata_document_supported is missing) and
// authorization-code-grant (a real code flow with PKCE, the suite's callback listener on a
// loopback port, the token response's headers). Both against `mcpauth serve --dev`, with no
// warning, the client being a Client ID Metadata Document served over https under a test CA;
// the test plays the browser (the issuer auto-approves).
// Run: MCPAUTH_BIN=build/mcpauth node --test tests/interop/conformance-authorization.test.mjs

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServe, freePort, tmpDir } from '../lib/harness.mjs';
import { makeTestCa, startDocumentServer } from '../lib/cimd.mjs';
import { CONFORMANCE_NEXT_CLI, GLOBSYNC_LOADER } from './lib/conformance-next.mjs';

/** `conformance authorization ARGS`, following the authorization URL it prints. */
function runAuthorization(args, outDir) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(GLOBSYNC_LOADER).href, CONFORMANCE_NEXT_CLI,
      'authorization', ...args, '-o', outDir], { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let followed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.stdout.setEncoding('utf8').on('data', async (d) => {
      stdout += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)$/m.exec(stdout);
      if (!m || followed || !/Callback server started/.test(stdout)) return;
      followed = true;
      const a = await fetch(m[1], { redirect: 'manual' });
      const location = a.headers.get('location');
      if (location) await fetch(location).catch(() => {});
      else stderr += `[test] authorize answered ${a.status}: ${await a.text()}\n`;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every check of every scenario the run saved: [{scenario, id, status, errorMessage}]. */
function savedChecks(dir) {
  const checks = [];
  for (const entry of fs.readdirSync(dir)) {
    const file = path.join(dir, entry, 'checks.json');
    if (!fs.existsSync(file)) continue;
    const scenario = entry.replace(/^authorization-server-/, '').replace(/-\d{4}-\d{2}-\d{2}T.*$/, '');
    for (const c of JSON.parse(fs.readFileSync(file, 'utf8'))) {
      checks.push({ scenario, id: c.id, status: c.status, errorMessage: c.errorMessage });
    }
  }
  return checks;
}

describe('conformance 0.2.0-alpha.12 authorization scenarios against serve --dev', () => {
  let ca, docs, s, port;
  before(async () => {
    ca = makeTestCa();
    port = await freePort();
    docs = await startDocumentServer(ca, {
      '/conformance.json': (req, res, base) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          client_id: `${base}/conformance.json`, client_name: 'conformance suite',
          redirect_uris: [`http://127.0.0.1:${port}/callback`], token_endpoint_auth_method: 'none',
        }));
      },
    });
    s = await startServe(['--dev', '--dev-auto-approve', '--cacert', ca.caFile]);
  });
  after(async () => {
    const r = await s?.stop();
    await docs?.stop();
    if (r) assert.deepEqual(r, { code: 0, signal: null });
  });

  test('both scenarios pass with no warning', async () => {
    const out = tmpDir();
    const r = await runAuthorization(['--url', s.origin, '--client-id', docs.url('/conformance.json'),
      '--resource', s.resource, '-p', String(port)], out);
    const report = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.code, 0, report);
    assert.match(r.stdout, /✓ authorization-server-metadata-endpoint: \d+ passed, 0 failed/);
    assert.match(r.stdout, /✓ authorization-code-grant: 1 passed, 0 failed/);
    const checks = savedChecks(out);
    assert.deepEqual([...new Set(checks.map((c) => c.scenario))].sort(),
      ['authorization-code-grant', 'authorization-server-metadata-endpoint'], report);
    assert.deepEqual(checks.filter((c) => c.status !== 'SUCCESS'), [], report);
    assert.ok(checks.some((c) => c.id === 'authorization-server-metadata-cimd'), report);
  });
});
