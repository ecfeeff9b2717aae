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

#endif
