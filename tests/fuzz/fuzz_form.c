/* application/x-www-form-urlencoded (src/http/form.c): the parser the dev
 * issuer's endpoints use on bodies and queries, and the encoder the clients
 * use, which must round-trip: what the parser decodes, encoded again and
 * parsed, is the same parameters. Input: the form text. */
#include <stdbool.h>

#include "fuzz.h"
#include "mcpauth/form.h"
#include "mcpauth/secret.h"

static void round_trip(const mcpauth_form *form)
{
    mcpauth_strbuf sb = {0};
    for (size_t i = 0; i < form->count; i++)
        mcpauth_form_add(&sb, form->items[i].name, form->items[i].value);
    if (mcpauth_strbuf_failed(&sb))
        abort();
    mcpauth_form again = {0};
    const char *problem = NULL;
    if (!mcpauth_form_parse(sb.data, sb.length, &again, &problem))
        abort();
    if (again.count != form->count)
        abort();
    for (size_t i = 0; i < form->count; i++)
        if (strcmp(again.items[i].name, form->items[i].name) != 0 ||
            strcmp(again.items[i].value, form->items[i].value) != 0)
            abort();
    mcpauth_form_free(&again);
    mcpauth_strbuf_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_pieces in;
    fuzz_split(data, size, 1, &in);
    mcpauth_form form = {0};
    const char *problem = NULL;
    if (mcpauth_form_parse(in.piece[0], in.length[0], &form, &problem)) {
        (void)mcpauth_form_get(&form, "grant_type");
        round_trip(&form);
    } else if (!problem) {
        abort(); /* a refusal always says why */
    }
    mcpauth_form_free(&form);

    char *decoded = mcpauth_form_decode(in.piece[0], in.length[0]);
    free(decoded);
    mcpauth_secret_free(mcpauth_form_basic_credentials(in.piece[0], "s3cret"));
    fuzz_pieces_free(&in);
    return 0;
}
