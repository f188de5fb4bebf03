// gen subcommands. Each takes the arguments after its name and returns the
// process exit code: 0 ok, 1 runtime failure, 2 usage error.
#ifndef GEN_COMMANDS_H
#define GEN_COMMANDS_H

int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_pattern(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_world(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_suite(int argc, char **argv);  // gen eval --suite (cmd_eval hands over)
int world_harvest_cmd(int argc, char **argv);  // gen world harvest (cmd_world hands over)

// Prints "gen: <silt_last_error_message()>" and returns 1.
int gen_fail(const char *what);
// Before long work: 0 when the folder of `path` (the value of `flag`) exists
// and is writable; else one line naming it and 1 (2 for an empty path).
int gen_check_output(const char *flag, const char *path);

#endif
