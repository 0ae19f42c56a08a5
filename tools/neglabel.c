/* neglabel — command-line tool, thin over libneglabel.
 * This file: dispatch and the shared option and message helpers. The CLIP
 * engine commands are in cmd_engine.c, the NegLabel pipeline commands in
 * cmd_pipeline.c. */
#include <jansson.h>
#include <utf8proc.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "neglabel.h"
#include <unistd.h>

static const char *g_cmd = ""; /* the command, once known ("": none yet) */
static int g_cmd_is_arg;       /* another argument is the command's name: a file ("--id-labels score") */
cli_globals cli_g;

/* A message on stderr as one line: the control characters a file name can
 * hold (an escape sequence that retitles or clears the terminal, a line
 * break that forges a line of its own) become '?', as eval's table shows a
 * set name. */
static void put_message(const char *prefix, const char *msg) {
    size_t a = strlen(prefix), n = strlen(msg);
    char small[2048], *line = a + n + 2 <= sizeof small ? small : malloc(a + n + 2);
    if (!line) { /* out of memory: the message cut */
        line = small;
        n = sizeof small - a - 2;
    }
    memcpy(line, prefix, a);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        line[a + i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    line[a + n] = '\n';
    fwrite(line, 1, a + n + 1, stderr); /* one write: lines of processes sharing stderr stay whole */
    if (line != small) free(line);
}

/* The library's messages and progress, on stderr. */
static void cli_log(nl_log_level level, const char *msg, void *user) {
    if (level == NL_LOG_INFO && cli_g.quiet) return;
    put_message(level == NL_LOG_WARN ? "neglabel: warning: " : level == NL_LOG_ERROR ? "neglabel: error: " : "neglabel: ",
                msg);
}

/* A live line with rate and ETA on a terminal, a line every 10 s otherwise. */
static void cli_progress(const char *label, size_t done, size_t total, double elapsed, int final, void *user) {
    static double last_plain = -1;
    int tty = isatty(2);
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    double pctv = total ? 100.0 * (double)done / (double)total : 100.0;
    if (tty) {
        fprintf(stderr, "\r\033[K%s: %zu/%zu (%.0f%%) %.1f/s ETA %.0fs%s", label, done, total, pctv, rate, eta,
                final ? "\n" : "");
        return;
    }
    if (!final && (elapsed < 10.0 || elapsed - last_plain < 10.0)) return;
    if (final && elapsed < 1.0) return;
    last_plain = final ? -1 : elapsed;
    fprintf(stderr, "%s: %zu/%zu (%.0f%%) %.1f/s %s %.0fs\n", label, done, total, pctv, rate,
            final ? "elapsed" : "ETA", final ? elapsed : eta);
}

/* Take the options every command accepts out of argv (before or after the
 * command name). Returns the new argc, or -1 on a bad value. */
static int strip_globals(int argc, char **argv, char **cache_alloc) {
    int out = 1;
    int no_cache = 0;
    /* Defaults: the first usable GPU, else the CPU; NEGLABEL_DEVICE and
     * NEGLABEL_PRECISION override them, the options override both. */
    cli_g.model = nl_model_default_params();
    cli_g.model.device = NL_DEVICE_AUTO;
    int got_device = 0, got_precision = 0; /* given as options: the variables are not read */
    int at = 0;
    for (int i = 1; i < argc && !*g_cmd; i++) /* for the messages: the command, wherever it is */
        if (cli_help_known(argv[i])) g_cmd = argv[i], at = i;
    for (int i = 1; i < argc && *g_cmd; i++) {
        const char *eq = strchr(argv[i], '=');
        if (i != at && (!strcmp(argv[i], g_cmd) || (eq && !strcmp(eq + 1, g_cmd)))) g_cmd_is_arg = 1;
    }
    const char *cmd = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cmd && !strcmp(argv[i], "--")) { /* the end of the options: the rest are operands, as given */
            while (i < argc) argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) { cli_g.quiet = 1; continue; }
        if (!strcmp(argv[i], "--no-cache")) { no_cache = 1; continue; }
        if (!strcmp(argv[i], "--strict-precision")) { cli_g.model.strict_precision = 1; continue; }
        int j = i;
        if (cli_opt(argc, argv, &j, "--cache", &v)) { cli_g.cache_dir = v; i = j; continue; }
        j = i;
        if (cli_opt(argc, argv, &j, "--threads", &v)) {
            long t;
            if (cli_int("--threads", v, 1, 1024, &t)) return -1;
            cli_g.model.n_threads = (int)t;
            i = j;
            continue;
        }
        j = i;
        if (cli_opt(argc, argv, &j, "--device", &v)) {
            if (nl_parse_device(v, &cli_g.model.device, &cli_g.model.device_index) != 0) {
                cli_bad_value(g_cmd, "--device: %s", nl_last_error());
                return -1;
            }
            got_device = 1;
            i = j;
            continue;
        }
        j = i;
        if (cli_opt(argc, argv, &j, "--precision", &v)) {
            if (nl_parse_precision(v, &cli_g.model.precision) != 0) {
                cli_bad_value(g_cmd, "--precision: %s", nl_last_error());
                return -1;
            }
            got_precision = 1;
            i = j;
            continue;
        }
        j = i;
        if (cli_opt(argc, argv, &j, "--batch", &v)) {
            long b;
            if (cli_int("--batch", v, 1, 4096, &b)) return -1;
            cli_g.model.batch_size = (int)b;
            i = j;
            continue;
        }
        if (!cmd) cmd = argv[i]; /* the first argument that is not a common option */
        else if (i + 1 < argc && cli_takes_value(cmd, argv[i])) argv[out++] = argv[i++]; /* its value: never an option */
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    const char *ed = getenv("NEGLABEL_DEVICE"), *ep = getenv("NEGLABEL_PRECISION");
    /* read only by the commands they act on: a bad value failed --version,
     * help and preprocess (which takes --device without effect) too */
    if (!cli_common_used(cmd, "--device")) ed = NULL;
    if (!cli_common_used(cmd, "--precision")) ep = NULL;
    if (!got_device && ed && *ed && nl_parse_device(ed, &cli_g.model.device, &cli_g.model.device_index) != 0) {
        fprintf(stderr, "neglabel: NEGLABEL_DEVICE: %s (or give --device)\n", nl_last_error());
        return -1;
    }
    if (!got_precision && ep && *ep && nl_parse_precision(ep, &cli_g.model.precision) != 0) {
        fprintf(stderr, "neglabel: NEGLABEL_PRECISION: %s (or give --precision)\n", nl_last_error());
        return -1;
    }
    if (no_cache) cli_g.cache_dir = NULL;
    else if (!cli_g.cache_dir) cli_g.cache_dir = *cache_alloc = nl_default_cache_dir();
    nl_set_log(cli_log, NULL);
    if (!cli_g.quiet) nl_set_progress(cli_progress, NULL);
    return out;
}

