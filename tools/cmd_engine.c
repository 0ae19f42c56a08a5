/* neglabel CLI: the CLIP engine commands (devices, info, embed, tokenize,
 * preprocess, convert), thin over libneglabel. Each gets argv with argv[1]
 * its own name. */
#include <jansson.h>
#include <utf8proc.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "neglabel.h"

int cmd_devices(int argc, char **argv) {
    if (argc > 2) return cli_usage(argv[1], "unknown option '%s'", argv[2]);
    char *js = nl_devices_info_json();
    if (js) printf("%s\n", js);
    free(js);
    return js ? 0 : cli_fail("%s", nl_last_error());
}

/* Commands whose only option is --model DIR: the model, or NULL with *rc
 * set (2 for a usage error, 1 for a load failure). */
static nl_model *model_only(int argc, char **argv, int *rc) {
    const char *model = NULL;
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--model", &model)) continue;
        *rc = cli_usage(argv[1], "unknown option '%s'", argv[i]);
        return NULL;
    }
    nl_model *m = cli_load_model(model);
    if (!m) *rc = model ? 1 : 2;
    return m;
}

int cmd_info(int argc, char **argv) {
    int rc = 0;
    nl_model *m = model_only(argc, argv, &rc);
    if (!m) return rc;
    char *js = nl_model_info_json(m);
    if (js) printf("%s\n", js);
    free(js);
    nl_model_free(m);
    return js ? 0 : cli_fail("%s", nl_last_error());
}

/* s as valid UTF-8: each byte that starts no valid sequence becomes U+FFFD
 * (JSON strings are UTF-8; a path may hold any bytes). */
static char *utf8_lossy(const char *s) {
    size_t n = strlen(s), k = 0;
    char *o = malloc(3 * n + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (l <= 0) { c = 0xFFFD; l = 1; }
        k += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)o + k);
        i += (size_t)l;
    }
    o[k] = 0;
    return o;
}

/* Why an embedding is not finite, and what to try. */
#define OVERFLOW_HINT "the model's forward pass overflowed; in fp16, try --precision bf16 or fp32"

static void print_embedding(const char *kind, const char *input, const float *e, int dim) {
    /* jansson escapes the input; invalid UTF-8 bytes are shown as U+FFFD */
    char *u = utf8_lossy(input);
    json_t *s = u ? json_string(u) : NULL;
    free(u);
    char *js = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    printf("{\"kind\":\"%s\",\"input\":%s,\"embedding\":[", kind, js ? js : "null");
    int finite = 1;
    for (int j = 0; j < dim; j++) {
        /* JSON has no inf or NaN: such a value (the forward pass overflowed) is null */
        if (isfinite(e[j])) printf("%s%.9g", j ? "," : "", e[j]);
        else printf("%snull", j ? "," : ""), finite = 0;
    }
    fputs("]}\n", stdout);
    if (!finite)
        fprintf(stderr, "neglabel embed: warning: the embedding of %s %s is not finite (" OVERFLOW_HINT
                "); its inf and NaN values are written as null\n",
                kind, js ? js : "(input)");
    free(js);
    json_decref(s);
}

/* One more input of embed: kind 'i' (an image) or 't' (a text), in order. */
static int embed_add(cli_list *inputs, cli_list *of_kind, char **kinds, size_t *kcap, char kind, const char *s) {
    if (inputs->n >= *kcap) {
        size_t cap = *kcap ? *kcap * 2 : 64;
        char *k = realloc(*kinds, cap);
        if (!k) return -1;
        *kinds = k;
        *kcap = cap;
    }
    if (cli_push(inputs, s) != 0 || cli_push(of_kind, s) != 0) return -1;
    (*kinds)[inputs->n - 1] = kind;
    return 0;
}

/* embed -o FILE.npy: every row, in the order given, as float32 rows; a row
 * that is not finite (the forward pass overflowed) is refused, naming its
 * input: score-embeddings could not read it. */
