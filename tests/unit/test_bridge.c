/* The bridge between sessions and a stdio child, with `cat` as the child:
 * everything we send comes straight back, so a client request returns as a
 * child request (ids remapped both ways), a client notification as a child
 * notification (routed by progress token or to the standalone stream), and a
 * client's answer as the child's response. Also: timeouts, a child that
 * dies, the conflict on a second GET, resuming after Last-Event-ID, and a
 * shared child's sessions kept apart (progress, cancellation, routing), and a
 * tools/list result filtered for the caller's token (issue 5). */
#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "mcpauth/child_process.h"
#include "src/mcp/mcp_internal.h"
#include "testlib.h"

#define SESSION   "0123456789abcdef0123456789abcdef"
#define SESSION_B "fedcba9876543210fedcba9876543210"

/* A sink that records what it was told. */
typedef struct fake_sink {
    mcpauth_mcp_sink sink;
    int replies;
    int status;
    char body[4096];
    int starts;
    char session_id[64];
    char stream[8192];
    int ends;
    bool refuse_writes; /* as the HTTP layer does for a client that stopped reading */
} fake_sink;

static void sink_reply(const mcpauth_mcp_reply *reply, void *data)
{
    fake_sink *f = data;
    f->replies++;
    f->status = reply->status;
    if (reply->body)
        snprintf(f->body, sizeof f->body, "%.*s", (int)reply->body_length, reply->body);
    if (reply->session_id)
        snprintf(f->session_id, sizeof f->session_id, "%s", reply->session_id);
}

static void sink_start(const char *session_id, void *data)
{
    fake_sink *f = data;
    f->starts++;
    if (session_id)
        snprintf(f->session_id, sizeof f->session_id, "%s", session_id);
}

static int sink_write(const char *bytes, size_t length, void *data)
{
    fake_sink *f = data;
    if (f->refuse_writes)
        return UV_ENOBUFS;
    strncat(f->stream, bytes, length);
    return 0;
}

static void sink_end(void *data)
{
    fake_sink *f = data;
    f->ends++;
}

static void sink_init(fake_sink *f)
{
    memset(f, 0, sizeof *f);
    f->sink = (mcpauth_mcp_sink){.reply = sink_reply,
                                 .stream_start = sink_start,
                                 .stream_write = sink_write,
                                 .stream_end = sink_end,
                                 .data = f};
}

/* --- the bridge on a loop ----------------------------------------------- */

static uv_loop_t loop;
static mcpauth__bridge *bridge;
static int sessions_ended;
static int closed;
static char last_log[1024];
static char logs[16384]; /* every line, for a child that echoes its input on stderr */

static void on_log(const char *level, const char *message, void *data)
{
    (void)level;
    (void)data;
    snprintf(last_log, sizeof last_log, "%s", message);
    size_t used = strlen(logs);
    snprintf(logs + used, sizeof logs - used, "%s\n", message);
}

static void on_session_ended(const char *session_id, void *data)
{
    (void)data;
    ck_assert(strcmp(session_id, SESSION) == 0 || strcmp(session_id, SESSION_B) == 0);
    sessions_ended++;
}

static void on_closed(mcpauth__bridge *b, void *data)
{
    (void)b;
    (void)data;
    closed++;
}

static void start_bridge(const char *script, uint64_t timeout_ms, bool shared)
{
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    sessions_ended = closed = 0;
    last_log[0] = logs[0] = '\0';
    static char *env[] = {"PATH=/usr/bin:/bin", NULL};
    char *args[] = {"sh", "-c", (char *)script, NULL};
    mcpauth_child_options options = {
        .file = "/bin/sh", .args = args, .env = env, .max_line = 65536, .kill_grace_ms = 1000};
    mcpauth__bridge_limits limits = {.shared = shared,
                                     .request_timeout_ms = timeout_ms,
                                     .max_buffered = 65536,
                                     .keepalive_ms = 15000};
    mcpauth__bridge_hooks hooks = {
        .log = on_log, .session_ended = on_session_ended, .closed = on_closed};
    ck_assert_int_eq(mcpauth__bridge_spawn(&loop, &options, &limits, &hooks, &bridge), 0);
    ck_assert(mcpauth__bridge_attach(bridge, SESSION));
    ck_assert(mcpauth__bridge_has(bridge, SESSION));
}

