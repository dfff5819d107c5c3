// A real OAuth 2.1 authorization server (oidc-provider 9.13.3) run in-process for
// interop tests, plus a tiny imitation MCP protected resource for discovery tests.
//
// oidc-provider behaviours verified by hand and (mostly) in authserver.test.mjs:
// - Dynamic registration (POST JSON to /reg) → 201 with client_id, client_secret,
//   registration_client_uri and registration_access_token (RFC 7591/7592).
// - application_type 'native' with http://localhost:6274/oauth/callback(/debug) is
//   accepted as is: its native-client check only lets plain http through to the
//   loopback hosts 'localhost', '127.0.0.1' and '[::1]', which is what we want, so no
//   extra configuration is needed. (A native client with an https redirect URI on a
//   loopback host, or http on any other host, is rejected.) 'web' with https:// works.
// - Bad redirect URIs give 400 {"error":"invalid_redirect_uri", "error_description": ...}:
//     'not a url'               → "redirect_uris must only contain valid uris"
//     'https://x.example/cb#f'  → "redirect_uris must not contain fragments"
//   (oidc-provider turns any client-metadata error whose description starts with
//   "redirect_uris" into invalid_redirect_uri; other metadata errors are
//   invalid_client_metadata.)
// - With an initial access token configured, registration without it gives
//   401 {"error":"invalid_token","error_description":"no access token provided"}, with a
//   wrong one 401 {"error":"invalid_token","error_description":"invalid token provided"}.
// - offline_access is dropped (so no refresh token) unless the authorization request
//   also carries prompt=consent — OIDC Core rules, applied even without 'openid'.
// - Mounted under a path (issuerPath '/tenant1') the provider itself serves only
//   /tenant1/.well-known/oauth-authorization-server and
//   /tenant1/.well-known/openid-configuration. The RFC 8414 §3.1 "inserted" forms
//   /.well-known/oauth-authorization-server/tenant1 and
//   /.well-known/openid-configuration/tenant1 are answered by the mount wrapper below,
//   which rewrites them (turn off with insertedWellKnown: false to test fallbacks).
// - It refuses to introspect/revoke JWT access tokens (400 unsupported_token_type):
//   use accessTokenFormat 'opaque' for RFC 7662 / RFC 7009 tests.

import crypto from 'node:crypto';
import { keyPair, startHttpServer } from '../../lib/harness.mjs';

// oidc-provider's noise: the Node 20 runtime warning (printed when the module is first
// evaluated), the development-only devInteractions / in-memory adapter warnings and the
// "default X function called, you SHOULD change it" notices (printed on first use).
// A narrow, permanent filter on console.warn/info drops just those lines.
const QUIET = /oidc-provider (WARNING|NOTICE): .*(Unsupported runtime|development-only|you SHOULD change it)/;
for (const level of ['warn', 'info']) {
  const orig = console[level];
  console[level] = (...args) => {
    if (typeof args[0] === 'string' && QUIET.test(args[0])) return;
    orig.apply(console, args);
  };
}

const { Provider, errors } = await import('oidc-provider');

// Fresh signing keys each start (no dev keys, so no "development keys" notice).
function signingKeys() {
  const rsa = keyPair('rsa', { modulusLength: 2048 }).privateKey;
  const ec = keyPair('ec', { namedCurve: 'P-256' }).privateKey;
  return {
    keys: [
      { ...rsa.export({ format: 'jwk' }), kid: 'rs256', alg: 'RS256', use: 'sig' },
      { ...ec.export({ format: 'jwk' }), kid: 'es256', alg: 'ES256', use: 'sig' },
    ],
  };
}

/**
 * Start oidc-provider on 127.0.0.1:<free port>.
 * @param {object} [options]
 * @param {string} [options.initialAccessToken] require this bearer token for registration
 * @param {string} [options.issuerPath] e.g. '/tenant1' → issuer http://127.0.0.1:PORT/tenant1
 * @param {boolean} [options.insertedWellKnown=true] with issuerPath, also answer
 *   /.well-known/{oauth-authorization-server,openid-configuration}<issuerPath>
 * @param {Record<string, {scope?: string, accessTokenFormat?: 'opaque'|'jwt'}>} [options.resources]
 *   known resource indicators; the audience of their tokens is the resource URL.
 *   Extra fields (accessTokenTTL, jwt, ...) are passed through to oidc-provider.
 * @param {object} [options.config] extra oidc-provider configuration (shallow-merged;
 *   its `features` are merged into ours key by key)
 */