static int embed_save(const char *out, const cli_list *inputs, const char *kinds, const float *ie, const float *te,
                      int dim) {
    size_t n = inputs->n, d = (size_t)dim, ii = 0, ti = 0;
    float *all = malloc(n * d * sizeof(float) + 1);
    if (!all) return cli_fail("out of memory");
    for (size_t k = 0; k < n; k++) {
        const float *e = kinds[k] == 'i' ? ie + (ii++) * d : te + (ti++) * d;
        for (size_t j = 0; j < d; j++)
            if (!isfinite(e[j])) {
                free(all);
                return cli_fail("%s: the embedding of %s '%s' is not finite (" OVERFLOW_HINT "); nothing written", out,
                                kinds[k] == 'i' ? "image" : "text", inputs->v[k]);
            }
        memcpy(all + k * d, e, d * sizeof(float));
    }
    int rc = nl_npy_save(out, all, n, d) == 0 ? 0 : cli_fail("%s", nl_last_error());
    free(all);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *v;
    int normalize = 0, resample = -1, rc = 1;
    cli_list inputs = {0}, images = {0}, texts = {0};
    char *kinds = NULL; /* 'i' or 't' per input, in order */
    size_t kcap = 0;
    nl_strvec held = {0}, got = {0}; /* the strings --list and --texts read */
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--model", &model)) continue;
        if (cli_flag(argv, i, "--normalize")) { normalize = 1; continue; }
        if (cli_opt(argc, argv, &i, "--resample", &v)) {
            if (cli_resample(v, &resample)) { rc = 2; goto out; }
            continue;
        }
        if (cli_opt(argc, argv, &i, "-o", &out) || cli_opt(argc, argv, &i, "--output", &out)) continue;
        int is_image = cli_opt(argc, argv, &i, "--image", &v);
        if (is_image || cli_opt(argc, argv, &i, "--text", &v)) {
            if (embed_add(&inputs, is_image ? &images : &texts, &kinds, &kcap, is_image ? 'i' : 't', v) != 0) {
                rc = cli_fail("out of memory");
                goto out;
            }
            continue;
        }
        int is_list = cli_opt(argc, argv, &i, "--list", &v);
        if (is_list || cli_opt(argc, argv, &i, "--texts", &v)) {
            if ((is_list ? nl_collect_images(v, &got) : nl_read_lines(v, &got)) != 0) {
                rc = cli_fail("%s", nl_last_error());
                goto out;
            }
            for (size_t k = 0; k < got.n; k++) {
                char *str = got.v[k];
                got.v[k] = NULL;
                if (nl_strvec_push_owned(&held, str) != 0 ||
                    embed_add(&inputs, is_list ? &images : &texts, &kinds, &kcap, is_list ? 'i' : 't', str) != 0) {
                    rc = cli_fail("out of memory");
                    goto out;
                }
            }
            nl_strvec_free(&got);
            continue;
        }
        rc = cli_usage(argv[1], "unknown option '%s'", argv[i]);
        goto out;
    }
    if (!inputs.n) {
        rc = cli_usage(argv[1], "nothing to embed: give --image PATH, --list FILE, --text TEXT and/or --texts FILE");
        goto out;
    }
    nl_model *m = cli_load_model(model);
    if (!m) { rc = model ? 1 : 2; goto out; }
    int dim = nl_model_dim(m);
    if (resample < 0) resample = NL_RESAMPLE_MODEL; /* the model's preprocessor_config.json */
    float *ie = calloc(images.n * (size_t)dim + 1, sizeof(float));
    float *te = calloc(texts.n * (size_t)dim + 1, sizeof(float));
    if (!ie || !te) rc = cli_fail("out of memory");
    else if (images.n && nl_embed_images(m, images.v, images.n, (nl_resample)resample, ie, NULL) != 0)
        rc = cli_fail("%s", nl_last_error());
    else if (texts.n && nl_embed_texts(m, texts.v, texts.n, te) != 0)
        rc = cli_fail("%s", nl_last_error());
    else {
        if (normalize) {
            nl_normalize_rows(ie, images.n, (size_t)dim);
            nl_normalize_rows(te, texts.n, (size_t)dim);
        }
        if (out) rc = embed_save(out, &inputs, kinds, ie, te, dim);
        else {
            size_t ii = 0, ti = 0;
            for (size_t k = 0; k < inputs.n; k++) {
                if (kinds[k] == 'i') print_embedding("image", inputs.v[k], ie + (ii++) * (size_t)dim, dim);
                else print_embedding("text", inputs.v[k], te + (ti++) * (size_t)dim, dim);
            }
            rc = 0;
        }
    }
    free(ie);
    free(te);
    nl_model_free(m);