static void start(const char *script, uint64_t timeout_ms)
{
    start_bridge(script, timeout_ms, false);
}

/* One child for SESSION and SESSION_B. */
static void start_shared(const char *script)
{
    start_bridge(script, 0, true);
    ck_assert(mcpauth__bridge_attach(bridge, SESSION_B));
}

/* Runs the loop until *flag is nonzero (or 5 s pass: a failure). */
static void run_until(const int *flag)
{
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (!*flag && uv_hrtime() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_msg(*flag, "timed out waiting");
}

static void finish(void)
{
    mcpauth__bridge_stop(bridge, "test over");
    run_until(&closed);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* Whom a tools/list answer is for: the engine makes the call's filter from
 * these (mcpauth__mcp_filter_new). */
typedef struct tools_view {
    const mcpauth_mcp_tool_policy *policy;
    const mcpauth_token_info *granted;
} tools_view;

static void post_to_view(const char *session, const char *text, const tools_view *view,
                         fake_sink *f)
{
    json_object *message = json_tokener_parse(text);
    ck_assert_ptr_nonnull(message);
    mcpauth__jsonrpc_message msg;
    ck_assert_int_ne(mcpauth__jsonrpc_classify(message, &msg), MCPAUTH__JSONRPC_INVALID);
    bool failed = false;
    mcpauth__mcp_call call = {
        .session_id = session,
        .message = message,
        .msg = &msg,
        .filter = view ? mcpauth__mcp_filter_new(view->policy, view->granted, &failed) : NULL,
        .sink = f ? &f->sink : NULL,
    };
    ck_assert(!failed);
    mcpauth__bridge_post(bridge, &call);
    mcpauth__mcp_filter_free(call.filter);
    json_object_put(message);
}

static void post_to(const char *session, const char *text, fake_sink *f)
{
    post_to_view(session, text, NULL, f);
}

static void post_view(const char *text, const tools_view *view, fake_sink *f)
{
    post_to_view(SESSION, text, view, f);
}

static void post(const char *text, fake_sink *f)
{
    post_to(SESSION, text, f);
}

/* Runs the loop until text contains needle (or 5 s pass: a failure). */
static void run_until_in(const char *text, const char *needle)
{
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (!strstr(text, needle) && uv_hrtime() < deadline)
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert_msg(strstr(text, needle), "timed out waiting for %s", needle);
}

/* The data of the last event in f's stream whose data contains needle. */
static json_object *event_with(const fake_sink *f, const char *needle)
{
    const char *found = NULL;
    for (const char *p = f->stream; (p = strstr(p, "data: ")); p += 6) {
        const char *end = strchr(p, '\n');
        if (end && memmem(p, (size_t)(end - p), needle, strlen(needle)))
            found = p;
    }
    if (!found)
        return NULL;
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(strchr(found, '\n') - found - 6), found + 6);
    return json_tokener_parse(line);
}

static int64_t int_at(json_object *obj, const char *key)
{
    json_object *v = NULL;
    ck_assert(json_object_object_get_ex(obj, key, &v));
    return json_object_get_int64(v);
}

START_TEST(ids_remapped_both_ways)
{
    start("exec cat", 0);
    fake_sink call;
    sink_init(&call);
    post("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"tools/"
         "call\",\"params\":{\"name\":\"t\"}}",
         &call);
    ck_assert_int_eq(call.replies, 0);
    /* cat sends the request back: to the client it is the child's request,
     * on the one request's stream, with an id we minted. */
    run_until(&call.starts);
    json_object *request = NULL;
    while (!(request = event_with(&call, "tools/call")))
        uv_run(&loop, UV_RUN_ONCE);
    ck_assert(strncmp(call.stream, "id: 1-0\ndata: \n\n", 16) == 0); /* priming */
    int64_t minted = int_at(request, "id");
    json_object_put(request);

    /* The client answers it; cat turns that into the child's response to
     * our request 1, which the client gets with its own id "abc". */
    fake_sink answer;
    sink_init(&answer);
    char text[256];
    snprintf(text, sizeof text, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"ok\":true}}",
             (long long)minted);
    post(text, &answer);
    ck_assert_int_eq(answer.status, 202);
    run_until(&call.ends);
    json_object *response = event_with(&call, "\"ok\"");
    ck_assert_ptr_nonnull(response);
    json_object *id = NULL;
    ck_assert(json_object_object_get_ex(response, "id", &id));
    ck_assert_str_eq(json_object_get_string(id), "abc");
    json_object_put(response);
    ck_assert_int_eq(call.replies, 0);
    finish();
    ck_assert_int_eq(sessions_ended, 1);
}
END_TEST

START_TEST(plain_json_when_nothing_precedes)
{
    /* A child that answers every request with {"id":N,"result":{}}: sed
     * keeps the id. */
    start("exec sed -u -e "
          "'s/.*\"id\":\\([0-9]*\\).*/{\"jsonrpc\":\"2.0\",\"id\":\\1,\"result\":{}}/'",
          0);
    fake_sink call;
    sink_init(&call);
    post("{\"jsonrpc\":\"2.0\",\"id\":42,\"method\":\"ping\"}", &call);
    run_until(&call.replies);
    ck_assert_int_eq(call.status, 200);
    ck_assert_int_eq(call.starts, 0);
    ck_assert_str_eq(call.body, "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{}}");
    finish();
}
END_TEST

START_TEST(progress_token_minted_and_restored)
{
    start("exec cat", 0);
    fake_sink a, b;
    sink_init(&a);
    sink_init(&b);
    post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"_meta\":{\"progressToken\":"
         "\"t-a\"}}}",
         &a);
    post("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\",\"params\":{\"_meta\":{\"progressToken\":"
         "7}}}",
         &b);
    /* Two requests in flight: what cat echoes of them relates to neither
     * and is kept for the standalone stream. The child knows b's request
     * as 2 and its progress token as 2 too; progress naming the client's
     * token (7) names nothing the child was given and is dropped, progress
     * naming ours goes to b with the client's token. */
    fake_sink n;
    sink_init(&n);
    post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":"
         "7,\"progress\":1}}",
         &n);
    ck_assert_int_eq(n.status, 202);
    post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":"
         "2,\"progress\":2}}",
         &n);
    run_until(&b.starts);
    json_object *progress = NULL;
    while (!(progress = event_with(&b, "notifications/progress")))
        uv_run(&loop, UV_RUN_ONCE);
    json_object *params = NULL;
    ck_assert(json_object_object_get_ex(progress, "params", &params));
    ck_assert_int_eq(int_at(params, "progressToken"), 7);
    ck_assert_int_eq(int_at(params, "progress"), 2);
    json_object_put(progress);
    ck_assert_int_eq(a.starts, 0);
    ck_assert_ptr_nonnull(strstr(logs, "progress for no request in flight; dropped"));

    /* The standalone stream: what was kept, after a priming event; the
     * requests as the child got them, with our tokens. */
    fake_sink get;
    sink_init(&get);
    mcpauth__bridge_get(bridge, SESSION, NULL, &get.sink);
    ck_assert_int_eq(get.starts, 1);
    ck_assert(strncmp(get.stream, "id: 0-0\ndata: \n\n", 16) == 0);
    ck_assert_ptr_nonnull(strstr(get.stream, "\"method\":\"x\""));
    ck_assert_ptr_nonnull(strstr(get.stream, "{\"progressToken\":1}"));
    ck_assert_ptr_nonnull(strstr(get.stream, "{\"progressToken\":2}"));
    ck_assert_ptr_null(strstr(get.stream, "t-a"));
    ck_assert_ptr_null(strstr(get.stream, "notifications/progress"));
    /* One standalone stream per session. */
    fake_sink second;
    sink_init(&second);
    mcpauth__bridge_get(bridge, SESSION, NULL, &second.sink);
    ck_assert_int_eq(second.status, 409);
    /* The client goes away; a resumption after 0-1 gets 0-2 on, nothing of
     * the POST streams. */
    get.sink.on_abort(&get.sink);
    fake_sink resumed;
    sink_init(&resumed);
    mcpauth__bridge_get(bridge, SESSION, "0-1", &resumed.sink);
    ck_assert_int_eq(resumed.starts, 1);
    ck_assert_ptr_null(strstr(resumed.stream, "id: 0-1\ndata: {"));
    ck_assert_ptr_nonnull(strstr(resumed.stream, "id: 0-2\n"));
    ck_assert_ptr_null(strstr(resumed.stream, "notifications/progress"));
    finish();
    /* The child's end failed both requests: plain JSON for the one whose
     * stream never started, a last event for the other. */
    ck_assert_int_eq(a.replies, 1);
    ck_assert_ptr_nonnull(strstr(a.body, "-32603"));
    ck_assert_int_eq(b.ends, 1);
    ck_assert_ptr_nonnull(strstr(b.stream, "-32603"));
    ck_assert_int_eq(resumed.ends, 1);
}
END_TEST