/* "neglabel CMD: ", or "neglabel: " before a command is known. */
static void cli_prefix(const char *cmd) {
    if (cmd && cli_help_known(cmd)) fprintf(stderr, "neglabel %s: ", cmd);
    else fputs("neglabel: ", stderr);
}

/* Prints "neglabel CMD: message". A library message that already starts with
 * "CMD: " (score.c's "score: ngroup ...") loses that start, so the command is
 * not named twice; Python raises the library's message as it is. Not when an
 * argument is spelt as the command: then "CMD: " may be a file's name
 * ("--id-labels score": "score: no ID labels"), which the message needs. */
int cli_fail(const char *fmt, ...) {
    va_list ap;
    char buf[1024], *msg = buf;
    cli_prefix(g_cmd);
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof buf && (msg = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (!msg) msg = buf; /* out of memory: the message cut at 1023 bytes */
    const char *m = msg;
    size_t lc = g_cmd && cli_help_known(g_cmd) && !g_cmd_is_arg ? strlen(g_cmd) : 0;
    if (lc && !strncmp(m, g_cmd, lc) && m[lc] == ':' && m[lc + 1] == ' ') m += lc + 2;
    put_message("", m);
    if (msg != buf) free(msg);
    return 1;
}

/* One line "neglabel CMD: message"; the two entry points below differ only in
 * whether a "(see ... --help)" line follows. */
static void cli_vline(const char *cmd, const char *fmt, va_list ap) {
    cli_prefix(cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_bad_value(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_vline(cmd, fmt, ap);
    va_end(ap);
    return 2;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cli_vline(cmd, fmt, ap);
    va_end(ap);
    if (cli_help_known(cmd)) fprintf(stderr, "(see 'neglabel %s --help')\n", cmd);
    else fprintf(stderr, "(see 'neglabel help')\n");
    return 2;
}

int cli_required(const char *cmd, int n, ...) {
    const char *miss[8];
    int k = 0;
    va_list ap;
    va_start(ap, n);
    for (int j = 0; j < n; j++) {
        const char *name = va_arg(ap, const char *);
        int given = va_arg(ap, int);
        if (!given && k < 8) miss[k++] = name;
    }
    va_end(ap);
    if (!k) return 0;
    char msg[512];
    size_t o = 0;
    for (int j = 0; j < k && o < sizeof msg; j++)
        o += (size_t)snprintf(msg + o, sizeof msg - o, "%s%s", j == 0 ? "" : j == k - 1 ? " and " : ", ", miss[j]);
    return cli_usage(cmd, "%s %s required", msg, k == 1 ? "is" : "are");
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) {
        cli_prefix(g_cmd);
        fprintf(stderr, "option %s needs a value\n", name);
        exit(2);
    }
    *val = argv[++*i];
    return 1;
}

int cli_flag(char **argv, int i, const char *name) { return strcmp(argv[i], name) == 0; }

int cli_int(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        cli_prefix(g_cmd);
        fprintf(stderr, "%s expects an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *opt, const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || v != v) {
        cli_prefix(g_cmd);
        fprintf(stderr, "%s expects a number, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_resample(const char *s, int *out) {
    if (!strcmp(s, "bicubic")) *out = NL_RESAMPLE_BICUBIC;
    else if (!strcmp(s, "bilinear")) *out = NL_RESAMPLE_BILINEAR;
    else if (!strcmp(s, "model")) *out = NL_RESAMPLE_MODEL;
    else {
        cli_prefix(g_cmd);
        fprintf(stderr, "--resample expects bicubic, bilinear or model, got '%s'\n", s);
        return -1;
    }
    return 0;
}

int cli_push(cli_list *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        const char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

nl_model *cli_load_model(const char *dir) {
    if (!dir) { cli_usage(g_cmd, "--model DIR is required"); return NULL; }
    nl_model *m = nl_model_load(dir, &cli_g.model);
    if (!m) cli_fail("%s", nl_last_error());
    else if (!cli_g.quiet)
        fprintf(stderr, "neglabel: model on %s, %s\n", nl_model_device_name(m), nl_precision_name(nl_model_precision(m)));
    return m;
}

void cli_compute_device(nl_device *dev, int *index) {
    *dev = cli_g.model.device;
    *index = cli_g.model.device_index;
    if (nl_resolve_device(dev, index) != 0) { /* a kind nl_parse_device never gives: stay on the CPU */
        *dev = NL_DEVICE_CPU;
        *index = 0;
    }
}

static int run(int argc, char **argv);

/* --model defaults to NL_DEFAULT_MODEL (a Hub id, docs/hub.md) for the
 * commands that load a model: argv with "--model" NL_DEFAULT_MODEL put
 * after the command name when no --model is given (else argv itself). */
static char **default_model(int *argc, char **argv) {
    static const char *const takes[] = {"info", "embed", "tokenize", "mine", "score", "eval"};
    int t = 0;
    for (size_t k = 0; *argc >= 2 && k < sizeof takes / sizeof takes[0]; k++) t |= !strcmp(argv[1], takes[k]);
    if (!t) return argv;
    for (int i = 2; i < *argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "--model") || !strncmp(argv[i], "--model=", 8)) return argv;
        if (cli_takes_value(argv[1], argv[i])) i++; /* its value, never --model itself (embed --text --model) */
    }
    char **v = malloc(((size_t)*argc + 3) * sizeof *v);
    if (!v) return argv;
    v[0] = argv[0];
    v[1] = argv[1];
    v[2] = (char *)"--model";
    v[3] = (char *)NL_DEFAULT_MODEL;
    memcpy(v + 4, argv + 2, (size_t)(*argc - 2) * sizeof *v);
    *argc += 2;
    v[*argc] = NULL;
    return v;
}

int main(int argc, char **argv) {
    int rc = cli_help_main(argc, argv); /* --help wins over everything else */
    char *cache_alloc = NULL;
    char **args = argv;
    if (rc < 0) {
        argc = strip_globals(argc, argv, &cache_alloc);
        if (argc < 0) return 2;
        args = default_model(&argc, argv);
        cli_signals_install();
        rc = run(argc, args);
    }
    /* Output on stdout (JSON lines, CSV, the eval table) to a full disk or a
     * closed pipe is a failure, not a silent truncation. */
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
        fprintf(stderr, "neglabel %s: error writing standard output: %s\n", argc > 1 ? args[1] : "",
                errno ? strerror(errno) : "an earlier write failed");
        rc = 1;
    }
    if (args != argv) free(args);
    free(cache_alloc);
    return cli_signals_finish(rc);
}

/* The folder holding path ("/" for "/x", "." for a bare name); malloc'd. */
static char *parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
}

/* -o FILE into a folder that does not exist or cannot be written failed
 * only when the result was written (for mine: after mining, minutes on a
 * CPU). For the commands whose -o is a file, the folder the file will be
 * written in (the link's target's, for a link) is checked first; FIFOs and
 * devices are written in place and need no folder. */
static int output_folder_ok(const char *out) {
    if (strcmp(g_cmd, "mine") && strcmp(g_cmd, "corpus") && strcmp(g_cmd, "preprocess") && strcmp(g_cmd, "embed"))
        return 1;
    struct stat st, lst;
    char *real = NULL;
    if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) { /* refused before the work, not at the rename after it */
        cli_fail("cannot write %s: it is a folder (-o names the file to write)", out);
        return 0;
    }
    if (stat(out, &st) == 0 && !S_ISREG(st.st_mode)) return 1; /* a FIFO or device, or a link to one */
    if (lstat(out, &lst) == 0 && S_ISLNK(lst.st_mode) && !(real = realpath(out, NULL)))
        return 1; /* a dangling link, which the library refuses by name */
    char *dir = parent_dir(real ? real : out);
    int ok = 0;
    if (!dir || stat(dir, &st) != 0) ok = 0; /* errno says why */
    else if (!S_ISDIR(st.st_mode)) errno = ENOTDIR;
    else ok = access(dir, W_OK | X_OK) == 0;
    if (!ok && dir)
        cli_fail("cannot write %s: the folder %s %s%s", out, dir,
                 errno == ENOENT ? "does not exist" : errno == ENOTDIR ? "is not a folder" : "cannot be written: ",
                 errno == ENOENT || errno == ENOTDIR ? "" : strerror(errno));
    free(dir);
    free(real);
    return ok;
}