out:
    free(kinds);
    free(inputs.v);
    free(images.v);
    free(texts.v);
    nl_strvec_free(&held);
    nl_strvec_free(&got);
    return rc;
}

/* One output line: {"text","ids"}, or {"line","error"} for an input line
 * that cannot be tokenized (the stream goes on; exit status 1 at the end). */
static void tokenize_error(size_t lineno, const char *msg) {
    json_t *res = json_pack("{s:I,s:s}", "line", (json_int_t)lineno, "error", msg);
    char *s = res ? json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s) printf("%s\n", s);
    free(s);
    json_decref(res);
    fprintf(stderr, "neglabel tokenize: stdin line %zu: %s\n", lineno, msg);
}

/* tokenize's longest input line: its text, tokenised whole, takes ~26
 * bytes of memory a byte (getline alone kept any line: a stream with no
 * line break filled the memory). */
#define TOKENIZE_LINE_MAX ((size_t)16 << 20)

/* tokenize's most JSON values on a line ({"text": ...} has two; other
 * members are allowed): jansson takes up to ~240 bytes a value, so a 16 MiB
 * line of [{},{},...] took 1.3 GB. Commas and opening brackets outside
 * strings are counted before parsing. */
#define TOKENIZE_VALUES_MAX 65536

static int tokenize_too_many_values(const char *p, size_t len) {
    size_t values = 1;
    for (int quoted = 0; len && values <= TOKENIZE_VALUES_MAX; p++, len--) {
        if (quoted && *p == '\\' && len > 1) p++, len--; /* the escaped byte */
        else if (*p == '"') quoted = !quoted;
        else values += !quoted && *p && strchr(",[{", *p) != NULL;
    }
    return values > TOKENIZE_VALUES_MAX;
}

/* The next line of f (its '\n' kept) into *line; a line longer than max is
 * read past and *too_long set, its length returned. -1 at the end of f or
 * on an error (errno). */
static ssize_t read_line_max(FILE *f, char **line, size_t *cap, size_t max, int *too_long) {
    size_t n = 0;
    int c = EOF;
    *too_long = 0;
    while ((c = getc(f)) != EOF) {
        if (n < max) {
            if (n + 2 > *cap) {
                size_t nc = *cap ? *cap * 2 : 4096;
                char *p = realloc(*line, nc);
                if (!p) return errno = ENOMEM, -1;
                *line = p, *cap = nc;
            }
            (*line)[n] = (char)c;
        } else {
            *too_long = 1;
        }
        n++;
        if (c == '\n') break;
    }
    if (n == 0) return -1;
    if (!*too_long) (*line)[n] = 0;
    return (ssize_t)n;
}