START_TEST(timeout_fails_and_cancels)
{
    start("exec cat >/dev/null", 100);
    fake_sink call;
    sink_init(&call);
    post("{\"jsonrpc\":\"2.0\",\"id\":\"slow\",\"method\":\"x\"}", &call);
    mcpauth__bridge_tick(bridge, uv_now(&loop) + 50);
    ck_assert_int_eq(call.replies, 0);
    mcpauth__bridge_tick(bridge, uv_now(&loop) + 200);
    ck_assert_int_eq(call.replies, 1);
    ck_assert_int_eq(call.status, 200);
    ck_assert_ptr_nonnull(strstr(call.body, "\"id\":\"slow\""));
    ck_assert_ptr_nonnull(strstr(call.body, "timed out"));
    ck_assert_ptr_nonnull(strstr(last_log, "timed out"));
    finish();
}
END_TEST

START_TEST(child_exit_fails_requests)
{
    start("read -r line; exit 9", 0);
    fake_sink call;
    sink_init(&call);
    post("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"initialize\",\"params\":{}}", &call);
    run_until(&call.replies);
    /* A failed initialize: 502, and no session id. */
    ck_assert_int_eq(call.status, 502);
    ck_assert_ptr_nonnull(strstr(call.body, "exited with status 9"));
    ck_assert_str_eq(call.session_id, "");
    ck_assert_int_eq(sessions_ended, 1);
    ck_assert(!mcpauth__bridge_has(bridge, SESSION));
    ck_assert(!mcpauth__bridge_usable(bridge));
    run_until(&closed);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(garbage_skipped_and_logged)
{
    start("echo 'not json'; echo '[1,2]'; exec cat", 0);
    fake_sink call;
    sink_init(&call);
    post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}", &call);
    run_until(&call.starts);
    ck_assert_ptr_nonnull(strstr(last_log, "not JSON-RPC"));
    finish();
}
END_TEST

