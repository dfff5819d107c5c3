/* WWW-Authenticate (RFC 9110 §11.6.1; src/oauth/www_authenticate.c), which
 * check-token and the probe read from servers they test. Input: one or more
 * header field values separated by \x01, fed into one list as repeated
 * header lines are. */
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/www_authenticate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_pieces in;
    fuzz_split(data, size, 4, &in);
    mcpauth_challenge_list list = {0};
    mcpauth_error err;
    for (size_t i = 0; i < in.count; i++)
        if (in.length[i] > 0 || i == 0)
            (void)mcpauth_www_authenticate_parse(in.piece[i], &list, &err);
    for (size_t i = 0; i < list.count; i++) {
        const mcpauth_challenge *c = &list.items[i];
        if (!c->scheme || (c->param_count && !c->params))
            abort();
        for (size_t j = 0; j < c->param_count; j++)
            if (!c->params[j].name || !c->params[j].value)
                abort();
    }
    const mcpauth_challenge *bearer = mcpauth_challenge_find(&list, "Bearer");
    if (bearer) {
        (void)mcpauth_challenge_param(bearer, "resource_metadata");
        (void)mcpauth_challenge_param(bearer, "scope");
        (void)mcpauth_challenge_param(bearer, "error");
    }
    mcpauth_challenge_list_free(&list);
    fuzz_pieces_free(&in);
    return 0;
}
