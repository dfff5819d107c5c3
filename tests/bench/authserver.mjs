// The benchmark's authorization server: the real oidc-provider from
// tests/interop, issuing opaque access tokens for one resource so that serve
// validates by introspection, and RFC 9068 JWT access tokens (RS256, typ
// at+jwt) for each resource given with --jwt-resource, so that serve verifies
// them locally against its jwks_uri. Prints its issuer on stdout, then runs
// until killed.
//   node tests/bench/authserver.mjs OPAQUE_RESOURCE [--jwt-resource URL]...
// Its second line of output is the URL of a token factory: a POST to
// URL?count=N with "Authorization: Bearer OPAQUE_TOKEN" answers N new opaque
// tokens, one a line, each a copy of that one (same client, audience, scope
// and expiry) under a new random value: as good as N tokens from /token,
// hundreds of times faster, for the soak's token rotation.
// Its store keeps every token until it expires: oidc-provider's development
// store keeps only the last thousand or so, and the soak issues hundreds of
// thousands before it uses them.
import crypto from 'node:crypto';
import http from 'node:http';
import { startAuthServer } from '../interop/lib/authserver.mjs';

const args = process.argv.slice(2);
const resources = {};
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--jwt-resource') {
    resources[args[++i]] = { scope: 'mcp', accessTokenFormat: 'jwt', accessTokenTTL: 3600 };
  } else {
    resources[args[i]] = { scope: 'mcp', accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
  }
}

const stores = new Map();
/** oidc-provider's adapter interface over a Map per model, without eviction. */
class Store {
  constructor(model) {
    if (!stores.has(model)) stores.set(model, new Map());
    this.map = stores.get(model);
  }

  async upsert(id, payload, expiresIn) {
    this.map.set(id, { payload, expires: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
  }

  async find(id) {
    const e = this.map.get(id);
    if (!e) return undefined;
    if (e.expires <= Date.now()) {
      this.map.delete(id);
      return undefined;
    }
    return e.payload;
  }

  async findByUid(uid) {
    for (const [id, e] of this.map) if (e.payload.uid === uid) return this.find(id);
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, e] of this.map) if (e.payload.userCode === userCode) return this.find(id);
    return undefined;
  }

  async consume(id) {
    const e = this.map.get(id);
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.map.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [id, e] of this.map) if (e.payload.grantId === grantId) this.map.delete(id);
  }
}

const as = await startAuthServer({ resources, config: { adapter: Store } });
// The token factory, on a port of its own (oidc-provider's router answers
// every path of its own server).
const factory = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const count = Number(url.searchParams.get('count'));
  const original = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  const store = stores.get('ClientCredentials');
  const payload = original && store && (await new Store('ClientCredentials').find(original));
  if (req.method !== 'POST' || url.pathname !== '/bench/tokens' || !payload
      || !Number.isInteger(count) || count < 1 || count > 10_000_000) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('POST /bench/tokens?count=N with an opaque client_credentials token\n');
    return;
  }
  const tokens = new Array(count);
  const { expires } = store.get(original);
  for (let i = 0; i < count; i++) {
    const jti = crypto.randomBytes(32).toString('base64url').slice(0, 43);
    store.set(jti, { payload: { ...payload, jti }, expires });
    tokens[i] = jti;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(tokens.join('\n') + '\n');
});
await new Promise((resolve) => factory.listen(0, '127.0.0.1', resolve));
console.log(as.issuer);
console.log(`http://127.0.0.1:${factory.address().port}/bench/tokens`);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => {
  factory.close();
  as.stop().then(() => process.exit(0));
});
