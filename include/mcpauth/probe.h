/* The resource-server probe of `mcpauth check-token --resource`: checks,
 * from the outside, what an MCP server protected by OAuth 2.1 must do
 * (each check has a stable id, "PR-1" ..., printed with its result): the 401 and its Bearer
 * challenge without a token (RFC 6750 §3, RFC 9728 §5.1), its protected
 * resource metadata at the URL the challenge names, path-inserted and at
 * the root (RFC 9728 §3), the authorization server's metadata (RFC 8414,
 * MCP discovery order), and with a token: initialize and tools/list
 * accepted, bogus, forged, Basic and query-string credentials refused the
 * right way, a foreign Origin refused.
 * Then MCP 2026-07-28: server/discover, the -32020 and -32022 errors and
 * GET 405 (skipped for a server that offers no modern version), a 403
 * naming every scope at once, and no offline_access in challenges or
 * scopes_supported.
 *
 * Each check is a small function with a stable name; each reports one
 * verdict and a one-line detail. The probe never sends the token anywhere
 * but in the Authorization header of requests to the MCP URL (no token in
 * any URL), and never puts it in a detail.
 *
 * Blocks (uses mcpauth_http_perform): for the command line. */
#ifndef MCPAUTH_PROBE_H
#define MCPAUTH_PROBE_H

#include <stddef.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"

#define MCPAUTH_PROBE_DETAIL_MAX 512

typedef enum mcpauth_probe_verdict {
    MCPAUTH_PROBE_PASS,
    MCPAUTH_PROBE_FAIL,
    MCPAUTH_PROBE_WARN, /* allowed, but some clients will not cope; not a failure */
    MCPAUTH_PROBE_SKIP, /* does not apply, or needs what is missing (a token, a document) */
} mcpauth_probe_verdict;

/* "PASS", "FAIL", "WARN", "SKIP". */
const char *mcpauth_probe_verdict_name(mcpauth_probe_verdict verdict);

typedef struct mcpauth_probe_check {
    const char *name; /* stable, e.g. "metadata-resource"; static storage */
    const char *ref;  /* the checklist probe, e.g. "PR-2"; static storage */
    mcpauth_probe_verdict verdict;
    char detail[MCPAUTH_PROBE_DETAIL_MAX]; /* one line, server text sanitised */
} mcpauth_probe_check;

/* Called once per check, in order, as soon as the check is done; check is
 * borrowed for the call. */
typedef void (*mcpauth_probe_cb)(const mcpauth_probe_check *check, void *data);

typedef struct mcpauth_probe_config {
    const char *resource_url; /* the MCP endpoint, exactly as clients use it */
    const char *token;        /* a valid access token for it; NULL skips those checks */
} mcpauth_probe_config;

typedef struct mcpauth_probe_summary {
    size_t passed, failed, warned, skipped;
} mcpauth_probe_summary;

/* Runs every check in order, calling cb for each. MCPAUTH_OK when all of
 * them could be run, whatever their verdicts (count them in *summary). A
 * check that cannot be done at all stops the probe, after cb has seen the
 * checks before it: MCPAUTH_ENETWORK (cannot connect, timeout, TLS),
 * MCPAUTH_EUSAGE (resource_url unusable) or MCPAUTH_ELOCAL, with err set.
 * A server answering badly (wrong status, garbage, oversized) is a FAIL,
 * never an error. Sessions the probe opens are deleted at the end. */
mcpauth_status mcpauth_probe_run(const mcpauth_http_options *opts,
                                 const mcpauth_probe_config *config, mcpauth_probe_cb cb,
                                 void *data, mcpauth_probe_summary *summary, mcpauth_error *err);

#endif
