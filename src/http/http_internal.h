/* What the files of src/http/ share and nothing outside calls: the
 * mcpauth__http_* level of the name levels. The libcurl transfer has its
 * own header (transfer.h). Not installed. */
#ifndef MCPAUTH_HTTP_INTERNAL_H
#define MCPAUTH_HTTP_INTERNAL_H

#include <stddef.h>

#include "mcpauth/http_client.h"

/* Frees an array of count headers and their names and values; NULL is
 * fine. (response.c) */
void mcpauth__http_headers_free(mcpauth_http_header *headers, size_t count);

#endif
