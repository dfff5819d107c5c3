/* The Redis tier of token validation (mcpauth/redis_cache.h).
 *
 * Keys, per resource R (the first 16 hex digits of SHA-256(R)) and token T
 * (SHA-256(T) in hex):
 *   mcpauth:R:t:T  the result, JSON, with an expiry (SET ... EX)
 *   mcpauth:R:l:T  the lock of the instance validating T: a random nonce,
 *                  expiring after lock_ms (SET ... NX PX), deleted with a
 *                  compare-and-delete script by its holder once stored
 *
 * One connection; commands pipeline on it. hiredis has no timeout of its
 * own for an answer, so a tick checks the oldest command sent: one older
 * than timeout_ms means Redis is stuck, and the connection is dropped
 * (redisAsyncFree answers every pending command with no reply, which each
 * operation turns into DOWN) and made again after a backoff. */
#include "mcpauth/redis_cache.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <limits.h>
#include <netdb.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "mcpauth/json.h"
#include "mcpauth/url.h"

#define TICK_MS            20
#define POLL_MS            20
#define CONNECT_TIMEOUT_MS 1000
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define MAX_VALUE_BYTES    (64 * 1024)
#define NAMESPACE_HEX      16
#define KEY_SIZE           (sizeof "mcpauth:" + NAMESPACE_HEX + sizeof ":t:" + 64)
#define NONCE_HEX          32

typedef enum op_state {
    OP_SENT,    /* a command of it is out */
    OP_WAITING, /* another instance holds the lock: polls again at next_poll */
} op_state;

/* One find() until it is answered. */
typedef struct op {
    mcpauth_redis_cache *cache;
    struct op *next;
    mcpauth_redis_cache_cb cb;
    void *data;
    op_state state;
    uint64_t sent_at;   /* uv_now of the command out (OP_SENT) */
    uint64_t next_poll; /* OP_WAITING */
    uint64_t give_up;   /* uv_now after which waiting ends in MISS */
    bool counted_wait;
    char result_key[KEY_SIZE];
    char lock_key[KEY_SIZE];
} op;

struct mcpauth_redis_cache {
    uv_loop_t *loop;
    mcpauth_redis_cache_config config;
    char display[160]; /* the URL, for log lines */
    /* Where to connect: a resolved address, or a unix socket. */
    char host[INET6_ADDRSTRLEN];
    int port;
    char *unix_path;
    int db;
    char namespace[NAMESPACE_HEX + 1];
    char nonce[NONCE_HEX + 1]; /* this process's lock value */
    redisAsyncContext *ac;     /* NULL while disconnected */
    bool connected;            /* ac's connection is up */
    uint64_t connect_started;  /* uv_now of connect_now() */
    bool was_up;               /* for the log: a transition is logged once */
    bool warned;
    uint64_t backoff_ms;
    uint64_t reconnect_at; /* uv_now; 0: no reconnect pending */
    uv_timer_t tick;
    bool closing;
    op *ops;
    unsigned in_flight; /* commands sent and not answered yet */
    /* uv_now when the oldest of them was sent, or the last answer came:
     * Redis answers in order, so no answer for timeout_ms while commands
     * wait means it is stuck. */
    uint64_t oldest_sent;
    mcpauth_redis_cache_stats stats;
};

static void say(mcpauth_redis_cache *c, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(mcpauth_redis_cache *c, const char *level, const char *fmt, ...)
{
    if (!c->config.log)
        return;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    c->config.log(level, message, c->config.log_data);
}

void mcpauth_redis_cache_config_init(mcpauth_redis_cache_config *config)
{
    memset(config, 0, sizeof *config);
    config->timeout_ms = 250;
    config->lock_ms = 5000;
    config->ttl_seconds = 300;
    config->negative_ttl_seconds = 10;
}

/* ---- the URL ---- */

typedef struct parsed_url {
    char *host; /* redis:// */
    int port;
    char *unix_path; /* unix: */
    int db;
} parsed_url;

static mcpauth_status parse_db(const char *text, int *out, mcpauth_error *err)
{
    char *end;
    long db = strtol(text, &end, 10);
    if (*text < '0' || *text > '9' || *end || db > 9999)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "the database must be a number from 0 to 9999");
    *out = (int)db;
    return MCPAUTH_OK;
}

