/* fuzz_formats.c — libFuzzer harness for the small file formats. Input byte
 * 0 picks the parser, the rest is the file's content:
 *   'C' config.json           nli_clip_config_load (with no preprocessor file)
 *   'P' preprocessor_config.json, beside a valid config.json
 *   'O' open_clip_config.json nli_clip_config_load on an OpenCLIP folder
 *   'N' .npy                  nl_npy_load
 *   'K' embedding cache file  nli_cache_open (dim 32), every entry read back
 *   'k' the same, with the header's and every record's checksum recomputed
 *       first (a mutation almost always breaks a checksum, so 'K' alone
 *       rarely gets past them to the records' own checks)
 *   'G' negatives file        nl_negatives_read
 *   'W' a word list           nl_corpus_load on a folder holding it
 *   'L' an ID-label file      nl_read_id_labels (duplicates allowed and not)
 *   'D' a WordNet data.noun   nl_corpus_load on a database folder
 *   'S' a score file          nl_read_scores (plain or CSV; the "score" column, then "b")
 * Seeds: fuzz/corpus/formats/ (each file starts with its selector byte).
 *
 *   cmake -S . -B build-fuzz -DNEGLABEL_FUZZ=ON -DNEGLABEL_SANITIZE=ON -DNEGLABEL_CUDA=OFF \
 *     -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_formats
 *   build-fuzz/fuzz_formats -max_total_time=60 CORPUS_COPY fuzz/corpus/formats
 *
 * Invariants: no crash or sanitizer report; every failure sets a message;
 * what a parser accepts is internally consistent (sizes as declared). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "clip.h"
#include "neglabel.h"
#include "util.h"

static char dir[64];

static void setup(void) {
    if (dir[0]) return;
    snprintf(dir, sizeof dir, "/tmp/fuzz-formats-%d", (int)getpid());
    mkdir(dir, 0700);
}

static int put(const char *name, const void *d, size_t n) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    int ok = fwrite(d, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void drop(const char *name) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
}

static void need_message(int failed) {
    if (failed && !*nl_last_error()) {
        fprintf(stderr, "a parser failed without a message\n");
        abort();
    }
}

static const char VALID_CONFIG[] = "{\"projection_dim\":32,\"text_config\":{\"hidden_size\":64,\"intermediate_size\":"
                                   "256,\"num_hidden_layers\":2,\"num_attention_heads\":1},\"vision_config\":{"
                                   "\"hidden_size\":128,\"intermediate_size\":512,\"num_hidden_layers\":2,"
                                   "\"num_attention_heads\":2,\"patch_size\":16}}";

static void fuzz_config(const uint8_t *d, size_t n, int preprocessor) {
    drop("open_clip_config.json");
    if (preprocessor == 2) {
        put("open_clip_config.json", d, n); /* read instead of config.json */
    } else if (preprocessor) {
        put("config.json", VALID_CONFIG, sizeof VALID_CONFIG - 1);
        put("preprocessor_config.json", d, n);
    } else {
        drop("preprocessor_config.json");
        put("config.json", d, n);
    }
    nli_clip_config cfg;
    int rc = nli_clip_config_load(dir, NLI_LAYOUT_AUTO, &cfg);
    need_message(rc != 0);
    if (rc == 0 && (cfg.vision.hidden_size <= 0 || cfg.text.hidden_size <= 0 || cfg.projection_dim <= 0)) abort();
    if (rc == 0 && (cfg.vision.hidden_size % cfg.vision.num_attention_heads || cfg.vision.image_size % cfg.vision.patch_size ||
                    cfg.text.hidden_size % cfg.text.num_attention_heads || cfg.text.intermediate_size <= 0 ||
                    (cfg.arch == NLI_ARCH_RESNET && (cfg.rn_width <= 0 || cfg.rn_layers[3] <= 0))))
        abort();
    drop("open_clip_config.json");
}

static void fuzz_npy(const uint8_t *d, size_t n) {
    put("a.npy", d, n);
    char p[128];
    snprintf(p, sizeof p, "%s/a.npy", dir);
    float *x = NULL;
    size_t r = 0, c = 0;
    int rc = nl_npy_load(p, &x, &r, &c);
    need_message(rc != 0);
    if (rc == 0) {
        float s = 0;
        for (size_t i = 0; i < r * c; i++) s += x[i]; /* every value is there (ASan) */
        if (s != s && r * c == 0) abort();            /* unreachable: keeps the sum */
        free(x);
    }
}

/* The namespace and dimension are taken from the input's own header when it
 * has one (magic 8, version 4, dim 4, hash 8, ns length 4, ns), so that the
 * records behind it are parsed, not refused as another model's cache. */
static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recompute, in place, the checksums a cache file's reader verifies: the
 * header's (after magic, version, dim, hash, ns length, ns) and each
 * record's (key length 4, key, dim floats, checksum 8), as far as the
 * lengths the bytes declare fit. */
static void fix_cache_checksums(uint8_t *d, size_t n) {
    if (n < 28) return;
    uint32_t hd = le32(d + 12), nl = le32(d + 24);
    size_t dim = hd >= 1 && hd <= 4096 ? hd : 32;
    if (nl > n - 28 || n - 28 - nl < 8) return;
    put_le64(d + 28 + nl, nli_fnv1a(d, 28 + nl, NL_FNV_INIT));
    for (size_t pos = 28 + (size_t)nl + 8; n - pos >= 4;) {
        size_t klen = le32(d + pos), need = 4 + klen + dim * 4 + 8;
        if (klen > n || need > n - pos) return;
        put_le64(d + pos + need - 8, nli_fnv1a(d + pos, need - 8, NL_FNV_INIT));
        pos += need;
    }
}

