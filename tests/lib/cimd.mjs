// Client ID Metadata Document fixtures for tests: a certificate authority made at test time
// (openssl) and an https server on 127.0.0.1 that serves documents, counts each fetch, and
// can misbehave per path (slow, redirecting, oversized, ...). Node built-ins and openssl only.

import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tmpDir } from './harness.mjs';

/**
 * A fresh CA and a server certificate it signed for localhost and 127.0.0.1, valid for a day.
 * @returns {{dir: string, caFile: string, key: Buffer, cert: Buffer}}
 */
export function makeTestCa() {
  const dir = tmpDir();
  const f = (name) => path.join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=mcpauth test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-x509', '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.pem'),
    '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-addext', 'basicConstraints=CA:FALSE',
    '-addext', 'extendedKeyUsage=serverAuth');
  return { dir, caFile: f('ca.pem'), key: fs.readFileSync(f('server.key')), cert: fs.readFileSync(f('server.pem')) };
}

/**
 * An https server for documents. `routes[path]` is a function (req, res, base) or an object
 * {status, headers, body, delayMs}; a body that is not a string is sent as JSON, with
 * `base` (this server's origin) available to functions. fetches[path] counts requests.
 */
export async function startDocumentServer(ca, routes) {
  const fetches = {};
  const sockets = new Set();
  let base = '';
  const server = https.createServer({ key: ca.key, cert: ca.cert }, async (req, res) => {
    const p = new URL(req.url, 'https://x').pathname;
    fetches[p] = (fetches[p] ?? 0) + 1;
    const route = routes[p];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    if (typeof route === 'function') {
      await route(req, res, base);
      return;
    }
    if (route.delayMs) await new Promise((r) => setTimeout(r, route.delayMs));
    if (res.destroyed) return;
    const body = typeof route.body === 'string' ? route.body : JSON.stringify(route.body);
    res.writeHead(route.status ?? 200, { 'content-type': 'application/json', ...(route.headers ?? {}) });
    res.end(body);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${server.address().port}`;
  return {
    base,
    url: (p) => base + p,
    fetches,
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}
