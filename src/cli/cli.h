/* cli.h - the subcommands of bv2. Each takes argc/argv with argv[0] = the command name, prints
 * `error: ...` on stderr for bad input and returns a process exit code (0 ok, BV_EXIT_USAGE for a bad
 * command line, BV_EXIT_INPUT for bad files/configs, other non-zero codes documented per command). */
#ifndef BV_CLI_H
#define BV_CLI_H

#define BV2_VERSION "0.2.0"

int bv_cli_train(int argc, char **argv);
int bv_cli_infer(int argc, char **argv);
int bv_cli_g2p(int argc, char **argv);
int bv_cli_export(int argc, char **argv);
int bv_cli_resample(int argc, char **argv);
int bv_cli_preprocess(int argc, char **argv);
int bv_cli_bert_gen(int argc, char **argv);

/* ---- option scaffolding of the hand-written parsers (cli_opts.c) ---- */

/* A NULL-terminated list of an option's spellings: BV_CLI_NAMES("--config", "-c"). */
#define BV_CLI_NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})
/* argv[*i] as "--name value" or "--name=value" for any of names: the value (advancing *i past it);
 * NULL when argv[*i] is not this option, or (with *missing set) when the value is absent. */
const char *bv_cli_opt_value(int argc, char **argv, int *i, const char *const *names, int *missing);
/* s as a whole decimal integer in [lo, hi] into *out; 0, or -1 (out untouched). */
int bv_cli_parse_int(const char *s, long long lo, long long hi, long long *out);
/* --progress MODE: auto 0, bar 1, plain 2, none 3; -1 for anything else. */
int bv_cli_progress_mode(const char *v);
/* "error: <cmd>: <message> (see bv2 <cmd> --help)" on stderr; returns BV_EXIT_USAGE. */
int bv_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
