// MCP and OAuth client pieces shared by the Node test scripts: registering a client with
// `mcpauth register`, a client_credentials grant, a raw initialize request, a tool
// result's text. Node built-ins only (fetch).

import assert from 'node:assert/strict';
import { run } from './harness.mjs';
import { basicAuth } from './http.mjs';

/**
 * RFC 6749 §4.4 client_credentials at `tokenEndpoint` for `client` ({client_id,
 * client_secret}, sent with client_secret_basic), with an RFC 8707 resource indicator
 * unless `resource` is empty. Asserts a 200 and returns the token response.
 */
export async function clientCredentials(tokenEndpoint, client, { resource, scope = 'mcp' } = {}) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope });
  if (resource) body.set('resource', resource);
  const r = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: basicAuth(client.client_id, client.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
  });
  const json = await r.json();
  assert.equal(r.status, 200, JSON.stringify(json));
  return json;
}

/** A raw MCP initialize POST to `url`, with a bearer token when given (for exact status
 * and challenge checks). Resolves with the fetch Response. */
export function rawInitialize(url, token) {
  const headers = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
}

/** The text of a successful tool result's first content item. */
export function textOf(result) {
  assert.equal(result.isError ?? false, false, JSON.stringify(result));
  assert.equal(result.content[0].type, 'text', JSON.stringify(result));
  return result.content[0].text;
}

/**
 * `mcpauth register` of a client_credentials client with scope mcp at `issuer`, named
 * `name`. With `out` the credentials are saved there; otherwise the client document
 * (client_id, client_secret, ...) is returned. Fails the test when register fails.
 */
export async function registerClientCredentials(issuer, name, { out } = {}) {
  const args = ['register', '--issuer', issuer, '--grant-type', 'client_credentials', '--scope', 'mcp', '--name', name];
  const r = await run(out ? [...args, '-o', out] : [...args, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return out ? undefined : JSON.parse(r.stdout);
}