static void fuzz_cache(const uint8_t *d, size_t n, int fix) {
    uint8_t *copy = NULL;
    if (fix && n) {
        if (!(copy = malloc(n))) return;
        memcpy(copy, d, n);
        fix_cache_checksums(copy, n);
        d = copy;
    }
    put("c.nlc", d, n);
    char p[128], ns[1024] = "fuzz";
    snprintf(p, sizeof p, "%s/c.nlc", dir);
    size_t dim = 32;
    if (n >= 28) {
        uint32_t hd = d[12] | d[13] << 8 | d[14] << 16 | (uint32_t)d[15] << 24;
        uint32_t nl = d[24] | d[25] << 8 | d[26] << 16 | (uint32_t)d[27] << 24;
        if (hd >= 1 && hd <= 4096) dim = hd;
        if (nl < sizeof ns && 28 + (size_t)nl <= n) {
            memcpy(ns, d + 28, nl);
            ns[nl] = 0;
        }
    }
    nli_cache *c = nli_cache_open(p, ns, dim);
    if (!c) { /* a damaged cache is an error or a fresh start */
        need_message(1);
        free(copy);
        return;
    }
    float *v = malloc(dim * sizeof *v);
    char key[32];
    for (int i = 0; v && i < 4; i++) {
        snprintf(key, sizeof key, "k%d", i);
        nli_cache_get(c, key, v);
    }
    if (v && nli_cache_get(c, "the nice brass lantern", v) == 1)
        for (size_t i = 0; i < dim; i++) (void)(volatile float)v[i];
    free(v);
    nli_cache_close(c);
    free(copy);
}

static void fuzz_negatives(const uint8_t *d, size_t n) {
    put("neg.tsv", d, n);
    char p[128];
    snprintf(p, sizeof p, "%s/neg.tsv", dir);
    nl_negatives neg;
    memset(&neg, 0, sizeof neg);
    int rc = nl_negatives_read(p, &neg);
    need_message(rc != 0);
    if (rc == 0) nl_negatives_free(&neg);
}

/* nl_corpus_load with p; what it accepts must add up. */
static void load_corpus(const nl_corpus_params *p) {
    nl_corpus c;
    memset(&c, 0, sizeof c);
    int rc = nl_corpus_load(p, &c);
    need_message(rc != 0);
    if (rc == 0) {
        if (c.n != c.n_noun + c.n_adj) abort();
        nl_corpus_free(&c);
    }
}

static void fuzz_words(const uint8_t *d, size_t n) {
    char lists[128];
    snprintf(lists, sizeof lists, "%s/lists", dir);
    mkdir(lists, 0700);
    put("lists/noun.fuzz.txt", d, n);
    load_corpus(&(nl_corpus_params){.lists_dir = lists});
}

static void fuzz_wordnet(const uint8_t *d, size_t n) {
    char wn[128];
    snprintf(wn, sizeof wn, "%s/wordnet", dir);
    mkdir(wn, 0700);
    put("wordnet/data.noun", d, n);
    put("wordnet/data.adj", "", 0);
    load_corpus(&(nl_corpus_params){.wordnet_dir = wn});
}

static void fuzz_labels(const uint8_t *d, size_t n) {
    put("labels.txt", d, n);
    char p[128];
    snprintf(p, sizeof p, "%s/labels.txt", dir);
    for (int dup = 0; dup < 2; dup++) {
        nl_strvec v = {0};
        int rc = nl_read_id_labels(p, dup, &v);
        need_message(rc != 0);
        for (size_t i = 0; rc == 0 && i < v.n; i++)
            if (!v.v[i]) abort();
        nl_strvec_free(&v);
    }
}

static void fuzz_scores(const uint8_t *d, size_t n) {
    put("scores.csv", d, n);
    char p[128];
    snprintf(p, sizeof p, "%s/scores.csv", dir);
    for (int k = 0; k < 2; k++) {
        double *v = NULL;
        size_t m = 0;
        int rc = nl_read_scores(p, k ? "b" : NULL, &v, &m);
        need_message(rc != 0);
        if (rc == 0 && (!v || !m || m > n)) abort(); /* a value takes a byte at least */
        for (size_t i = 0; rc == 0 && i < m; i++)
            if (!isfinite(v[i])) abort();
        free(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 1) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    nli_seterr_code(NL_OK, "%s", ""); /* so that a failure without a message shows */
    switch (data[0]) {
    case 'C': fuzz_config(d, n, 0); break;
    case 'P': fuzz_config(d, n, 1); break;
    case 'O': fuzz_config(d, n, 2); break;
    case 'N': fuzz_npy(d, n); break;
    case 'K': fuzz_cache(d, n, 0); break;
    case 'k': fuzz_cache(d, n, 1); break;
    case 'G': fuzz_negatives(d, n); break;
    case 'W': fuzz_words(d, n); break;
    case 'L': fuzz_labels(d, n); break;
    case 'D': fuzz_wordnet(d, n); break;
    case 'S': fuzz_scores(d, n); break;
    default: break;
    }
    return 0;
}

#include "fuzz_main.h"
