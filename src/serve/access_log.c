/* Log lines: one per answered request, and server events. Text for people,
 * JSON (one object per line) for log pipelines. Tokens never appear: only
 * the short hash the validator computed. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "mcpauth/json.h"
#include "serve_internal.h"

static void timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void add_string(json_object *obj, const char *key, const char *value)
{
    if (value)
        json_object_object_add(obj, key, json_object_new_string(value));
}

void serve_log_request(const mcpauth_serve_config *config, const serve_log_entry *e)
{
    char when[40];
    timestamp(when, sizeof when);
    if (config->log_format == MCPAUTH_LOG_JSON) {
        json_object *obj = json_object_new_object();
        add_string(obj, "time", when);
        add_string(obj, "peer", e->peer);
        add_string(obj, "method", e->method);
        add_string(obj, "path", e->path);
        json_object_object_add(obj, "status", json_object_new_int(e->status));
        json_object_object_add(obj, "latency_ms", json_object_new_double(e->latency_ms));
        add_string(obj, "token", e->token_hash);
        add_string(obj, "sub", e->subject);
        add_string(obj, "cache", e->cache);
        add_string(obj, "detail", e->detail);
        fprintf(config->log, "%s\n", mcpauth_json_compact(obj));
        json_object_put(obj);
    } else {
        /* The path is the client's: %.200s keeps a line a line, and the HTTP
         * parser has already refused control characters in it. */
        fprintf(config->log, "%s %s \"%s %.200s\" %d %.3fms token=%s sub=%.100s cache=%s%s%s%s\n",
                when, e->peer, e->method, e->path, e->status, e->latency_ms,
                e->token_hash ? e->token_hash : "-", e->subject ? e->subject : "-",
                e->cache ? e->cache : "-", e->detail ? " (" : "", e->detail ? e->detail : "",
                e->detail ? ")" : "");
    }
    fflush(config->log);
}

void serve_log_event(const mcpauth_serve_config *config, const char *level, const char *fmt, ...)
{
    char when[40], message[1024];
    timestamp(when, sizeof when);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (config->log_format == MCPAUTH_LOG_JSON) {
        json_object *obj = json_object_new_object();
        add_string(obj, "time", when);
        add_string(obj, "level", level);
        add_string(obj, "message", message);
        fprintf(config->log, "%s\n", mcpauth_json_compact(obj));
        json_object_put(obj);
    } else {
        fprintf(config->log, "%s %s: %s\n", when, level, message);
    }
    fflush(config->log);
}
