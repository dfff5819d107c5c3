/* The authorization server's signing keys (RFC 7517 JWK Sets, parsed by
 * jose.h): loaded once from a file or one blocking fetch, for a command; or,
 * for `serve`, a cache kept fresh on the event loop: fetched from jwks_uri (or read once from a
 * file), refreshed when Cache-Control max-age runs out (bounded to [1 min, 1 day], 1 hour without
 * it), refetched early when a token names a kid the set lacks (at most once per cooldown, however
 * many tokens ask: single flight), and kept when a refetch fails. Calls on the loop's thread only.
 */
#ifndef MCPAUTH_JWKS_CACHE_H
#define MCPAUTH_JWKS_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "mcpauth/error.h"
#include "mcpauth/http_async.h"
#include "mcpauth/http_client.h"
#include "mcpauth/jose.h"

/* The most a JWK Set file may hold. */
#define MCPAUTH_JWKS_FILE_MAX (1024 * 1024)

/* The Accept header of a JWK Set request (RFC 7517 §8.5.1). */
#define MCPAUTH_JWKS_ACCEPT "application/jwk-set+json, application/json"

/* ---- loading once ---- */

/* Reads and parses the JWK Set in the file at path ("-" for standard
 * input). A file that cannot be read, or that holds no usable set, is
 * MCPAUTH_ELOCAL; a parse error's message is prefixed with path. The caller
 * frees *out with mcpauth_jwks_free(). Blocks on the file only. */
mcpauth_status mcpauth_jwks_load_file(const char *path, mcpauth_jwks **out, mcpauth_error *err);

/* Judges the answer to a GET of the JWK Set at uri (named in messages):
 * anything but 200 -> MCPAUTH_EREMOTE "JWK Set at URI: HTTP 404 Not Found";
 * a body that is no usable set -> the mcpauth_jwks_parse() error, prefixed
 * "JWK Set at URI". The caller frees *out with mcpauth_jwks_free(). Pure. */
mcpauth_status mcpauth_jwks_from_response(const mcpauth_http_response *resp, const char *uri,
                                          mcpauth_jwks **out, mcpauth_error *err);

/* Fetches the JWK Set at uri and judges the answer as above; transport
 * failures keep the HTTP client's status. Blocks (mcpauth_http_perform). */
mcpauth_status mcpauth_jwks_fetch(const mcpauth_http_options *opts, const char *uri,
                                  mcpauth_jwks **out, mcpauth_error *err);

/* ---- the event-loop cache ---- */

typedef struct mcpauth_jwks_cache mcpauth_jwks_cache;

typedef struct mcpauth_jwks_cache_config {
    const char *uri;          /* jwks_uri; NULL when file is given */
    const char *file;         /* a JWK Set read at start (no refreshing) */
    int64_t cooldown_seconds; /* least time between unknown-kid refetches (30) */
} mcpauth_jwks_cache_config;

typedef struct mcpauth_jwks_cache_stats {
    uint64_t fetches;
    uint64_t fetch_failures;
} mcpauth_jwks_cache_stats;

/* Called once with the keys to use now (borrowed for the call; NULL when
 * none could ever be loaded). error is NULL when the last fetch succeeded
 * (or the set came from a file), so the keys are what the server publishes;
 * otherwise it says why that fetch failed, and jwks, when not NULL, is the
 * last good set, which may lack a key the server has since added. */
typedef void (*mcpauth_jwks_cb)(const mcpauth_jwks *jwks, const char *error, void *data);

/* Creates the cache; with a file, reads it now (MCPAUTH_ELOCAL/EREMOTE on a
 * bad file). Nothing is fetched before the first get(). NULL with err set on
 * failure. uri and file must outlive the cache. */
mcpauth_jwks_cache *mcpauth_jwks_cache_new(mcpauth_http_async *http,
                                           const mcpauth_jwks_cache_config *config,
                                           mcpauth_error *err);

/* Gets the keys. With stale_kid set (a token named a kid the current set
 * lacks), a refetch is started unless one ran within the cooldown, and cb
 * runs when the fetch in flight ends. Otherwise cb runs at once with the
 * current set, even while a refetch is in flight, unless there is none yet
 * or it has expired, when it runs after the fetch. */
void mcpauth_jwks_cache_get(mcpauth_jwks_cache *cache, bool stale_kid, mcpauth_jwks_cb cb,
                            void *data);

void mcpauth_jwks_cache_stats_get(const mcpauth_jwks_cache *cache, mcpauth_jwks_cache_stats *out);

/* Frees the cache; waiting callers get (NULL, "shutting down"). */
void mcpauth_jwks_cache_free(mcpauth_jwks_cache *cache);

#endif
