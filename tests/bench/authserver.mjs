// The benchmark's authorization server: the real oidc-provider from
// tests/interop, issuing opaque access tokens for one resource so that serve
// validates by introspection, and RFC 9068 JWT access tokens (RS256, typ
// at+jwt) for each resource given with --jwt-resource, so that serve verifies
// them locally against its jwks_uri. Prints its issuer on stdout, then runs
// until killed.
//   node tests/bench/authserver.mjs OPAQUE_RESOURCE [--jwt-resource URL]...
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
const as = await startAuthServer({ resources });
console.log(as.issuer);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => as.stop().then(() => process.exit(0)));
