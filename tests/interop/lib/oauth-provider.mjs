// An in-memory OAuthClientProvider for the MCP TypeScript SDK client, shared by the interop
// tests that let the SDK run the authorization code flow itself.

/**
 * Keeps the registered client, the tokens and the PKCE verifier in memory, and records
 * every authorization URL the SDK asks to open (a test follows them itself). The client
 * metadata sent to registration is a public-redirect, client_secret_basic code client,
 * plus `metadata` (client_name, grant_types, ...).
 */
export class MemoryOAuthProvider {
  constructor(redirectUrl, metadata = {}) {
    this._redirectUrl = redirectUrl;
    this._metadata = metadata;
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this.authorizationUrls = [];
  }

  get redirectUrl() { return this._redirectUrl; }

  get clientMetadata() {
    return {
      redirect_uris: [this._redirectUrl],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...this._metadata,
    };
  }

  /** The last authorization URL the SDK asked to open. */
  get authorizationUrl() { return this.authorizationUrls.at(-1); }

  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  redirectToAuthorization(url) { this.authorizationUrls.push(url); }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
}
