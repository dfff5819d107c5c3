/* Client ID Metadata Documents at the development issuer: a client id that
 * is an https URL names a JSON document the issuer fetches, checks
 * (mcpauth_oauth_cimd_*) and caches; /authorize and /token then treat it as
 * a public client with that metadata.
 *
 * Fetching is asynchronous on the server's loop: a request naming a URL not
 * in the cache is put aside, the document fetched, and the request answered
 * afterwards. The fetch is bounded the way the draft's security
 * considerations (§6) and MCP's (§Client ID Metadata Document Security) ask:
 * MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT bytes, FETCH_SECONDS, no redirects, no
 * addresses but public ones and loopback (checked on the resolved address
 * before connecting), https only except loopback http in this development
 * issuer. The cache honours Cache-Control (no-store, no-cache, max-age) up
 * to CACHE_MAX_SECONDS and holds CACHE_ENTRIES documents. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "devissuer_internal.h"
#include "mcpauth/http_async.h"

#define FETCH_SECONDS         5
#define MAX_FETCHES           16 /* documents being fetched at once */
#define CACHE_ENTRIES         64
#define CACHE_DEFAULT_SECONDS 300  /* no Cache-Control: a short heuristic lifetime */
#define CACHE_MAX_SECONDS     3600 /* a document may change; look again at least hourly */

typedef struct cache_entry {
    char url[MCPAUTH__DEVISSUER_ID_SIZE];
    json_object *doc; /* checked and completed with defaults */
    int64_t expires_at;
} cache_entry;

/* A request waiting on a document, with copies of everything it borrowed. */
typedef struct fetch {
    mcpauth_devissuer *dev;
    char url[MCPAUTH__DEVISSUER_ID_SIZE];
    mcpauth_devissuer_request req;
    char *strings[6]; /* method, path, query, authorization, content_type, origin */
    char *body;
    mcpauth_devissuer_answer_cb cb;
    void *data;
} fetch;

struct mcpauth__devissuer_cimd {
    mcpauth_http_async *http;
    cache_entry cache[CACHE_ENTRIES];
    size_t cache_count;
    /* The outcome of the fetch whose request is being answered now: a
     * document that may not be cached (no-store) or failed is still known
     * for that one answer. */
    const char *fresh_url;
    json_object *fresh_doc;
    mcpauth_oauth_cimd_verdict fresh_verdict;
    char fresh_problem[512];
    char url_problem[256]; /* why the last URL looked up was refused */
};

mcpauth__devissuer_cimd *mcpauth__devissuer_cimd_new(void)
{
    return calloc(1, sizeof(mcpauth__devissuer_cimd));
}

void mcpauth__devissuer_cimd_free(mcpauth__devissuer_cimd *cimd)
{
    if (!cimd)
        return;
    for (size_t i = 0; i < cimd->cache_count; i++)
        json_object_put(cimd->cache[i].doc);
    free(cimd);
}

/* RFC 7591 §2 defaults a document may leave out, made explicit so that the
 * endpoints read it like a registered client's metadata; a document's
 * client is public ("none": no secret can be shared with it). */
static void complete(json_object *doc)
{
    if (!json_object_object_get_ex(doc, "grant_types", NULL)) {
        json_object *grants = json_object_new_array();
        json_object_array_add(grants, json_object_new_string("authorization_code"));
        json_object_object_add(doc, "grant_types", grants);
    }
    if (!json_object_object_get_ex(doc, "token_endpoint_auth_method", NULL))
        json_object_object_add(doc, "token_endpoint_auth_method", json_object_new_string("none"));
}

/* RFC 9111 §5.2.2: how long the response may be reused; 0 for not at all. */
static int64_t lifetime(const mcpauth_http_response *resp)
{
    const char *value = mcpauth_http_response_header(resp, "Cache-Control", 0);
    if (!value)
        return CACHE_DEFAULT_SECONDS;
    int64_t seconds = CACHE_DEFAULT_SECONDS;
    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        if ((n >= 8 && strncasecmp(p, "no-store", 8) == 0) ||
            (n >= 8 && strncasecmp(p, "no-cache", 8) == 0))
            return 0;
        if (n > 8 && strncasecmp(p, "max-age=", 8) == 0) {
            char *end;
            long long v = strtoll(p + 8, &end, 10);
            seconds = end > p + 8 && v >= 0 ? (int64_t)v : 0;
        }
        p += n;
    }
    return seconds < CACHE_MAX_SECONDS ? seconds : CACHE_MAX_SECONDS;
}

static void cache_drop(mcpauth__devissuer_cimd *cimd, size_t i)
{
    json_object_put(cimd->cache[i].doc);
    cimd->cache[i] = cimd->cache[--cimd->cache_count];
}

