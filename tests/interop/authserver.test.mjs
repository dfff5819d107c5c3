// Smoke test for the test peers themselves: oidc-provider as started by
// lib/authserver.mjs, and the imitation protected resource.
// Run: cd tests/interop && npm ci && node --test

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer, startProtectedResource } from './lib/authserver.mjs';

const INSPECTOR_CLIENT = {
  application_type: 'native',
  redirect_uris: ['http://localhost:6274/oauth/callback', 'http://localhost:6274/oauth/callback/debug'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'mcp',
  token_endpoint_auth_method: 'client_secret_basic',
};

// RFC 8414 §3.1: the well-known segment goes between host and issuer path.
function rfc8414Url(issuer) {
  const u = new URL(issuer);
  const p = u.pathname === '/' ? '' : u.pathname;
  return `${u.origin}/.well-known/oauth-authorization-server${p}`;
}

async function register(endpoint, metadata, token) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(metadata),
  });
  return { status: res.status, body: await res.json() };
}

for (const [name, options] of [
  ['plain', {}],
  ['initial access token', { initialAccessToken: 'iat-secret' }],
  ['issuer path', { issuerPath: '/tenant1' }],
]) {
  test(`authorization server: ${name}`, async (t) => {
    const as = await startAuthServer(options);
    t.after(() => as.stop());
    assert.match(as.issuer, /^http:\/\/127\.0\.0\.1:\d+(\/tenant1)?$/);
    if (options.issuerPath) assert.equal(as.issuer, `http://127.0.0.1:${as.port}/tenant1`);

    const res = await fetch(rfc8414Url(as.issuer));
    assert.equal(res.status, 200);
    const md = await res.json();
    assert.equal(md.issuer, as.issuer);
    assert.equal(md.registration_endpoint, as.url('/reg'));
    assert.equal(md.token_endpoint, as.url('/token'));
    assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
    assert.ok(md.scopes_supported.includes('mcp'));
    assert.ok(md.introspection_endpoint && md.revocation_endpoint);

    // The OIDC form under the issuer path is served too.
    const oidc = await fetch(as.url('/.well-known/openid-configuration'));
    assert.equal((await oidc.json()).issuer, as.issuer);

    const token = options.initialAccessToken;
    if (token) {
      const missing = await register(md.registration_endpoint, INSPECTOR_CLIENT);
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error, 'invalid_token');
      const wrong = await register(md.registration_endpoint, INSPECTOR_CLIENT, 'nope');
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_token');
    }

    const reg = await register(md.registration_endpoint, INSPECTOR_CLIENT, token);
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    assert.ok(reg.body.client_id && reg.body.client_secret);
    assert.ok(reg.body.registration_access_token);
    assert.ok(reg.body.registration_client_uri.startsWith(as.url('/reg/')));
    assert.deepEqual(reg.body.redirect_uris, INSPECTOR_CLIENT.redirect_uris);

    // RFC 7592 read with the registration access token.
    const read = await fetch(reg.body.registration_client_uri, {
      headers: { authorization: `Bearer ${reg.body.registration_access_token}` },
    });
    assert.equal(read.status, 200);
    assert.equal((await read.json()).client_id, reg.body.client_id);

    const web = await register(md.registration_endpoint,
      { ...INSPECTOR_CLIENT, application_type: 'web', redirect_uris: ['https://app.example.com/cb'] }, token);
    assert.equal(web.status, 201, JSON.stringify(web.body));

    for (const bad of ['not a url', 'https://app.example.com/cb#frag']) {
      const r = await register(md.registration_endpoint,
        { ...INSPECTOR_CLIENT, redirect_uris: [bad] }, token);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_redirect_uri');
    }
  });
}

test('path issuer without the inserted well-known forms', async (t) => {
  const as = await startAuthServer({ issuerPath: '/tenant1', insertedWellKnown: false });
  t.after(() => as.stop());
  assert.equal((await fetch(rfc8414Url(as.issuer))).status, 404);
  assert.equal((await fetch(as.url('/.well-known/openid-configuration'))).status, 200);
});

test('client_credentials with resource indicators', async (t) => {
  const jwtRes = 'http://127.0.0.1:1/mcp';
  const opaqueRes = 'http://127.0.0.1:2/mcp';
  const as = await startAuthServer({
    resources: { [jwtRes]: { accessTokenFormat: 'jwt' }, [opaqueRes]: { accessTokenFormat: 'opaque' } },
  });
  t.after(() => as.stop());
  const reg = await register(as.url('/reg'), {
    grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'mcp',
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const basic = 'Basic ' + Buffer.from(`${reg.body.client_id}:${reg.body.client_secret}`).toString('base64');
  const tokenFor = async (resource) => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp' });
    if (resource) body.set('resource', resource);
    const r = await fetch(as.url('/token'), { method: 'POST', headers: { authorization: basic }, body });
    return { status: r.status, body: await r.json() };
  };

  const jwt = await tokenFor(jwtRes);
  assert.equal(jwt.status, 200);
  const [header, payload] = jwt.body.access_token.split('.').slice(0, 2)
    .map((s) => JSON.parse(Buffer.from(s, 'base64url')));
  assert.equal(header.typ, 'at+jwt');
  assert.equal(payload.aud, jwtRes);
  assert.equal(payload.iss, as.issuer);

  const opaque = await tokenFor(opaqueRes);
  assert.equal(opaque.status, 200);
  const intro = await fetch(as.url('/token/introspection'), {
    method: 'POST', headers: { authorization: basic }, body: new URLSearchParams({ token: opaque.body.access_token }),
  });
  const info = await intro.json();
  assert.equal(info.active, true);
  assert.equal(info.aud, opaqueRes);

  assert.equal((await tokenFor('http://unknown.example/')).body.error, 'invalid_target');
});

test('imitation protected resource', async (t) => {
  const as = 'http://127.0.0.1:1/tenant1';
  const pr = await startProtectedResource({ resource: '/mcp', authorizationServers: [as] });
  t.after(() => pr.stop());
  const origin = new URL(pr.url).origin;

  const r = await fetch(pr.url, { method: 'POST', body: '{}' });
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'),
    `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`);
  const md = await (await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`)).json();
  assert.deepEqual(md, {
    resource: pr.url, authorization_servers: [as], scopes_supported: ['mcp'], bearer_methods_supported: ['header'],
  });

  const odd = await startProtectedResource({
    authorizationServers: [as], noHeader: true, wrongResource: true, rootOnly: true,
  });
  t.after(() => odd.stop());
  const oddOrigin = new URL(odd.url).origin;
  const r2 = await fetch(odd.url, { method: 'POST' });
  assert.equal(r2.status, 401);
  assert.equal(r2.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await fetch(`${oddOrigin}/.well-known/oauth-protected-resource/mcp`)).status, 404);
  const md2 = await (await fetch(`${oddOrigin}/.well-known/oauth-protected-resource`)).json();
  assert.equal(md2.resource, odd.url + '/');
});