int cmd_tokenize(int argc, char **argv) {
    int rc = 0;
    nl_model *m = model_only(argc, argv, &rc);
    if (!m) return rc;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    /* a stop (Ctrl-C, SIGTERM) ends the stream after the current line: the
     * library's batches never see these lines, so its cancel cannot; a
     * wait for the next line is interrupted (it was restarted: the
     * command hung until killed) */
    cli_signals_interrupt_reads();
    int too_long = 0;
    while (!cli_signals_stopped() && (len = read_line_max(stdin, &line, &cap, TOKENIZE_LINE_MAX, &too_long)) > 0) {
        if (cli_signals_stopped()) break; /* a line that came after the signal */
        lineno++;
        if (too_long) {
            char msg[160];
            snprintf(msg, sizeof msg, "a line of %zd bytes: at most %zu MiB", len, TOKENIZE_LINE_MAX >> 20);
            tokenize_error(lineno, msg);
            rc = 1;
            continue;
        }
        char *p = line;
        /* a UTF-8 byte-order mark before the first line (Windows editors
         * write one) is not text; blank lines are skipped */
        if (lineno == 1 && len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3, len -= 3;
        if (strspn(p, " \t\r\n") == (size_t)len) continue;
        if (tokenize_too_many_values(p, (size_t)len)) {
            char msg[160];
            snprintf(msg, sizeof msg, "more than %d JSON values on the line: expected a JSON object with a \"text\" string",
                     TOKENIZE_VALUES_MAX);
            tokenize_error(lineno, msg);
            rc = 1;
            continue;
        }
        json_error_t jerr;
        /* JSON_ALLOW_NUL: a "\u0000" in the text is a character like any
         * other (ftfy removes it), not the end of the string */
        json_t *o = json_loadb(p, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        json_t *t = o ? json_object_get(o, "text") : NULL;
        const char *text = json_string_value(t);
        size_t tlen = text ? json_string_length(t) : 0;
        int32_t *ids = NULL;
        size_t n = 0;
        if (!text) {
            char msg[300];
            snprintf(msg, sizeof msg, "expected a JSON object with a \"text\" string%s%s", o ? "" : ": ",
                     o ? "" : jerr.text);
            tokenize_error(lineno, msg);
            rc = 1;
        } else if (nl_tokenize_n(m, text, tlen, &ids, &n) != 0) {
            tokenize_error(lineno, nl_last_error());
            rc = 1;
        } else {
            json_t *arr = json_array();
            for (size_t k = 0; k < n; k++) json_array_append_new(arr, json_integer(ids[k]));
            json_t *res = json_pack("{s:s%,s:o}", "text", text, tlen, "ids", arr);
            char *s = res ? json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            if (s) printf("%s\n", s);
            free(s);
            json_decref(res);
        }
        json_decref(o);
        free(ids);
        /* each answer as its line is done: a program that writes a line and
         * waits for its ids (a coprocess) would wait for a full buffer */
        if (fflush(stdout) != 0) {
            rc = cli_fail("error writing standard output: %s", strerror(errno));
            break;
        }
    }
    if (cli_signals_stopped()) rc = 1; /* stopped: cli_signals_finish ends as the signal would */
    else if (ferror(stdin)) rc = cli_fail("reading standard input: %s", strerror(errno));
    free(line);
    nl_model_free(m);
    return rc;
}

int cmd_preprocess(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *v;
    int resample = NL_RESAMPLE_BICUBIC;
    long size = 224;
    for (int i = 2, only = 0; i < argc; i++) {
        if (!only && !strcmp(argv[i], "--")) { only = 1; continue; } /* operands only from here */
        if (!only) {
            if (cli_opt(argc, argv, &i, "--resample", &v)) {
                if (cli_resample(v, &resample)) return 2;
                if (resample == NL_RESAMPLE_MODEL) return cli_bad_value(argv[1], "--resample model needs a model: bicubic or bilinear");
                continue;
            }
            if (cli_opt(argc, argv, &i, "--size", &v)) { if (cli_int("--size", v, 1, 4096, &size)) return 2; continue; }
            if (cli_opt(argc, argv, &i, "-o", &out) || cli_opt(argc, argv, &i, "--output", &out)) continue;
            if (argv[i][0] == '-' && argv[i][1]) return cli_usage(argv[1], "unknown option '%s'", argv[i]);
        }
        if (in) return cli_usage(argv[1], "one IMAGE at a time");
        in = argv[i];
    }
    if (!in || !out) return cli_usage(argv[1], "usage: neglabel preprocess [--resample bicubic|bilinear] [--size N] IMAGE -o OUT");
    size_t n = (size_t)size * (size_t)size * 3;
    uint8_t *px = malloc(n);
    if (!px) return cli_fail("out of memory");
    int rc = 0;
    if (nl_preprocess_file(in, (int)size, (nl_resample)resample, px) != 0) rc = cli_fail("%s", nl_last_error());
    else if (nl_write_file_atomic(out, px, n) != 0) rc = cli_fail("%s", nl_last_error());
    free(px);
    return rc;
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    for (int i = 2, only = 0; i < argc; i++) {
        if (!only && !strcmp(argv[i], "--")) { only = 1; continue; } /* operands only from here */
        if (!only) {
            if (cli_opt(argc, argv, &i, "-o", &out) || cli_opt(argc, argv, &i, "--output", &out)) continue;
            if (argv[i][0] == '-' && argv[i][1]) return cli_usage(argv[1], "unknown option '%s'", argv[i]);
        }
        if (in) return cli_usage(argv[1], "one CHECKPOINT at a time");
        in = argv[i];
    }
    if (!in || !out) return cli_usage(argv[1], "usage: neglabel convert CHECKPOINT -o DIR");
    if (nl_convert_checkpoint(in, out) != 0) return cli_fail("%s", nl_last_error());
    return 0;
}