static cache_entry *cache_find(mcpauth__devissuer_cimd *cimd, const char *url, int64_t now)
{
    for (size_t i = 0; i < cimd->cache_count; i++) {
        if (strcmp(cimd->cache[i].url, url) != 0)
            continue;
        if (cimd->cache[i].expires_at > now)
            return &cimd->cache[i];
        cache_drop(cimd, i);
        return NULL;
    }
    return NULL;
}

/* Keeps doc (a new reference is taken) until now + seconds; when the cache
 * is full the entry closest to expiry makes room. */
static void cache_put(mcpauth__devissuer_cimd *cimd, const char *url, json_object *doc, int64_t now,
                      int64_t seconds)
{
    for (size_t i = 0; i < cimd->cache_count;)
        if (strcmp(cimd->cache[i].url, url) == 0 || cimd->cache[i].expires_at <= now)
            cache_drop(cimd, i);
        else
            i++;
    if (cimd->cache_count == CACHE_ENTRIES) {
        size_t soonest = 0;
        for (size_t i = 1; i < cimd->cache_count; i++)
            if (cimd->cache[i].expires_at < cimd->cache[soonest].expires_at)
                soonest = i;
        cache_drop(cimd, soonest);
    }
    cache_entry *e = &cimd->cache[cimd->cache_count++];
    snprintf(e->url, sizeof e->url, "%s", url);
    e->doc = json_object_get(doc);
    e->expires_at = now + seconds;
}

mcpauth__devissuer_cimd_result mcpauth__devissuer_cimd_lookup(mcpauth_devissuer *dev,
                                                              const char *url, int64_t now,
                                                              mcpauth__devissuer_client *client,
                                                              const char **problem)
{
    mcpauth__devissuer_cimd *cimd = dev->cimd;
    mcpauth_error err = {0};
    memset(client, 0, sizeof *client);
    /* Plain http only to this machine: the development issuer's exception
     * to the draft's https rule, for documents served by a local tool. */
    if (mcpauth_oauth_cimd_check_url(url, true, &err) != MCPAUTH_OK) {
        snprintf(cimd->url_problem, sizeof cimd->url_problem, "%s", err.message);
        *problem = cimd->url_problem;
        return MCPAUTH__DEVISSUER_CIMD_FOREIGN;
    }
    json_object *doc = NULL;
    mcpauth__devissuer_cimd_result result = MCPAUTH__DEVISSUER_CIMD_VALID;
    cache_entry *e = cache_find(cimd, url, now);
    if (e) {
        doc = e->doc;
    } else if (cimd->fresh_url && strcmp(cimd->fresh_url, url) == 0) {
        doc = cimd->fresh_doc;
        if (cimd->fresh_verdict != MCPAUTH_OAUTH_CIMD_VALID)
            *problem = cimd->fresh_problem;
        if (cimd->fresh_verdict == MCPAUTH_OAUTH_CIMD_FOREIGN)
            return MCPAUTH__DEVISSUER_CIMD_FOREIGN;
        if (cimd->fresh_verdict == MCPAUTH_OAUTH_CIMD_INVALID)
            result = MCPAUTH__DEVISSUER_CIMD_INVALID;
    } else {
        *problem = "the client metadata document cannot be fetched now (fetching is not running, "
                   "or too many documents are being fetched)";
        return MCPAUTH__DEVISSUER_CIMD_MISSING;
    }
    snprintf(client->id, sizeof client->id, "%s", url);
    client->metadata = json_object_get(doc);
    client->document = true;
    return result;
}

void mcpauth__devissuer_cimd_release(mcpauth__devissuer_client *client)
{
    if (client->document)
        json_object_put(client->metadata);
    memset(client, 0, sizeof *client);
}

/* Judges a finished fetch into the fresh slot, caching a valid document. */
static void judge(mcpauth__devissuer_cimd *cimd, const char *url, mcpauth_status status,
                  const mcpauth_http_response *resp, const mcpauth_error *err, int64_t now)
{
    char *problem = cimd->fresh_problem;
    size_t size = sizeof cimd->fresh_problem;
    cimd->fresh_url = url;
    cimd->fresh_doc = NULL;
    cimd->fresh_verdict = MCPAUTH_OAUTH_CIMD_FOREIGN;
    if (status != MCPAUTH_OK) {
        snprintf(problem, size, "cannot fetch the client metadata document: %s", err->message);
        return;
    }
    /* A redirect would let the document's host send the issuer anywhere,
     * and the id would no longer be the document's URL. */
    if (resp->status >= 300 && resp->status < 400) {
        snprintf(problem, size,
                 "the client metadata document URL answered a redirect (HTTP %ld), which is "
                 "not followed",
                 resp->status);
        return;
    }
    if (resp->status != 200) {
        snprintf(problem, size, "the client metadata document URL answered HTTP %ld", resp->status);
        return;
    }
    cimd->fresh_verdict = mcpauth_oauth_cimd_check_document(url, resp->body, resp->body_length,
                                                            &cimd->fresh_doc, NULL, problem, size);
    /* An invalid document is still the client's own: its redirect URIs may
     * carry the error, so it is kept for this answer, never cached. */
    if (cimd->fresh_doc)
        complete(cimd->fresh_doc);
    if (cimd->fresh_verdict != MCPAUTH_OAUTH_CIMD_VALID)
        return;
    int64_t seconds = lifetime(resp);
    if (seconds > 0)
        cache_put(cimd, url, cimd->fresh_doc, now, seconds);
}

