/* Hexadecimal digits, for the decoders of escapes in text (JSON's \uXXXX,
 * forms' %XX). */
#ifndef MCPAUTH_HEX_H
#define MCPAUTH_HEX_H

/* The value of the hex digit c (either case), or -1 when it is not one. */
int mcpauth_hex_digit(char c);

#endif
