// The MCP TypeScript SDK (1.32.2) as the client of `serve --dev` over HTTPS:
// a test CA made with certtool, trusted by the client through
// NODE_EXTRA_CA_CERTS (read by Node at start, so the client runs in a child
// process). With the CA it registers, gets a token by client_credentials from
// the development issuer on the same TLS listener, and calls a tool; without
// it, the connection is refused.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, startServe, tmpDir, TIMEOUT_FACTOR } from '../lib/harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const haveCerttool = spawnSync('certtool', ['--version']).status === 0;

// Connects, calls hello_world, prints its text; exits 1 with the error otherwise.
const CLIENT = `
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
const [url, clientId, clientSecret] = process.argv.slice(1);
const authProvider = new ClientCredentialsProvider({ clientId, clientSecret, scope: 'mcp' });
const client = new Client({ name: 'mcpauth-tls', version: '1.0.0' });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider }));
  const r = await client.callTool({ name: 'hello_world', arguments: {} });
  console.log(r.content[0].text);
  await client.close();
} catch (err) {
  console.error(String(err?.cause?.code ?? ''), String(err?.message ?? err));
  process.exit(1);
}
`;

function sdkCall(url, client, ca) {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', CLIENT, url, client.client_id,
      client.client_secret], {
      cwd: HERE, timeout: 30000 * TIMEOUT_FACTOR,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_EXTRA_CA_CERTS: ca },
    }, (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

function certtool(args) {
  execFileSync('certtool', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir, name) {
  const key = path.join(dir, `${name}.key`);
  const pem = path.join(dir, `${name}.pem`);
  fs.writeFileSync(`${pem}.tmpl`, `cn = "${name}"\nca\ncert_signing_key\nexpiration_days = 2\n`);
  certtool(['--generate-privkey', '--key-type', 'ecdsa', '--outfile', key]);
  certtool(['--generate-self-signed', '--load-privkey', key, '--template', `${pem}.tmpl`,
    '--outfile', pem]);
  return { key, pem };
}

describe('SDK client over https', { skip: !haveCerttool && 'certtool (gnutls-bin) is not installed' }, () => {
  let dir, ca, otherCa, cert, serve, client;

  before(async () => {
    dir = tmpDir();
    ca = makeCa(dir, 'ca');
    otherCa = makeCa(dir, 'other-ca');
    cert = { key: path.join(dir, 'server.key'), pem: path.join(dir, 'server.pem') };
    fs.writeFileSync(`${cert.pem}.tmpl`, 'cn = "localhost"\nip_address = "127.0.0.1"\n' +
      'tls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n');
    certtool(['--generate-privkey', '--key-type', 'ecdsa', '--outfile', cert.key]);
    certtool(['--generate-certificate', '--load-privkey', cert.key, '--load-ca-certificate',
      ca.pem, '--load-ca-privkey', ca.key, '--template', `${cert.pem}.tmpl`, '--outfile', cert.pem]);
    fs.chmodSync(cert.key, 0o600);
    // The development issuer fetches its own keys over the same https listener: --cacert.
    serve = await startServe((port) => ['--dev', '--dev-auto-approve', '--resource',
      `https://127.0.0.1:${port}/mcp`, '--tls-cert', cert.pem, '--tls-key', cert.key,
      '--cacert', ca.pem]);
    const r = await run(['register', '--issuer', serve.origin, '--cacert', ca.pem,
      '--grant-type', 'client_credentials', '--scope', 'mcp', '--name', 'tls-sdk',
      '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    client = JSON.parse(r.stdout);
  });

  after(async () => {
    if (!serve)
      return;
    const { code } = await serve.stop();
    assert.equal(code, 0, serve.stderr());
  });

  test('trusting the test CA, the SDK gets a token and calls a tool', async () => {
    const r = await sdkCall(serve.url('/mcp'), client, ca.pem);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Hello, /);
    await serve.waitForLog(/"POST \/mcp" 200 .*token=[0-9a-f]{12}/);
  });

  test('trusting another CA, the SDK refuses the server', async () => {
    const r = await sdkCall(serve.url('/mcp'), client, otherCa.pem);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|certificate/i);
  });
});
