/* Describing an OAuth endpoint's error answer (RFC 6749 §5.2, RFC 7591
 * §3.2.2, RFC 7662 §2.3) for a one-line message. */
#include "mcpauth/oauth_error.h"

#include <stdio.h>
#include <string.h>

#include "mcpauth/json.h"

/* Copies at most max printable characters of text into out, replacing
 * anything else (newlines, escapes, binary) with '?': a hostile server must
 * not be able to write to the user's terminal through our messages. */
static void printable_excerpt(const char *text, size_t length, size_t max, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < length && n + 4 < size && i < max; i++) {
        unsigned char c = (unsigned char)text[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (length > max && n + 4 < size) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

void mcpauth_oauth_error_describe(const mcpauth_http_response *resp, char *buf, size_t size)
{
    int used = snprintf(buf, size, "HTTP %ld", resp->status);
    const char *text = mcpauth_http_status_text(resp->status);
    if (text[0] && used >= 0 && (size_t)used < size)
        used += snprintf(buf + used, size - (size_t)used, " %s", text);
    if (used < 0 || (size_t)used >= size)
        return;
    char *rest = buf + used;
    size_t rest_size = size - (size_t)used;

    json_object *doc = mcpauth_json_parse_object(resp->body, resp->body_length, "body", NULL);
    const char *error = mcpauth_json_string(doc, "error");
    if (error) {
        char code[128], description[512];
        const char *desc = mcpauth_json_string(doc, "error_description");
        printable_excerpt(error, strlen(error), 100, code, sizeof code);
        if (desc) {
            printable_excerpt(desc, strlen(desc), 400, description, sizeof description);
            snprintf(rest, rest_size, ": %s: %s", code, description);
        } else {
            snprintf(rest, rest_size, ": %s", code);
        }
    } else if (resp->body_length > 0) {
        char excerpt[256];
        printable_excerpt(resp->body, resp->body_length, 120, excerpt, sizeof excerpt);
        snprintf(rest, rest_size, " (body: %s)", excerpt);
    }
    json_object_put(doc);
}
