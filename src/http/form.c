#include "mcpauth/form.h"

#include <nettle/base64.h>
#include <stdlib.h>
#include <string.h>

#include "mcpauth/hex.h"
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

char *mcpauth_form_decode(const char *text, size_t length)
{
    char *out = malloc(length + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < length ? mcpauth_hex_digit(text[i + 1]) : -1;
            int lo = hi >= 0 ? mcpauth_hex_digit(text[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                c = '\0'; /* refused below */
            else
                c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            explicit_bzero(out, n);
            free(out);
            return NULL;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return out;
}

bool mcpauth_form_parse(const char *text, size_t length, mcpauth_form *out, const char **problem)
{
    memset(out, 0, sizeof *out);
    size_t start = 0;
    while (text && start < length) {
        const char *part = text + start;
        const char *amp = memchr(part, '&', length - start);
        size_t part_length = amp ? (size_t)(amp - part) : length - start;
        start += part_length + 1;
        if (part_length == 0)
            continue;
        if (out->count == MCPAUTH_FORM_MAX_PARAMS) {
            *problem = "too many parameters";
            return false;
        }
        const char *eq = memchr(part, '=', part_length);
        size_t name_length = eq ? (size_t)(eq - part) : part_length;
        mcpauth_form_param *p = &out->items[out->count];
        p->name = mcpauth_form_decode(part, name_length);
        p->value = eq ? mcpauth_form_decode(eq + 1, part_length - name_length - 1) : strdup("");
        if (!p->name || !p->value) {
            free(p->name);
            free(p->value);
            *p = (mcpauth_form_param){0};
            *problem = "malformed form encoding";
            return false;
        }
        out->count++;
        for (size_t i = 0; i + 1 < out->count; i++) {
            if (strcmp(out->items[i].name, p->name) == 0) {
                *problem = "a parameter is repeated (RFC 6749 §3.1)";
                return false;
            }
        }
    }
    return true;
}

const char *mcpauth_form_get(const mcpauth_form *form, const char *name)
{
    for (size_t i = 0; i < form->count; i++)
        if (strcmp(form->items[i].name, name) == 0)
            return form->items[i].value[0] ? form->items[i].value : NULL;
    return NULL;
}

void mcpauth_form_free(mcpauth_form *form)
{
    for (size_t i = 0; i < form->count; i++) {
        free(form->items[i].name);
        mcpauth_secret_free(form->items[i].value);
    }
    memset(form, 0, sizeof *form);
}