static void fetch_free(fetch *f)
{
    for (size_t i = 0; i < sizeof f->strings / sizeof f->strings[0]; i++)
        free(f->strings[i]);
    free(f->body);
    free(f);
}

static void on_fetched(mcpauth_status status, const mcpauth_http_response *resp,
                       const mcpauth_error *err, void *data)
{
    fetch *f = data;
    mcpauth__devissuer_cimd *cimd = f->dev->cimd;
    judge(cimd, f->url, status, resp, err, f->req.now);
    mcpauth_devissuer_response out;
    mcpauth_devissuer_handle(f->dev, &f->req, &out);
    f->cb(&out, f->data);
    mcpauth_devissuer_response_free(&out);
    json_object_put(cimd->fresh_doc);
    cimd->fresh_doc = NULL;
    cimd->fresh_url = NULL;
    fetch_free(f);
}

static char *copy(const char *text, char **slot)
{
    *slot = text ? strdup(text) : NULL;
    return *slot;
}

bool mcpauth__devissuer_cimd_needs_fetch(mcpauth_devissuer *dev, const char *url, int64_t now)
{
    mcpauth_error err = {0};
    return dev->cimd->http && mcpauth_oauth_cimd_is_url(url) &&
           mcpauth_oauth_cimd_check_url(url, true, &err) == MCPAUTH_OK &&
           !cache_find(dev->cimd, url, now);
}

mcpauth_status mcpauth__devissuer_cimd_fetch(mcpauth_devissuer *dev, const char *url,
                                             const mcpauth_devissuer_request *req,
                                             mcpauth_devissuer_answer_cb cb, void *data,
                                             mcpauth_error *err)
{
    mcpauth__devissuer_cimd *cimd = dev->cimd;
    if (mcpauth_http_async_pending(cimd->http) >= MAX_FETCHES)
        return mcpauth_error_set(err, MCPAUTH_EREMOTE,
                                 "too many client metadata documents being fetched");
    fetch *f = calloc(1, sizeof *f);
    if (!f)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    *f = (fetch){.dev = dev, .req = *req, .cb = cb, .data = data};
    snprintf(f->url, sizeof f->url, "%s", url);
    bool ok = copy(req->method, &f->strings[0]) && copy(req->path, &f->strings[1]);
    f->req.method = f->strings[0];
    f->req.path = f->strings[1];
    f->req.query = copy(req->query, &f->strings[2]);
    f->req.authorization = copy(req->authorization, &f->strings[3]);
    f->req.content_type = copy(req->content_type, &f->strings[4]);
    f->req.origin = copy(req->origin, &f->strings[5]);
    ok = ok && (!req->query || f->req.query) && (!req->authorization || f->req.authorization) &&
         (!req->content_type || f->req.content_type) && (!req->origin || f->req.origin);
    if (req->body_length) {
        f->body = malloc(req->body_length);
        if (f->body)
            memcpy(f->body, req->body, req->body_length);
        ok = ok && f->body;
    }
    f->req.body = f->body;
    if (!ok) {
        fetch_free(f);
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    mcpauth_http_request hreq = {.method = "GET", .url = f->url, .accept = "application/json"};
    if (mcpauth_http_async_start(cimd->http, &hreq, on_fetched, f, err) != MCPAUTH_OK) {
        fetch_free(f);
        return err->status;
    }
    return MCPAUTH_OK;
}

int mcpauth_devissuer_start_fetching(mcpauth_devissuer *dev, uv_loop_t *loop, const char *cacert)
{
    mcpauth_http_options opts;
    mcpauth_http_options_init(&opts);
    opts.timeout_seconds = FETCH_SECONDS;
    opts.max_response_bytes = MCPAUTH_OAUTH_CIMD_MAX_DOCUMENT;
    opts.cacert = cacert;
    opts.public_addresses_only = true;
    if (dev->cimd->http)
        return 0;
    return mcpauth_http_async_new(loop, &opts, &dev->cimd->http);
}

void mcpauth_devissuer_stop_fetching(mcpauth_devissuer *dev)
{
    mcpauth_http_async *http = dev->cimd->http;
    if (!http)
        return;
    mcpauth_http_async_close(http, NULL, NULL);
    dev->cimd->http = NULL;
}
