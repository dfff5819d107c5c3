/* Outbound HTTP on a libuv loop: libcurl's multi-socket API driven by the
 * loop's poll and timer handles, so introspection and metadata requests
 * never block the server. The same safety rules as the blocking client
 * (mcpauth_http_options: TLS verification, loopback-only plain http, size
 * cap, timeouts); redirects are not followed.
 *
 * All calls on the loop's thread. */
#ifndef MCPAUTH_HTTP_ASYNC_H
#define MCPAUTH_HTTP_ASYNC_H

#include <uv.h>

#include "mcpauth/error.h"
#include "mcpauth/http_client.h"

typedef struct mcpauth_http_async mcpauth_http_async;

/* Called once per request on the loop: status MCPAUTH_OK with resp set (any
 * HTTP status), or an error with err set and resp NULL. Both are borrowed
 * for the duration of the call. */
typedef void (*mcpauth_http_async_cb)(mcpauth_status status, const mcpauth_http_response *resp,
                                      const mcpauth_error *err, void *data);

typedef void (*mcpauth_http_async_closed_cb)(void *data);

/* Creates a client on loop using opts (copied; opts->cacert must outlive the
 * client). Returns 0 or a negative libuv error code. */
int mcpauth_http_async_new(uv_loop_t *loop, const mcpauth_http_options *opts,
                           mcpauth_http_async **out);

/* Starts req (its strings are copied). cb is called exactly once, never
 * from inside this call. Returns MCPAUTH_OK or an error (URL refused by
 * policy, out of memory) with err set, in which case cb is not called. */
mcpauth_status mcpauth_http_async_start(mcpauth_http_async *client, const mcpauth_http_request *req,
                                        mcpauth_http_async_cb cb, void *data, mcpauth_error *err);

/* A streamed response's body, chunk by chunk as it arrives, with the
 * response's status and headers (all received by then; borrowed for the
 * call). It runs inside libcurl: it must not start requests on the client
 * or close it. false aborts the transfer: cb then gets an error. */
typedef bool (*mcpauth_http_async_data_cb)(long status, const mcpauth_http_header *headers,
                                           size_t header_count, const char *bytes, size_t length,
                                           void *data);

/* As mcpauth_http_async_start, but the body goes to data_cb as it arrives
 * instead of being collected (no size cap: data_cb bounds what it keeps),
 * so that a Server-Sent Events stream is relayed while it lasts; cb then
 * gets the status and headers with an empty body. timeout_seconds caps the
 * whole exchange (0: none, for a stream that may stay open for hours);
 * connecting is capped by the client's options. */
mcpauth_status mcpauth_http_async_stream(mcpauth_http_async *client,
                                         const mcpauth_http_request *req, long timeout_seconds,
                                         mcpauth_http_async_data_cb data_cb,
                                         mcpauth_http_async_cb cb, void *data, mcpauth_error *err);

/* Cancels the request in flight started with data (as cb's data): its cb
 * is called now with MCPAUTH_ENETWORK "request cancelled" and the
 * connection is dropped, which the server sees. Nothing when there is no
 * such request. Not from inside a data_cb. */
void mcpauth_http_async_cancel(mcpauth_http_async *client, void *data);

/* Requests in flight. */
size_t mcpauth_http_async_pending(const mcpauth_http_async *client);

/* Cancels every request in flight (their callbacks run with
 * MCPAUTH_ENETWORK "cancelled") and frees the client once its handles are
 * closed; closed_cb may be NULL. */
void mcpauth_http_async_close(mcpauth_http_async *client, mcpauth_http_async_closed_cb closed_cb,
                              void *data);

#endif