/* -o inside --lists' folder under a name the corpus reads there
 * (noun.<category>.txt, adj.<category>.txt: src/method/corpus.c). */
static int is_listed_word_list(const char *out, const char *lists) {
    const char *slash = strrchr(out, '/'), *nm = slash ? slash + 1 : out;
    size_t l = strlen(nm);
    if (!((!strncmp(nm, "noun.", 5) && l > 9) || (!strncmp(nm, "adj.", 4) && l > 8)) || strcmp(nm + l - 4, ".txt"))
        return 0;
    char *dir = parent_dir(out);
    char *a = dir ? realpath(dir, NULL) : NULL, *b = realpath(lists, NULL);
    int same = a && b && !strcmp(a, b);
    free(dir);
    free(a);
    free(b);
    return same;
}

/* An output that is also an input (mine --id-labels L -o L, preprocess X -o
 * X, corpus --lists DIR -o DIR/noun.x.txt) would be replaced by the result:
 * refused before any work. Every argument that names an existing regular
 * file (operands, option values, --opt=value) is compared with -o's file by
 * device and inode, so links and other spellings of the same file count
 * too; a folder argument only as --lists, whose word lists are known by
 * name. Returns the exit status of a refusal, else 0. */
/* argv[i] is an -o / --output value (the option before it, or in it). */
static int is_output_arg(char **argv, int i) {
    const char *a = argv[i], *b = argv[i - 1];
    return !strcmp(b, "-o") || !strcmp(b, "--output") || !strncmp(a, "--output=", 9) || !strncmp(a, "-o=", 3);
}

