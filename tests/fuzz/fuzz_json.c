/* The JSON parser (src/util/json.c) on any bytes, and the serializer of
 * answers on what it accepts: mcpauth_json_append() must write what json-c
 * writes, byte for byte. Input: a JSON text. */
#include "fuzz.h"
#include "mcpauth/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *obj = mcpauth_json_parse((const char *)data, size, "input", NULL);
    if (!obj)
        return 0;
    mcpauth_strbuf sb = MCPAUTH_STRBUF_INIT;
    if (!mcpauth_json_append(&sb, obj))
        abort();
    if (strcmp(sb.data, mcpauth_json_compact(obj)) != 0)
        abort();
    mcpauth_strbuf_free(&sb);
    json_object_put(obj);
    return 0;
}
