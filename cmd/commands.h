/* The subcommands; each parses its own options and returns an exit status
 * from the table in mcpauth(1). argv[0] is the subcommand's name. */
#ifndef MCPAUTH_CMD_COMMANDS_H
#define MCPAUTH_CMD_COMMANDS_H

int cmd_register(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_check_token(int argc, char **argv);

#endif