static int check_output(int argc, char **argv) {
    /* a command without -o refuses it as an unknown option */
    if (!cli_takes_value(g_cmd, "-o")) return 0;
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) out = argv[++i];
        else if (!strncmp(a, "--output=", 9) || !strncmp(a, "-o=", 3)) out = strchr(a, '=') + 1;
    }
    if (!out) return 0; /* the command says what is missing */
    if (!*out) /* refused now: it once failed only at the rename, after the work (mine: all the mining) */
        return cli_usage(g_cmd, "-o: an empty name (-o names what to write)");
    if (!output_folder_ok(out)) return 1;
    struct stat so, si;
    int exists = stat(out, &so) == 0 && S_ISREG(so.st_mode);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *eq = a[0] == '-' ? strchr(a, '=') : NULL, *p = eq ? eq + 1 : a;
        /* (an -o given twice is not an input) */
        if (exists && !is_output_arg(argv, i) && stat(p, &si) == 0 && S_ISREG(si.st_mode) &&
            si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_usage(g_cmd, "the output %s is also an input ('%s'): it would be replaced; write elsewhere", out,
                             a);
        /* a word list's name in the --lists folder, also one not there yet:
         * the next run would read it as a list */
        const char *lists = !strcmp(a, "--lists") && i + 1 < argc ? argv[i + 1] : !strncmp(a, "--lists=", 8) ? p : NULL;
        if (lists && is_listed_word_list(out, lists))
            return cli_usage(g_cmd, "the output %s is one of the word lists read from --lists %s (named as one: it "
                             "would be replaced, or read as a list next time); write elsewhere", out, lists);
    }
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        cli_help_overview(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version")) { printf("neglabel %s\n", NEGLABEL_VERSION); return 0; }
    g_cmd = argv[1];
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"info", cmd_info}, {"embed", cmd_embed}, {"tokenize", cmd_tokenize}, {"preprocess", cmd_preprocess},
        {"convert", cmd_convert},
        {"corpus", cmd_corpus}, {"mine", cmd_mine}, {"score", cmd_score},
        {"score-embeddings", cmd_score_embeddings}, {"metrics", cmd_metrics}, {"eval", cmd_eval},
        {"devices", cmd_devices},
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(argv[1], cmds[k].name)) {
            int rc = check_output(argc, argv);
            return rc ? rc : cmds[k].fn(argc, argv);
        }
    return cli_unknown_command(argv[1]);
}