static mcpauth_status parse_url(const char *url, parsed_url *out, mcpauth_error *err)
{
    memset(out, 0, sizeof *out);
    if (!url || strlen(url) > 1024)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "no URL, or one over 1024 bytes");
    if (strncmp(url, "unix:", 5) == 0) {
        const char *path = url + 5;
        const char *query = strchr(path, '?');
        size_t length = query ? (size_t)(query - path) : strlen(path);
        if (length == 0 || path[0] != '/')
            return mcpauth_error_set(err, MCPAUTH_EUSAGE, "unix: needs an absolute socket path");
        if (query) {
            if (strncmp(query, "?db=", 4) != 0)
                return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                         "unix:PATH takes only ?db=N after the path");
            if (parse_db(query + 4, &out->db, err) != MCPAUTH_OK)
                return MCPAUTH_EUSAGE;
        }
        out->unix_path = strndup(path, length);
        return out->unix_path ? MCPAUTH_OK
                              : mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
    }
    if (strncmp(url, "redis://", 8) != 0)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE,
                                 "use redis://HOST[:PORT][/DB] or unix:PATH[?db=DB]");
    const char *authority = url + 8;
    size_t length = strcspn(authority, "/");
    if (memchr(authority, '@', length))
        return mcpauth_error_set(
            err, MCPAUTH_EUSAGE,
            "no password in the URL (it would show in the process list): "
            "use --shared-cache-password-file or MCPAUTH_SHARED_CACHE_PASSWORD");
    char text[300];
    if (length == 0 || length >= sizeof text)
        return mcpauth_error_set(err, MCPAUTH_EUSAGE, "no host");
    memcpy(text, authority, length);
    text[length] = '\0';
    mcpauth_url parsed;
    if (mcpauth_url_parse_authority(text, &parsed, err) != MCPAUTH_OK)
        return MCPAUTH_EUSAGE;
    out->host = parsed.host;
    parsed.host = NULL;
    out->port = parsed.port ? parsed.port : 6379;
    mcpauth_url_free(&parsed);
    const char *rest = authority + length;
    if (*rest == '/' && rest[1] && parse_db(rest + 1, &out->db, err) != MCPAUTH_OK) {
        free(out->host);
        out->host = NULL;
        return MCPAUTH_EUSAGE;
    }
    return MCPAUTH_OK;
}

mcpauth_status mcpauth_redis_cache_check_url(const char *url, mcpauth_error *err)
{
    parsed_url parsed;
    mcpauth_status status = parse_url(url, &parsed, err);
    free(parsed.host);
    free(parsed.unix_path);
    return status;
}

/* Resolved once at start: hiredis would call getaddrinfo() on the loop on
 * every reconnect. */
static mcpauth_status resolve(mcpauth_redis_cache *c, const char *host, mcpauth_error *err)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0 || !found)
        return mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot resolve %s: %s", host,
                                 gai_strerror(rc));
    const void *address = found->ai_family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)found->ai_addr)->sin6_addr
                              : (const void *)&((struct sockaddr_in *)found->ai_addr)->sin_addr;
    bool ok = inet_ntop(found->ai_family, address, c->host, sizeof c->host) != NULL;
    freeaddrinfo(found);
    return ok ? MCPAUTH_OK : mcpauth_error_set(err, MCPAUTH_ELOCAL, "cannot resolve %s", host);
}

/* ---- keys and values ---- */

static void hex(const uint8_t *bytes, size_t count, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < count; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * count] = '\0';
}

