/* The token check of `mcpauth check-token --verify / --introspect`: one
 * access token judged the two ways a resource server can, side by side.
 * Locally as an RFC 9068 JWT against the issuer's JWK Set (from a file, a
 * jwks_uri, or the jwks_uri of the issuer's RFC 8414 metadata), and by RFC
 * 7662 introspection (the endpoint given or from the metadata); then the
 * claims each way accepted are put through the checks `serve` makes
 * (mcpauth_token_check), and where the two ways disagree is said.
 *
 * The token is sent only to the introspection endpoint, and appears in no
 * message. mcpauth_probe_token() blocks (mcpauth_http_perform): for the
 * command line. */
#ifndef MCPAUTH_TOKEN_REPORT_H
#define MCPAUTH_TOKEN_REPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"
#include "mcpauth/introspection.h"
#include "mcpauth/jose.h"
#include "mcpauth/token.h"

#define MCPAUTH_PROBE_TOKEN_REASON_MAX 512

/* What to ask and what to require. Strings are borrowed for the call. */
typedef struct mcpauth_probe_token_config {
    bool verify;            /* verify locally as an RFC 9068 JWT */
    bool introspect;        /* ask the RFC 7662 endpoint */
    const char *jwks_uri;   /* the keys; NULL: jwks_uri from the metadata */
    const char *jwks_file;  /* the keys from a file instead (a bad one is ELOCAL) */
    mcpauth_jwt_policy jwt; /* algorithms and typ for --verify */
    mcpauth_introspection_config introspection; /* endpoint NULL: from the metadata */
    /* The claim checks, as serve makes them. policy.issuer is also the
     * issuer whose metadata names what is not given (NULL: none). */
    mcpauth_token_policy policy;
} mcpauth_probe_token_config;

/* What one way of checking concluded. */
typedef struct mcpauth_probe_token_finding {
    bool asked;
    bool accepted;           /* signature valid / introspection active */
    mcpauth_token_info info; /* the claims, when accepted */
    bool claims_ok;          /* accepted, and mcpauth_token_check() found them VALID */
    char reason[MCPAUTH_PROBE_TOKEN_REASON_MAX]; /* why not accepted, or why the claims fail */
    char how[128];                               /* for a valid signature: " (RS256, kid \"k1\")" */
    char source[MCPAUTH_PROBE_TOKEN_REASON_MAX]; /* "keys from URI", "at ENDPOINT" */
    json_object *raw; /* the introspection response, or {header, claims} */
} mcpauth_probe_token_finding;

typedef struct mcpauth_probe_token_report {
    mcpauth_probe_token_finding jwt;
    mcpauth_probe_token_finding introspection;
    /* Claims on which an accepted JWT and an active introspection answer
     * differ, as "sub, exp"; empty when they agree or one was not asked. */
    char disagree[128];
    /* Why the token is not good, in one line; empty when it is. Where the
     * two ways disagree on accepting it comes first. */
    char why[MCPAUTH_PROBE_TOKEN_REASON_MAX + 96];
} mcpauth_probe_token_report;

/* Checks token as config asks, at time now (seconds since the epoch), into
 * *report (free with mcpauth_probe_token_report_free, also on failure).
 * MCPAUTH_OK when every way asked came to a conclusion, good or not; the
 * verdict is then report->why. Otherwise err says what kept a check from
 * concluding: MCPAUTH_ELOCAL (a key file), MCPAUTH_ENETWORK, MCPAUTH_EREMOTE
 * (metadata, keys or introspection answer unusable), MCPAUTH_EUSAGE (a URL
 * refused by the transport policy). Blocks. */
mcpauth_status mcpauth_probe_token(const mcpauth_http_options *opts,
                                   const mcpauth_probe_token_config *config, const char *token,
                                   int64_t now, mcpauth_probe_token_report *report,
                                   mcpauth_error *err);

void mcpauth_probe_token_report_free(mcpauth_probe_token_report *report);

/* Claims on which two accepted views of one token differ (sub, client_id,
 * iss, exp, scope, aud; sets compared as sets), as "sub, exp" into buf;
 * empty when they agree. Pure. */
void mcpauth_probe_token_compare(const mcpauth_token_info *a, const mcpauth_token_info *b,
                                 char *buf, size_t size);

#endif