START_TEST(keepalive_and_refused_writes)
{
    start("exec cat >/dev/null", 0);
    fake_sink get;
    sink_init(&get);
    mcpauth__bridge_get(bridge, SESSION, NULL, &get.sink);
    ck_assert_int_eq(get.starts, 1);
    mcpauth__bridge_tick(bridge, uv_now(&loop) + 1000);
    ck_assert_ptr_null(strstr(get.stream, ": keepalive"));
    mcpauth__bridge_tick(bridge, uv_now(&loop) + 15000);
    ck_assert_ptr_nonnull(strstr(get.stream, ": keepalive\n\n"));
    /* The client stops reading: the next write is refused and the stream
     * ends from our side, so another GET may take over. */
    get.refuse_writes = true;
    ck_assert_int_eq(get.ends, 0);
    mcpauth__bridge_tick(bridge, uv_now(&loop) + 60000);
    ck_assert_int_eq(get.ends, 1);
    fake_sink again;
    sink_init(&again);
    mcpauth__bridge_get(bridge, SESSION, NULL, &again.sink);
    ck_assert_int_eq(again.starts, 1);
    ck_assert_int_eq(again.status, 0);
    finish();
    ck_assert_int_eq(again.ends, 1);
}
END_TEST

START_TEST(initialize_timeout_ends_session)
{
    start("exec cat >/dev/null", 100);
    fake_sink call;
    sink_init(&call);
    post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}", &call);
    mcpauth__bridge_tick(bridge, uv_now(&loop) + 200);
    ck_assert_int_eq(call.status, 502);
    ck_assert_ptr_nonnull(strstr(call.body, "timed out"));
    ck_assert_int_eq(sessions_ended, 1);
    ck_assert(!mcpauth__bridge_has(bridge, SESSION));
    /* Its child is stopped: nothing else holds the loop. */
    run_until(&closed);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* --- a shared child ------------------------------------------------------ */