static void make_key(const mcpauth_redis_cache *c, const mcpauth_token_key *key, char kind,
                     char out[KEY_SIZE])
{
    char token[2 * MCPAUTH_TOKEN_KEY_SIZE + 1];
    hex(key->bytes, sizeof key->bytes, token);
    snprintf(out, KEY_SIZE, "mcpauth:%s:%c:%s", c->namespace, kind, token);
}

/* validated_by is a static string in the entry: map what was stored back
 * onto ours, so that nothing from Redis is trusted as a pointer or a format. */
static const char *known_method(const char *text)
{
    static const char *const methods[] = {"jwt", "introspection", "jwt+introspection"};
    for (size_t i = 0; text && i < sizeof methods / sizeof methods[0]; i++) {
        if (strcmp(text, methods[i]) == 0)
            return methods[i];
    }
    return "shared cache";
}

static char *encode(const mcpauth_token_cache_entry *entry)
{
    json_object *obj = json_object_new_object();
    bool ok =
        obj && json_object_object_add(obj, "valid", json_object_new_boolean(entry->valid)) == 0 &&
        json_object_object_add(
            obj, "by", json_object_new_string(entry->validated_by ? entry->validated_by : "")) == 0;
    if (ok && entry->valid) {
        json_object *info = mcpauth_token_info_to_json(&entry->info);
        ok = info && json_object_object_add(obj, "info", info) == 0;
        if (!ok)
            json_object_put(info);
    } else if (ok) {
        ok = json_object_object_add(obj, "reason", json_object_new_string(entry->reason)) == 0;
    }
    char *text = ok ? strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN)) : NULL;
    json_object_put(obj);
    return text;
}

/* What another instance stored, checked like any input: false when it is
 * not an entry (then it is ignored, as if absent). */
static bool decode(const char *text, size_t length, mcpauth_token_cache_entry *out)
{
    memset(out, 0, sizeof *out);
    if (length > MAX_VALUE_BYTES)
        return false;
    mcpauth_error err = {0};
    json_object *obj = mcpauth_json_parse_object(text, length, "shared cache entry", &err);
    if (!obj)
        return false;
    json_object *valid = NULL, *info = NULL;
    bool ok = json_object_object_get_ex(obj, "valid", &valid) &&
              json_object_is_type(valid, json_type_boolean);
    out->validated_by = known_method(mcpauth_json_string(obj, "by"));
    if (ok && json_object_get_boolean(valid)) {
        out->valid = true;
        ok = json_object_object_get_ex(obj, "info", &info) &&
             mcpauth_token_info_from_json(info, &out->info, &err) == MCPAUTH_OK && out->info.active;
        if (!ok)
            mcpauth_token_info_free(&out->info);
    } else if (ok) {
        const char *reason = mcpauth_json_string(obj, "reason");
        snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "rejected");
    }
    json_object_put(obj);
    return ok;
}

/* Seconds a result lives: the local cache's rule (mcpauth/token_cache.h),
 * so that Redis never serves what the local cache would not. 0: not
 * stored. */
static int64_t lifetime(const mcpauth_redis_cache *c, const mcpauth_token_cache_entry *entry,
                        int64_t now)
{
    if (!entry->valid)
        return c->config.negative_ttl_seconds > 0 ? c->config.negative_ttl_seconds : 0;
    int64_t ttl = c->config.ttl_seconds;
    if (ttl <= 0)
        return 0;
    if (entry->info.expires_at != 0) {
        if (entry->info.expires_at <= now)
            return 0;
        if (entry->info.expires_at - now < ttl)
            ttl = entry->info.expires_at - now;
    }
    return ttl;
}

/* ---- hiredis on the loop ----
 *
 * Our own glue rather than hiredis' adapters/libuv.h: that one drops a
 * poll error on the floor, so a refused connection is never reported and
 * the context waits for ever. Here an error is handed to hiredis as an
 * event, and hiredis' own socket check then finds the error. */

typedef struct uv_events {
    redisAsyncContext *ac; /* NULL once hiredis let go of it */
    uv_poll_t poll;
    int events;
} uv_events;

