#include "mcpauth/form.h"

#include <nettle/base64.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/secret.h"

void mcpauth_form_encode(mcpauth_strbuf *sb, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        unsigned char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '*' || c == '-' || c == '.' || c == '_';
        if (keep) {
            mcpauth_strbuf_append(sb, (const char *)p, 1);
        } else if (c == ' ') {
            mcpauth_strbuf_append(sb, "+", 1);
        } else {
            char escaped[3] = {'%', hex[c >> 4], hex[c & 0xf]};
            mcpauth_strbuf_append(sb, escaped, 3);
        }
    }
}

void mcpauth_form_add(mcpauth_strbuf *sb, const char *name, const char *value)
{
    if (sb->length > 0)
        mcpauth_strbuf_append(sb, "&", 1);
    mcpauth_form_encode(sb, name);
    mcpauth_strbuf_append(sb, "=", 1);
    mcpauth_form_encode(sb, value);
}

char *mcpauth_form_basic_credentials(const char *client_id, const char *client_secret)
{
    /* RFC 6749 §2.3.1: id and secret are form-encoded before base64, so a
     * ':' inside the id cannot shift the split point. */
    mcpauth_strbuf plain = MCPAUTH_STRBUF_INIT;
    mcpauth_form_encode(&plain, client_id);
    mcpauth_strbuf_append(&plain, ":", 1);
    mcpauth_form_encode(&plain, client_secret);
    if (mcpauth_strbuf_failed(&plain)) {
        mcpauth_strbuf_free(&plain);
        return NULL;
    }
    size_t encoded_length = BASE64_ENCODE_RAW_LENGTH(plain.length);
    char *header = malloc(sizeof "Basic " + encoded_length);
    if (header) {
        memcpy(header, "Basic ", 6);
        base64_encode_raw((char *)header + 6, plain.length, (const uint8_t *)plain.data);
        header[6 + encoded_length] = '\0';
    }
    mcpauth_strbuf_free(&plain);
    return header;
}