START_TEST(shared_progress_goes_to_its_session)
{
    start_shared("exec cat");
    fake_sink a, b, n;
    sink_init(&a);
    sink_init(&b);
    sink_init(&n);
    /* Both clients' first call, both with token 1 (as the SDK does). */
    post_to(SESSION,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"_meta\":{"
            "\"progressToken\":1}}}",
            &a);
    post_to(SESSION_B,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"_meta\":{"
            "\"progressToken\":1}}}",
            &b);
    /* The child's progress for its request 2, B's. */
    post_to(SESSION,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{"
            "\"progressToken\":2,\"progress\":1}}",
            &n);
    /* cat echoes both requests as the child's: two requests in flight, so
     * no telling which client to ask; the refusal comes back as the answer
     * to each. */
    run_until(&a.replies);
    run_until(&b.ends);
    ck_assert_int_eq(a.starts, 0);
    ck_assert_ptr_nonnull(strstr(a.body, "-32603"));
    ck_assert_ptr_nonnull(strstr(a.body, "cannot tell which client to ask"));
    ck_assert_ptr_null(strstr(a.body, "relates to no request"));
    json_object *progress = event_with(&b, "notifications/progress");
    ck_assert_ptr_nonnull(progress);
    json_object *params = NULL;
    ck_assert(json_object_object_get_ex(progress, "params", &params));
    ck_assert_int_eq(int_at(params, "progressToken"), 1);
    json_object_put(progress);
    ck_assert_ptr_nonnull(strstr(b.stream, "cannot tell which client to ask"));
    ck_assert_ptr_null(strstr(b.stream, "\"method\":\"x\""));
    finish();
    ck_assert_int_eq(sessions_ended, 2);
}
END_TEST

START_TEST(shared_foreign_cancellation_dropped)
{
    /* The child says on stderr (so in the log) every line it gets. */
    start_shared("while IFS= read -r line; do printf '%s\\n' \"$line\" >&2; done");
    fake_sink a, b, n;
    sink_init(&a);
    sink_init(&b);
    sink_init(&n);
    post_to(SESSION_B, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}", &b);
    post_to(SESSION, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\"}", &a);
    /* A's request is 2 at the child: B names it so, then its own "a"; A
     * cancels its own. Only A's reaches the child, as 2. */
    post_to(SESSION_B,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
            "\"requestId\":2,\"reason\":\"not yours\"}}",
            &n);
    ck_assert_int_eq(n.status, 202);
    ck_assert_ptr_nonnull(strstr(last_log, "naming no request of its session in flight; dropped"));
    ck_assert_ptr_null(strstr(last_log, SESSION_B));
    post_to(SESSION_B,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
            "\"requestId\":\"a\",\"reason\":\"not yours either\"}}",
            &n);
    post_to(SESSION,
            "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
            "\"requestId\":\"a\",\"reason\":\"mine\"}}",
            &n);
    run_until_in(logs, "\"reason\":\"mine\"");
    ck_assert_ptr_nonnull(strstr(logs, "{\"requestId\":2,\"reason\":\"mine\"}"));
    ck_assert_ptr_null(strstr(logs, "not yours"));
    ck_assert_int_eq(a.replies + a.starts + b.replies + b.starts, 0);
    finish();
}
END_TEST

START_TEST(shared_news_to_every_session)
{
    start_shared("exec cat");
    fake_sink get_a, get_b, call, n;
    sink_init(&get_a);
    sink_init(&get_b);
    sink_init(&call);
    sink_init(&n);
    mcpauth__bridge_get(bridge, SESSION, NULL, &get_a.sink);
    /* A's call is the one request in flight: cat's echo of it is the
     * child's request, unambiguously A's, on A's call. B's notification
     * echoed is the child's news: every session's, not A's call's. */
    post_to(SESSION, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}", &call);
    post_to(SESSION_B, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}", &n);
    run_until_in(get_a.stream, "list_changed");
    ck_assert_ptr_nonnull(strstr(call.stream, "\"method\":\"x\""));
    ck_assert_ptr_null(strstr(call.stream, "list_changed"));
    ck_assert_ptr_null(strstr(get_a.stream, "\"method\":\"x\""));
    /* B had no stream open: it was kept for B's next GET. */
    mcpauth__bridge_get(bridge, SESSION_B, NULL, &get_b.sink);
    ck_assert_ptr_nonnull(strstr(get_b.stream, "notifications/tools/list_changed"));
    finish();
}
END_TEST

START_TEST(shared_request_with_none_in_flight_refused)
{
    start_shared("printf '%s\\n' '{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"roots/list\"}';"
                 "while IFS= read -r line; do printf '%s\\n' \"$line\" >&2; done");
    run_until_in(logs, "\"id\":\"s\",\"error\"");
    ck_assert_ptr_nonnull(strstr(logs, "-32603"));
    ck_assert_ptr_nonnull(strstr(logs, "no client to ask: the shared backend has no request"));
    fake_sink get;
    sink_init(&get);
    mcpauth__bridge_get(bridge, SESSION, NULL, &get.sink);
    ck_assert_ptr_null(strstr(get.stream, "roots/list"));
    finish();
}
END_TEST

/* --- tools/list through the policy (issue 5) ---------------------------- */

/* A child answering every request with the same tools/list result, whatever
 * it was asked: three tools and an entry without a name. */
#define LISTING_CHILD                                                                              \
    "exec sed -u -e "                                                                              \
    "'s/.*\"id\":\\([0-9]*\\).*/{\"jsonrpc\":\"2.0\",\"id\":\\1,\"result\":{\"tools\":["           \
    "{\"name\":\"echo\"},{\"name\":\"admin_wipe\"},{\"name\":\"pid\"},7]}}/'"

static mcpauth_mcp_tool_policy *admin_policy(void)
{
    mcpauth_mcp_tool_policy *policy = mcpauth_mcp_tool_policy_new();
    mcpauth_error err;
    ck_assert_ptr_nonnull(policy);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "admin_*=mcp:admin", &err),
                     MCPAUTH_OK);
    ck_assert_int_eq(mcpauth_mcp_tool_policy_add_text(policy, "pid=mcp:pid", &err), MCPAUTH_OK);
    return policy;
}