static void on_poll(uv_poll_t *handle, int status, int events)
{
    uv_events *e = handle->data;
    if (status < 0)
        events = e->events; /* let hiredis find the error itself */
    if (e->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
    if (e->ac && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
}

static void set_events(uv_events *e, int events)
{
    e->events = events;
    if (events)
        uv_poll_start(&e->poll, events, on_poll);
    else
        uv_poll_stop(&e->poll);
}

static void add_read(void *privdata)
{
    uv_events *e = privdata;
    set_events(e, e->events | UV_READABLE);
}

static void del_read(void *privdata)
{
    uv_events *e = privdata;
    set_events(e, e->events & ~UV_READABLE);
}

static void add_write(void *privdata)
{
    uv_events *e = privdata;
    set_events(e, e->events | UV_WRITABLE);
}

static void del_write(void *privdata)
{
    uv_events *e = privdata;
    set_events(e, e->events & ~UV_WRITABLE);
}

static void on_poll_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* hiredis frees the context: the poll handle goes too, once closed. */
static void cleanup(void *privdata)
{
    uv_events *e = privdata;
    e->ac = NULL;
    uv_close((uv_handle_t *)&e->poll, on_poll_closed);
}

static bool attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    uv_events *e = calloc(1, sizeof *e);
    if (!e)
        return false;
    if (uv_poll_init(loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        return false;
    }
    e->ac = ac;
    e->poll.data = e;
    ac->ev.data = e;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return true;
}

/* ---- the connection ---- */

static void connect_now(mcpauth_redis_cache *c);
static void answer(op *o, mcpauth_redis_status status, const mcpauth_token_cache_entry *entry);

/* The connection came or went: the owner hears it at once (not while we
 * are being freed). */
static void tell_state(mcpauth_redis_cache *c)
{
    if (c->config.on_state && !c->closing)
        c->config.on_state(c->stats.up, c->config.state_data);
}

/* Redis went away (or never came): answer what waits DOWN, try again later. */
static void lost(mcpauth_redis_cache *c, const char *why)
{
    bool was_connected = c->connected;
    c->connected = false;
    c->stats.up = false;
    c->stats.errors++;
    if (c->was_up || !c->warned) {
        say(c, "warning", "shared cache %s: %s; validating locally until it is back", c->display,
            why);
        c->warned = true;
    }
    c->was_up = false;
    if (!c->closing) {
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (c->backoff_ms > BACKOFF_MAX_MS)
            c->backoff_ms = BACKOFF_MAX_MS;
        c->reconnect_at = uv_now(c->loop) + c->backoff_ms;
    }
    if (was_connected)
        tell_state(c);
    /* Operations between polls answer now; those with a command out are
     * answered by hiredis freeing the context. */
    for (op **p = &c->ops; *p;) {
        op *o = *p;
        if (o->state == OP_WAITING) {
            *p = o->next;
            o->next = NULL;
            answer(o, MCPAUTH_REDIS_DOWN, NULL);
        } else {
            p = &o->next;
        }
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    mcpauth_redis_cache *c = ac->data;
    if (!c || ac != c->ac)
        return;
    if (status != REDIS_OK) {
        c->ac = NULL; /* hiredis frees it after this returns */
        lost(c, ac->errstr[0] ? ac->errstr : "cannot connect");
        return;
    }
    c->connected = true;
    c->stats.up = true;
    c->backoff_ms = 0;
    if (!c->was_up && c->warned)
        say(c, "info", "shared cache %s is back", c->display);
    c->was_up = true;
    tell_state(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    mcpauth_redis_cache *c = ac->data;
    if (!c || ac != c->ac)
        return; /* one we dropped ourselves */
    c->ac = NULL;
    lost(c, status == REDIS_OK ? "connection closed"
            : ac->errstr[0]    ? ac->errstr
                               : "connection lost");
}

/* AUTH or SELECT answered: an error there makes the connection useless. */
static void on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    mcpauth_redis_cache *c = privdata;
    redisReply *reply = r;
    if (!reply || ac != c->ac || reply->type != REDIS_REPLY_ERROR)
        return;
    char why[200];
    snprintf(why, sizeof why, "%s refused: %.120s",
             c->config.password && reply->str && strstr(reply->str, "AUTH") ? "AUTH" : "setup",
             reply->str ? reply->str : "");
    redisAsyncContext *dropped = c->ac;
    c->ac = NULL;
    lost(c, why);
    redisAsyncDisconnect(dropped);
}

static void connect_now(mcpauth_redis_cache *c)
{
    c->reconnect_at = 0;
    redisAsyncContext *ac =
        c->unix_path ? redisAsyncConnectUnix(c->unix_path) : redisAsyncConnect(c->host, c->port);
    if (!ac || ac->err) {
        char why[200];
        snprintf(why, sizeof why, "%s", ac && ac->errstr[0] ? ac->errstr : "cannot connect");
        if (ac)
            redisAsyncFree(ac);
        lost(c, why);
        return;
    }
    ac->data = c;
    if (!attach(ac, c->loop)) {
        redisAsyncFree(ac);
        lost(c, "cannot watch the connection");
        return;
    }
    c->ac = ac;
    c->connect_started = uv_now(c->loop);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Sent first, in order, before anything else on this connection. */
    if (c->config.password)
        redisAsyncCommand(ac, on_setup_reply, c, "AUTH %s", c->config.password);
    if (c->db)
        redisAsyncCommand(ac, on_setup_reply, c, "SELECT %d", c->db);
}

/* Drops a stuck connection: every command out is answered with no reply. */
static void drop(mcpauth_redis_cache *c, const char *why)
{
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    lost(c, why);
    if (ac)
        redisAsyncFree(ac);
    c->in_flight = 0;
}

/* ---- operations ---- */

static void answer(op *o, mcpauth_redis_status status, const mcpauth_token_cache_entry *entry)
{
    mcpauth_redis_cache *c = o->cache;
    switch (status) {
    case MCPAUTH_REDIS_HIT:
        c->stats.hits++;
        break;
    case MCPAUTH_REDIS_CLAIMED:
    case MCPAUTH_REDIS_MISS:
        c->stats.misses++;
        break;
    case MCPAUTH_REDIS_DOWN:
        break;
    }
    o->cb(status, entry, o->data);
    free(o);
}

static void unlink_op(op *o)
{
    for (op **p = &o->cache->ops; *p; p = &(*p)->next) {
        if (*p == o) {
            *p = o->next;
            break;
        }
    }
}

static bool send_command(op *o, redisCallbackFn *fn, const char *fmt, ...)
{
    mcpauth_redis_cache *c = o->cache;
    if (!c->ac || !c->connected)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(c->ac, fn, o, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK)
        return false;
    if (c->in_flight++ == 0)
        c->oldest_sent = uv_now(c->loop);
    o->state = OP_SENT;
    o->sent_at = uv_now(c->loop);
    return true;
}

/* A reply came (or none: the connection is gone). The op is still on the
 * list; take it off before answering. */
static bool reply_arrived(op *o, redisReply *reply)
{
    mcpauth_redis_cache *c = o->cache;
    if (c->in_flight > 0 && --c->in_flight > 0)
        c->oldest_sent = uv_now(c->loop);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        unlink_op(o);
        if (reply)
            c->stats.errors++;
        answer(o, MCPAUTH_REDIS_DOWN, NULL);
        return false;
    }
    return true;
}

static void on_claim(redisAsyncContext *ac, void *r, void *privdata);

/* The result's value, when the reply holds a usable one. */
static bool answer_if_stored(op *o, const redisReply *value)
{
    mcpauth_token_cache_entry entry;
    if (!value || value->type != REDIS_REPLY_STRING || !decode(value->str, value->len, &entry))
        return false;
    unlink_op(o);
    answer(o, MCPAUTH_REDIS_HIT, &entry);
    if (entry.valid)
        mcpauth_token_info_free(&entry.info);
    return true;
}

static void claim(op *o)
{
    mcpauth_redis_cache *c = o->cache;
    if (!send_command(o, on_claim, "SET %s %s NX PX %llu", o->lock_key, c->nonce,
                      (unsigned long long)c->config.lock_ms)) {
        unlink_op(o);
        answer(o, MCPAUTH_REDIS_DOWN, NULL);
    }
}

/* MGET result lock: the result, or who holds the lock. */
static void on_lookup(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    op *o = privdata;
    redisReply *reply = r;
    if (!reply_arrived(o, reply))
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        unlink_op(o);
        o->cache->stats.errors++;
        answer(o, MCPAUTH_REDIS_DOWN, NULL);
        return;
    }
    if (answer_if_stored(o, reply->element[0]))
        return;
    mcpauth_redis_cache *c = o->cache;
    uint64_t now = uv_now(c->loop);
    if (reply->element[1]->type == REDIS_REPLY_STRING) {
        /* Another instance is validating the token: wait for its result. */
        if (now >= o->give_up) {
            unlink_op(o);
            answer(o, MCPAUTH_REDIS_MISS, NULL);
            return;
        }
        if (!o->counted_wait) {
            o->counted_wait = true;
            c->stats.waits++;
        }
        o->state = OP_WAITING;
        o->next_poll = now + POLL_MS;
        return;
    }
    claim(o);
}

static void lookup(op *o)
{
    if (!send_command(o, on_lookup, "MGET %s %s", o->result_key, o->lock_key)) {
        unlink_op(o);
        answer(o, MCPAUTH_REDIS_DOWN, NULL);
    }
}

static void on_claim(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    op *o = privdata;
    redisReply *reply = r;
    if (!reply_arrived(o, reply))
        return;
    if (reply->type == REDIS_REPLY_STATUS) {
        unlink_op(o);
        answer(o, MCPAUTH_REDIS_CLAIMED, NULL);
        return;
    }
    /* Someone took the lock between our look and our claim: look again. */
    lookup(o);
}

void mcpauth_redis_cache_find(mcpauth_redis_cache *c, const mcpauth_token_key *key,
                              mcpauth_redis_cache_cb cb, void *data)
{
    if (c->closing || !c->connected) {
        cb(MCPAUTH_REDIS_DOWN, NULL, data);
        return;
    }
    op *o = calloc(1, sizeof *o);
    if (!o) {
        cb(MCPAUTH_REDIS_DOWN, NULL, data);
        return;
    }
    o->cache = c;
    o->cb = cb;
    o->data = data;
    o->give_up = uv_now(c->loop) + c->config.lock_ms;
    make_key(c, key, 't', o->result_key);
    make_key(c, key, 'l', o->lock_key);
    o->next = c->ops;
    c->ops = o;
    lookup(o);
}

static void on_stored(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    mcpauth_redis_cache *c = privdata;
    redisReply *reply = r;
    if (c->in_flight > 0 && --c->in_flight > 0)
        c->oldest_sent = uv_now(c->loop);
    if (reply && reply->type == REDIS_REPLY_ERROR)
        c->stats.errors++;
}

/* Deletes the lock only when it is still ours: it may have expired and been
 * taken by another instance since. */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
    "return 0";

void mcpauth_redis_cache_store(mcpauth_redis_cache *c, const mcpauth_token_key *key,
                               const mcpauth_token_cache_entry *entry, int64_t now, bool claimed)
{
    if (!c->ac || !c->connected)
        return;
    char result_key[KEY_SIZE], lock_key[KEY_SIZE];
    make_key(c, key, 't', result_key);
    make_key(c, key, 'l', lock_key);
    int64_t ttl = entry ? lifetime(c, entry, now) : 0;
    char *value = ttl > 0 ? encode(entry) : NULL;
    if (value &&
        redisAsyncCommand(c->ac, on_stored, c, "SET %s %s EX %lld", result_key, value,
                          (long long)ttl) == REDIS_OK &&
        c->in_flight++ == 0)
        c->oldest_sent = uv_now(c->loop);
    free(value);
    if (claimed &&
        redisAsyncCommand(c->ac, on_stored, c, "EVAL %s 1 %s %s", release_script, lock_key,
                          c->nonce) == REDIS_OK &&
        c->in_flight++ == 0)
        c->oldest_sent = uv_now(c->loop);
}

/* ---- the tick: timeouts, polls, reconnects ---- */

static void on_tick(uv_timer_t *timer)
{
    mcpauth_redis_cache *c = timer->data;
    uint64_t now = uv_now(c->loop);
    /* A connection that neither comes nor fails (a host that drops SYNs). */
    if (c->ac && !c->connected && now - c->connect_started > CONNECT_TIMEOUT_MS)
        drop(c, "no connection within 1 s");
    else if (c->ac && c->in_flight > 0 && now - c->oldest_sent > c->config.timeout_ms) {
        char why[100];
        snprintf(why, sizeof why, "no answer within %llu ms",
                 (unsigned long long)c->config.timeout_ms);
        drop(c, why);
    }
    if (!c->ac && c->reconnect_at && now >= c->reconnect_at)
        connect_now(c);
    for (op *o = c->ops, *next; o; o = next) {
        next = o->next;
        if (o->state == OP_WAITING && now >= o->next_poll)
            lookup(o);
    }
}

mcpauth_redis_cache *mcpauth_redis_cache_new(uv_loop_t *loop,
                                             const mcpauth_redis_cache_config *config,
                                             mcpauth_error *err)
{
    parsed_url url;
    if (parse_url(config->url, &url, err) != MCPAUTH_OK)
        return NULL;
    mcpauth_redis_cache *c = calloc(1, sizeof *c);
    if (!c) {
        free(url.host);
        free(url.unix_path);
        mcpauth_error_set(err, MCPAUTH_ELOCAL, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->config = *config;
    c->unix_path = url.unix_path;
    c->port = url.port;
    c->db = url.db;
    snprintf(c->display, sizeof c->display, "%s", config->url);
    mcpauth_status status = url.host ? resolve(c, url.host, err) : MCPAUTH_OK;
    free(url.host);
    uint8_t digest[SHA256_DIGEST_SIZE], random[NONCE_HEX / 2];
    if (status == MCPAUTH_OK && gnutls_rnd(GNUTLS_RND_NONCE, random, sizeof random) != 0)
        status = mcpauth_error_set(err, MCPAUTH_ELOCAL, "no randomness for the lock nonce");
    if (status != MCPAUTH_OK) {
        free(c->unix_path);
        free(c);
        return NULL;
    }
    hex(random, sizeof random, c->nonce);
    struct sha256_ctx sha;
    sha256_init(&sha);
    const char *resource = config->resource ? config->resource : "";
    sha256_update(&sha, strlen(resource), (const uint8_t *)resource);
    sha256_digest(&sha, sizeof digest, digest);
    hex(digest, NAMESPACE_HEX / 2, c->namespace);
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&c->tick); /* it alone must not keep the loop running */
    connect_now(c);
    return c;
}

void mcpauth_redis_cache_stats_get(const mcpauth_redis_cache *c, mcpauth_redis_cache_stats *out)
{
    *out = c->stats;
}

static void on_tick_closed(uv_handle_t *handle)
{
    mcpauth_redis_cache *c = handle->data;
    free(c->unix_path);
    free(c);
}

void mcpauth_redis_cache_free(mcpauth_redis_cache *c)
{
    if (!c)
        return;
    c->closing = true;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->connected = false;
    if (ac)
        redisAsyncFree(ac); /* answers the commands out: DOWN */
    c->in_flight = 0;
    while (c->ops) {
        op *o = c->ops;
        c->ops = o->next;
        answer(o, MCPAUTH_REDIS_DOWN, NULL);
    }
    uv_close((uv_handle_t *)&c->tick, on_tick_closed);
}
