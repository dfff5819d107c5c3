// The benchmark's authorization server: the real oidc-provider from
// tests/interop, issuing opaque access tokens for one resource so that serve
// validates by introspection. Prints its issuer on stdout, then runs until
// killed.
import { startAuthServer } from '../interop/lib/authserver.mjs';

const resource = process.argv[2];
const as = await startAuthServer({
  resources: { [resource]: { scope: 'mcp', accessTokenFormat: 'opaque', accessTokenTTL: 3600 } },
});
console.log(as.issuer);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => as.stop().then(() => process.exit(0)));
