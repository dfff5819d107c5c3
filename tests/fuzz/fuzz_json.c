/* The JSON parser (src/util/json_parse.c) on any bytes, against json-c's
 * tokener in strict mode, which it replaced: what it accepts, json-c
 * accepts and builds the same (the same serialization); what it refuses
 * and json-c accepts is one of its documented refusals (a control
 * character raw in a string, a number ending in '.', with leading zeros or
 * no digit after its minus sign,
 * invalid UTF-8). And
 * the serializer of answers on what it accepts: mcpauth_json_append() must
 * write what json-c writes, byte for byte. Input: a JSON text. */
#include "fuzz.h"
#include "mcpauth/json.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* json-c's verdict; *obj its value (NULL for null or a refusal). */
static bool json_c_accepts(const uint8_t *data, size_t size, json_object **obj)
{
    json_tokener *tok = json_tokener_new_ex(MCPAUTH_JSON_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    *obj = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!*obj && e == json_tokener_continue && end == size) {
        *obj = json_tokener_parse_ex(tok, "", 1);
        e = json_tokener_get_error(tok);
        end = size;
    }
    json_tokener_free(tok);
    bool ok = e == json_tokener_success;
    for (size_t i = end; ok && i < size; i++)
        ok = strchr(" \t\r\n", data[i]) && data[i] != '\0';
    if (!ok) {
        json_object_put(*obj);
        *obj = NULL;
    }
    return ok;
}

/* The parse that leaves params._meta as text must accept and refuse what
 * the whole parse does, with the same message, and once the text is built
 * back in, hold the same value. */
static void check_deferring(const uint8_t *data, size_t size, json_object *whole,
                            const mcpauth_error *whole_err)
{
    static const char *const path[] = {"params", "_meta"};
    static const char *const members[] = {"io.modelcontextprotocol/protocolVersion", "a", "b"};
    static const mcpauth_json_deferral how = {path, 2, members, 3};
    mcpauth_error err = {0};
    mcpauth_json_deferred meta;
    json_object *lean =
        mcpauth_json_parse_deferring((const char *)data, size, "input", &how, &meta, &err);
    if (!lean != !whole || (!lean && strcmp(err.message, whole_err->message) != 0))
        abort();
    if (!lean)
        return;
    /* Each member found is the one the whole parse built, as text. */
    json_object *built = NULL;
    json_object *params = NULL;
    if (json_object_is_type(whole, json_type_object) &&
        json_object_object_get_ex(whole, "params", &params) &&
        json_object_is_type(params, json_type_object))
        json_object_object_get_ex(params, "_meta", &built);
    for (size_t i = 0; i < 3; i++) {
        json_object *member = NULL;
        bool present = json_object_is_type(built, json_type_object) &&
                       json_object_object_get_ex(built, members[i], &member);
        if (present != (meta.members[i].text != NULL))
            abort();
        if (present && !memmem(data, size, "NaN", 3)) {
            json_object *again =
                mcpauth_json_parse(meta.members[i].text, meta.members[i].length, "member", NULL);
            bool same = again ? json_object_equal(again, member) : !member;
            json_object_put(again);
            if (!same)
                abort();
        }
    }
    if (!mcpauth_json_restore(lean, &how, meta.text))
        abort();
    /* json-c holds NaN unequal to itself. */
    if (!memmem(data, size, "NaN", 3) && !json_object_equal(lean, whole))
        abort();
    json_object_put(lean);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    mcpauth_error err = {0};
    json_object *obj = mcpauth_json_parse((const char *)data, size, "input", &err);
    json_object *theirs = NULL;
    bool they_accept = json_c_accepts(data, size, &theirs);
    bool null_literal = !obj && strstr(err.message, "is null");
    if (obj || null_literal) {
        if (!they_accept)
            abort(); /* accepted what json-c refused */
        if (strcmp(obj ? mcpauth_json_compact(obj) : "null",
                   theirs ? json_object_to_json_string_ext(theirs, FLAGS) : "null") != 0)
            abort(); /* built something else */
    } else if (they_accept && !strstr(err.message, "a control character in a string") &&
               !strstr(err.message, "a digit expected after the decimal point") &&
               !strstr(err.message, "a number with a leading zero") &&
               !strstr(err.message, "a digit expected after the minus sign") &&
               !strstr(err.message, "not UTF-8")) {
        abort(); /* refused what json-c accepted, for no reason of its own */
    }
    json_object_put(theirs);
    check_deferring(data, size, obj, &err);
    if (obj) {
        mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
        if (!mcpauth_json_append(&sb, obj))
            abort();
        if (strcmp(sb.data, mcpauth_json_compact(obj)) != 0)
            abort();
        mcpauth_strbuf_free(&sb);
        json_object_put(obj);
    }
    return 0;
}
