/* cli.h — shared helpers of the neglabel command-line tool. */
#ifndef NEGLABEL_CLI_H
#define NEGLABEL_CLI_H
#include <stddef.h>
#include <stdio.h>

#include "neglabel.h"

/* Option scanning: returns 1 and sets *val when argv[*i] is NAME VALUE or
 * NAME=VALUE (advancing *i past the value); exits with usage error when the
 * value is missing. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
int cli_flag(char **argv, int i, const char *name);
int cli_int(const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *opt, const char *s, double *out);
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* prints, returns 1 */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* returns 2 */
/* A bad option value: the one line naming the option (no pointer to
 * --help, which an unknown or missing option gets), returns 2. */
int cli_bad_value(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n pairs (const char *name, int given): a usage error naming the options
 * not given ("--id-labels and -o are required"), 2; 0 when all are. */
int cli_required(const char *cmd, int n, ...);
int cli_resample(const char *s, int *out);

/* nl_model_load, printing the error (NULL dir: usage error). */
struct nl_model *cli_load_model(const char *dir);
/* The device for mining/scoring without a model: --device, AUTO resolved. */
void cli_compute_device(nl_device *dev, int *index);

/* A growable list of borrowed strings. */
typedef struct { const char **v; size_t n, cap; } cli_list;
int cli_push(cli_list *l, const char *s);

/* Options every command accepts, taken out of argv by main(). */
typedef struct {
    const char *cache_dir; /* NULL: --no-cache */
    int quiet;
    nl_model_params model; /* --threads, --device, --precision, --batch */
} cli_globals;
extern cli_globals cli_g;

/* Help (help.c), from one table of commands and options: when argv asks
 * for help (`neglabel help [CMD]`, `--help` or `-h` anywhere among a
 * command's options), prints it and returns the exit status; -1 otherwise. */
int cli_help_main(int argc, char **argv);
void cli_help_overview(FILE *f);
int cli_help_known(const char *cmd);         /* 1: a command help.c documents */
/* 1: the common option opt ("--device") has an effect on cmd (not one of
 * its "accepted here without effect"); 0 for an unknown command. */
int cli_common_used(const char *cmd, const char *opt);
/* 1 when arg is an option of cmd given without "=VALUE" whose value is the
 * next argument (so that value is never taken for an option itself). */
int cli_takes_value(const char *cmd, const char *arg);
int cli_unknown_command(const char *name);   /* prints, returns 2 */

/* SIGINT/SIGTERM (signals.c): the first stops the command after its
 * current batch (nl_set_cancel); install before the command runs, and pass
 * its status through cli_signals_finish, which ends a stopped command as
 * the signal would have (exit status 128 + signal). */
void cli_signals_install(void);
int cli_signals_finish(int rc);
/* 1 once a stop was asked: for a command's own loop (tokenize's lines),
 * which then ends with a non-zero status for cli_signals_finish. */
int cli_signals_stopped(void);
/* From now on the first signal interrupts a blocking read (EINTR) instead
 * of restarting it: for a command that waits on its own input (tokenize
 * reading stdin), which the library's cancel never sees. */
void cli_signals_interrupt_reads(void);

/* The metrics table of `eval` (eval_table.c). */
void cli_print_eval_table(FILE *f, const nl_eval_result *r);

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_corpus(int argc, char **argv);
int cmd_mine(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_score_embeddings(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_eval(int argc, char **argv);
#endif