export async function startAuthServer(options = {}) {
  const {
    initialAccessToken,
    issuerPath = '',
    insertedWellKnown = true,
    resources = {},
    config: extra = {},
    use = [], // Koa middleware run before the provider's own (e.g. to count calls)
  } = options;
  if (issuerPath && (!issuerPath.startsWith('/') || issuerPath.endsWith('/'))) {
    throw new TypeError("issuerPath must look like '/tenant1'");
  }

  let handler = (req, res) => { res.statusCode = 503; res.end(); };
  const server = await startHttpServer((req, res) => handler(req, res));
  const { port, origin } = server;
  const issuer = origin + issuerPath;

  const config = {
    jwks: signingKeys(),
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'mcp'],
    pkce: { required: () => true }, // every authorization-code request needs PKCE (S256)
    // Any login name typed into the devInteractions form becomes the subject.
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: true }, // login/consent HTML forms a test can post to
      registration: { enabled: true, initialAccessToken: initialAccessToken ?? false },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // No resource parameter → no audience (opaque token not bound to any resource).
        defaultResource: async () => undefined,
        getResourceServerInfo: async (ctx, indicator) => {
          const info = resources[indicator];
          if (!info) throw new errors.InvalidTarget();
          return {
            audience: indicator,
            scope: 'mcp',
            accessTokenFormat: 'opaque',
            jwt: { sign: { alg: 'RS256' } }, // used when accessTokenFormat is 'jwt'
            ...info,
          };
        },
      },
      ...extra.features,
    },
  };
  for (const [k, v] of Object.entries(extra)) if (k !== 'features') config[k] = v;

  const provider = new Provider(issuer, config);
  for (const fn of use) provider.use(fn); // before callback(): Koa composes there
  const callback = provider.callback();

  if (!issuerPath) {
    handler = callback;
  } else {
    // Mounting: like express' app.use(prefix, provider.callback()) — strip the prefix
    // from req.url and keep the full URL in req.originalUrl; oidc-provider derives the
    // mount path from the difference when it builds endpoint URLs.
    const inserted = new Set(insertedWellKnown
      ? ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']
        .map((p) => p + issuerPath)
      : []);
    handler = (req, res) => {
      const [pathname, query] = splitUrl(req.url);
      let rest;
      if (inserted.has(pathname)) {
        // /.well-known/X/tenant1 → /tenant1/.well-known/X
        rest = pathname.slice(0, -issuerPath.length);
      } else if (pathname === issuerPath || pathname.startsWith(issuerPath + '/')) {
        rest = pathname.slice(issuerPath.length) || '/';
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'not_found' }));
        return;
      }
      req.originalUrl = issuerPath + rest + query;
      req.url = rest + query;
      callback(req, res);
    };
  }

  return {
    issuer,
    port,
    origin,
    url: (path = '') => issuer + path,
    provider,
    stop: server.stop,
  };
}

function splitUrl(url) {
  const i = url.indexOf('?');
  return i === -1 ? [url, ''] : [url.slice(0, i), url.slice(i)];
}

/**
 * Imitation MCP server for discovery tests (RFC 9728 protected-resource metadata).
 * @param {object} options
 * @param {string} [options.resource] path of the resource, e.g. '/mcp' (default '/mcp');
 *   a full URL is also accepted, only its path is used.
 * @param {string[]} options.authorizationServers issuer URLs to advertise
 * @param {number} [options.port] fixed port (default: OS-chosen)
 * @param {boolean} [options.noHeader] 401 without resource_metadata in WWW-Authenticate
 * @param {boolean} [options.wrongResource] metadata `resource` gets a trailing '/'
 * @param {boolean} [options.rootOnly] serve only /.well-known/oauth-protected-resource
 *   (non-conformant for a resource with a path, but seen in the wild)
 */
export async function startProtectedResource({
  resource = '/mcp', authorizationServers = [], port = 0,
  noHeader = false, wrongResource = false, rootOnly = false,
} = {}) {
  const path = resource.includes('://') ? new URL(resource).pathname : resource;
  let origin;
  const server = await startHttpServer((req, res) => {
    const [pathname] = splitUrl(req.url);
    const resourceUrl = origin + (path === '/' ? '' : path);
    const wellKnown = '/.well-known/oauth-protected-resource';
    const metadataPath = rootOnly || path === '/' ? wellKnown : wellKnown + path;
    if (req.method === 'GET' && pathname === metadataPath) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        resource: wrongResource ? resourceUrl + '/' : resourceUrl,
        authorization_servers: authorizationServers,
        scopes_supported: ['mcp'],
        bearer_methods_supported: ['header'],
      }));
      return;
    }
    if (pathname === path && !req.headers.authorization) {
      const challenge = noHeader
        ? 'Bearer'
        : `Bearer resource_metadata="${origin}${metadataPath}"`;
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_token', error_description: 'no token' }));
      return;
    }
    if (pathname === path) {
      // A token was sent: this imitation does not check it.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    res.writeHead(404);
    res.end();
  }, { port });
  origin = server.origin;
  return { url: origin + (path === '/' ? '' : path), origin, stop: server.stop };
}