START_TEST(tools_list_filtered_per_request)
{
    start(LISTING_CHILD, 0);
    mcpauth_mcp_tool_policy *policy = admin_policy();
    char *plain_scopes[] = {"mcp"};
    char *admin_scopes[] = {"mcp", "mcp:admin"};
    mcpauth_token_info plain = {.active = true, .scopes = plain_scopes, .scope_count = 1};
    mcpauth_token_info admin = {.active = true, .scopes = admin_scopes, .scope_count = 2};

    /* The view is copied: the caller's token may be gone when the answer
     * comes. */
    fake_sink a;
    sink_init(&a);
    tools_view view = {.policy = policy, .granted = &plain};
    post_view("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", &view, &a);
    view.granted = NULL;
    run_until(&a.replies);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(a.body,
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"echo\"}]}}");

    fake_sink b;
    sink_init(&b);
    view.granted = &admin;
    post_view("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", &view, &b);
    run_until(&b.replies);
    ck_assert_str_eq(b.body, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":"
                             "\"echo\"},{\"name\":\"admin_wipe\"}]}}");

    /* No view: the child's answer as it is. */
    fake_sink c;
    sink_init(&c);
    post("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", &c);
    run_until(&c.replies);
    ck_assert_ptr_nonnull(strstr(c.body, "\"pid\""));
    ck_assert_ptr_nonnull(strstr(c.body, ",7]"));

    /* A view without a token holds no scope. */
    fake_sink d;
    sink_init(&d);
    view.granted = NULL;
    post_view("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}", &view, &d);
    run_until(&d.replies);
    ck_assert_ptr_nonnull(strstr(d.body, "\"tools\":[{\"name\":\"echo\"}]"));
    finish();
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(tools_list_filtered_on_a_stream)
{
    /* A notification first makes the answer a stream: the filtered result
     * is what the stream and the replay buffer get. */
    start("exec sed -u -e "
          "'s/.*\"id\":\\([0-9]*\\).*/"
          "{\"jsonrpc\":\"2.0\",\"method\":\"notifications\\/message\",\"params\":{}}\\n"
          "{\"jsonrpc\":\"2.0\",\"id\":\\1,\"result\":{\"tools\":["
          "{\"name\":\"echo\"},{\"name\":\"admin_wipe\"}]}}/'",
          0);
    mcpauth_mcp_tool_policy *policy = admin_policy();
    char *scopes[] = {"mcp"};
    mcpauth_token_info plain = {.active = true, .scopes = scopes, .scope_count = 1};
    tools_view view = {.policy = policy, .granted = &plain};
    fake_sink call;
    sink_init(&call);
    post_view("{\"jsonrpc\":\"2.0\",\"id\":\"l\",\"method\":\"tools/list\"}", &view, &call);
    run_until(&call.ends);
    ck_assert_int_eq(call.replies, 0);
    ck_assert_ptr_nonnull(strstr(call.stream, "notifications/message"));
    ck_assert_ptr_nonnull(strstr(call.stream, "\"tools\":[{\"name\":\"echo\"}]"));
    ck_assert_ptr_null(strstr(call.stream, "admin_wipe"));

    /* Resumed from the priming event: the replay holds the filtered list. */
    fake_sink again;
    sink_init(&again);
    mcpauth__bridge_get(bridge, SESSION, "1-0", &again.sink);
    ck_assert_int_eq(again.ends, 1);
    ck_assert_ptr_nonnull(strstr(again.stream, "\"tools\":[{\"name\":\"echo\"}]"));
    ck_assert_ptr_null(strstr(again.stream, "admin_wipe"));
    finish();
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

START_TEST(tools_list_malformed_is_an_error)
{
    /* tools is not an array: it cannot be filtered, so it is not shown. */
    start("exec sed -u -e "
          "'s/.*\"id\":\\([0-9]*\\).*/{\"jsonrpc\":\"2.0\",\"id\":\\1,\"result\":{\"tools\":"
          "{\"name\":\"admin_wipe\"}}}/'",
          0);
    mcpauth_mcp_tool_policy *policy = admin_policy();
    tools_view view = {.policy = policy, .granted = NULL};
    fake_sink call;
    sink_init(&call);
    post_view("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}", &view, &call);
    run_until(&call.replies);
    ck_assert_int_eq(call.status, 200);
    ck_assert_ptr_nonnull(strstr(call.body, "-32603"));
    ck_assert_ptr_nonnull(strstr(call.body, "\"id\":5"));
    ck_assert_ptr_null(strstr(call.body, "admin_wipe"));
    ck_assert_ptr_nonnull(strstr(last_log, "tools/list result"));
    finish();
    mcpauth_mcp_tool_policy_free(policy);
}
END_TEST

static Suite *bridge_suite(void)
{
    Suite *s = suite_create("bridge");
    TCase *tc = tcase_create("bridge");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ids_remapped_both_ways);
    tcase_add_test(tc, plain_json_when_nothing_precedes);
    tcase_add_test(tc, progress_token_minted_and_restored);
    tcase_add_test(tc, timeout_fails_and_cancels);
    tcase_add_test(tc, child_exit_fails_requests);
    tcase_add_test(tc, garbage_skipped_and_logged);
    tcase_add_test(tc, keepalive_and_refused_writes);
    tcase_add_test(tc, initialize_timeout_ends_session);
    tcase_add_test(tc, shared_progress_goes_to_its_session);
    tcase_add_test(tc, shared_foreign_cancellation_dropped);
    tcase_add_test(tc, shared_news_to_every_session);
    tcase_add_test(tc, shared_request_with_none_in_flight_refused);
    tcase_add_test(tc, tools_list_filtered_per_request);
    tcase_add_test(tc, tools_list_filtered_on_a_stream);
    tcase_add_test(tc, tools_list_malformed_is_an_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return testlib_run(bridge_suite());
}
