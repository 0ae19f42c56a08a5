/* fuzz_tokenizer.c — libFuzzer harness for the CLIP tokenizer.
 *
 * Input byte 0 picks the target, the rest is the data:
 *   'M': the contents of a merges.txt, loaded against the real vocab.json's
 *        first MERGES_VOCAB entries and special tokens (the 512 byte
 *        symbols, the results of the first merges; written once at setup:
 *        reloading all 49,408 entries made each 'M' input take most of a
 *        second under ASan, a hundred times any other input)
 *   'V': the contents of a vocab.json, loaded with a two-line merges.txt
 *   'J': the contents of a tokenizer.json (Hugging Face tokenizers), and
 *        the same bytes as an OpenCLIP and as a Hugging Face folder's only
 *        tokenizer file (its "added_tokens" matched whole in the text)
 *   'F': text for nli_ftfy_fix_utf8 (ftfy.fix_text) alone
 *   'U': the contents of a Unigram tokenizer.json (unigram_load.c), and
 *        when it loads, a few texts through it
 *   'S': a SentencePiece precompiled charsmap (spm_charsmap.c), and when
 *        it is accepted, a few texts and the input itself through it
 *   'u': text for the Unigram tokenizer of tests/data/unigram (from
 *        NEGLABEL_SRC, else the working directory)
 *   'W': the contents of a WordPiece tokenizer.json or vocab.txt
 *        (wordpiece_load.c): loaded as a tokenizer.json alone (tokenizers'
 *        pipeline), as a folder's tokenizer.json and as a folder's
 *        vocab.txt (transformers 5's BertTokenizer), and when one loads, a
 *        few texts through it
 *   'w': text for the BERT tokenizer of tests/data/wordpiece/uncased (a
 *        folder as ALIGN ships it), and through its normalizer
 *   'P': SigLIP's SentencePiece tokenizer (spm*.c): the input as a folder's
 *        spiece.model alone, and as the tokenizer_config.json beside
 *        tests/data/spm/t5's spiece.model; when one loads, a few texts
 *        through it
 *   'p': text for the SigLIP tokenizer of tests/data/spm/t5 (no config:
 *        SiglipTokenizer's defaults), through canonicalize_text and
 *        through its sentencepiece normalizer
 *   anything else: text for nli_tokenizer_encode (and nli_tokenizer_clean,
 *        both of which run ftfy.fix_text first)
 * The real vocabulary comes from NEGLABEL_SHARED (else ../shared).
 *
 *   cmake -S . -B build-fuzz -DNEGLABEL_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_tokenizer
 *   NEGLABEL_SHARED=$PWD/../shared build-fuzz/fuzz_tokenizer -max_len=4096
 *
 * Invariants checked: no crash or sanitizer report; encode succeeds exactly
 * when the text is valid UTF-8 (as decided by an independent, naive check);
 * output is SOT ... EOT with every id inside the vocabulary; fix_text
 * succeeds exactly on valid UTF-8 and returns valid UTF-8 holding none of
 * what its last round would have changed (C1 controls that windows-1252
 * defines, curly quotes, \r, the control characters ftfy removes); the
 * Unigram tokenizer's encode succeeds exactly on valid UTF-8, its ids in
 * range, and a charsmap's output is valid UTF-8; the WordPiece tokenizer's
 * likewise ([CLS] first and [SEP] last for 'w'), its normalizer's output
 * valid UTF-8, every load error naming the file; the SentencePiece
 * tokenizer's likewise (</s> last, ids inside its vocabulary, plain ASCII
 * always encoded, canonicalize_text's and the normalizer's output valid
 * UTF-8, load errors naming the folder). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ftfy.h"
#include "spm.h"
#include "tokenizer.h"
#include "unigram.h"
#include "util.h"
#include "wordpiece.h"

static nli_tokenizer *tok;
static nli_unigram *ug;
static nli_wordpiece *wp;
static nli_spm *sp;
static char vocab_path[4096], merges_tmp[64], mvocab_path[64];

#define MERGES_VOCAB (512 + 2048)

static void drop_merges_vocab(void) { unlink(mvocab_path); }

/* The real vocabulary cut to ids below MERGES_VOCAB and the two special
 * tokens (49406, 49407), for fuzz_merges. */
static int write_merges_vocab(void) {
    json_error_t e;
    json_t *all = json_load_file(vocab_path, 0, &e), *some = json_object();
    const char *key;
    json_t *v;
    int rc = -1;
    if (all && some) {
        json_object_foreach(all, key, v)
            if (json_is_integer(v) && (json_integer_value(v) < MERGES_VOCAB || json_integer_value(v) >= 49406))
                json_object_set(some, key, v);
        snprintf(mvocab_path, sizeof mvocab_path, "/tmp/fuzz-mvocab-%d.json", (int)getpid());
        rc = json_dump_file(some, mvocab_path, 0);
        if (rc == 0) atexit(drop_merges_vocab);
    }
    json_decref(all);
    json_decref(some);
    return rc;
}

static void setup(void) {
    const char *s = getenv("NEGLABEL_SHARED");
    if (!s || !*s) s = "../shared";
    char merges[4096];
    snprintf(vocab_path, sizeof vocab_path, "%s/clip-tokenizer/vocab.json", s);
    snprintf(merges, sizeof merges, "%s/clip-tokenizer/merges.txt", s);
    tok = nli_tokenizer_load(vocab_path, merges);
    if (!tok) {
        fprintf(stderr, "fuzz_tokenizer: %s (set NEGLABEL_SHARED)\n", nli_geterr());
        abort();
    }
    snprintf(merges_tmp, sizeof merges_tmp, "/tmp/fuzz-merges-%d.txt", (int)getpid());
    if (write_merges_vocab() != 0) {
        fprintf(stderr, "fuzz_tokenizer: cannot write the cut vocabulary for 'M' inputs\n");
        abort();
    }
}

/* Straightforward RFC 3629 check, written differently from the library's. */
static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t c = s[i], len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) return 0;
        if (len == 1) { i++; continue; }
        c &= 0x7F >> len;
        for (uint32_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            c = c << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

static void fuzz_encode(const uint8_t *d, size_t n) {
    int32_t *ids;
    size_t m;
    int rc = nli_tokenizer_encode(tok, (const char *)d, n, &ids, &m);
    if ((rc == 0) != valid_utf8(d, n)) {
        fprintf(stderr, "encode rc %d disagrees with UTF-8 validity: %s\n", rc, nli_geterr());
        abort();
    }
    if (rc) return;
    if (m < 2 || ids[0] != nli_tokenizer_sot(tok) || ids[m - 1] != nli_tokenizer_eot(tok)) abort();
    for (size_t i = 0; i < m; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= nli_tokenizer_vocab_size(tok)) abort();
    free(ids);
    char *clean;
    size_t clen;
    if (nli_tokenizer_clean((const char *)d, n, &clean, &clen) || !valid_utf8((uint8_t *)clean, clen)) abort();
    free(clean);
}

static void fuzz_ftfy(const uint8_t *d, size_t n) {
    char *out;
    size_t m;
    int rc = nli_ftfy_fix_utf8((const char *)d, n, &out, &m);
    if ((rc == 0) != valid_utf8(d, n)) {
        fprintf(stderr, "fix_text rc %d disagrees with UTF-8 validity: %s\n", rc, nli_geterr());
        abort();
    }
    if (rc) return;
    if (!valid_utf8((const uint8_t *)out, m) || out[m] != 0) abort();
    nli_cpbuf cps = {0};
    if (nli_utf8_decode((const uint8_t *)out, m, &cps)) abort();
    for (size_t i = 0; i < cps.n; i++) {
        uint32_t c = cps.v[i];
        /* C1 controls but the five windows-1252 leaves undefined (ftfy keeps them) */
        int c1 = c >= 0x80 && c < 0xA0 && c != 0x81 && c != 0x8D && c != 0x8F && c != 0x90 && c != 0x9D;
        int left = c1 || (c >= 0x2018 && c <= 0x201F) || c == 0x2BC || c == '\r' ||
                   c < 9 || c == 11 || (c >= 14 && c < 32) || c == 0x7F || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
        if (left) {
            fprintf(stderr, "fix_text left U+%04X at %zu\n", c, i);
            abort();
        }
    }
    free(cps.v);
    free(out);
}

static void fuzz_merges(const uint8_t *d, size_t n) {
    FILE *f = fopen(merges_tmp, "wb");
    if (!f) return;
    fwrite(d, 1, n, f);
    fclose(f);
    nli_tokenizer *t = nli_tokenizer_load(mvocab_path, merges_tmp);
    if (t) {
        int32_t *ids;
        size_t m;
        static const char text[] = "a photo of the quick brown fox's 42 hats!!";
        if (nli_tokenizer_encode(t, text, sizeof text - 1, &ids, &m) == 0) free(ids);
        else abort(); /* a tokenizer that loaded must encode plain ASCII */
        nli_tokenizer_free(t);
    } else if (!strstr(nli_geterr(), merges_tmp)) {
        abort(); /* every load error must name the file */
    }
    unlink(merges_tmp);
}

/* The input as vocab.json, with a two-line merges file: the vocabulary's
 * parser (JSON, ids, the 256 byte tokens it must hold) on hostile bytes. */
static void fuzz_vocab(const uint8_t *d, size_t n) {
    char vp[80], mp[80];
    snprintf(vp, sizeof vp, "/tmp/fuzz-vocab-%d.json", (int)getpid());
    snprintf(mp, sizeof mp, "/tmp/fuzz-vmerges-%d.txt", (int)getpid());
    FILE *f = fopen(vp, "wb"), *g = fopen(mp, "wb");
    if (f) fwrite(d, 1, n, f);
    if (g) fputs("#version: 0.2\nt h\n", g);
    if (f) fclose(f);
    if (g) fclose(g);
    nli_tokenizer *t = nli_tokenizer_load(vp, mp);
    if (t) {
        if (nli_tokenizer_vocab_size(t) == 0) abort();
        nli_tokenizer_free(t);
    } else if (!strstr(nli_geterr(), "fuzz-v")) {
        abort(); /* every load error must name the file */
    }
    unlink(vp);
    unlink(mp);
}

/* The input as tokenizer.json: its model section's parser (type, word-end
 * suffix, vocab, merges in both forms) and added tokens; loaded alone and
 * as a folder's tokenizer. A tokenizer that loads encodes short texts (one
 * with the added tokens of the corpus seed) to ids inside its range. */
static void fuzz_json(const uint8_t *d, size_t n) {
    char dir[80], path[120];
    snprintf(dir, sizeof dir, "/tmp/fuzz-tokjson-%d", (int)getpid());
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    mkdir(dir, 0700);
    FILE *f = fopen(path, "wb");
    if (f) fwrite(d, 1, n, f);
    if (f) fclose(f);
    static const char *const texts[] = {"the cat", "The <X> cat!! x<x>x <x>\xc3\xa9!the cat"};
    for (int k = 0; k < 3; k++) {
        nli_tokenizer *t = k ? nli_tokenizer_for_folder(dir, k == 1) : nli_tokenizer_load_json(path);
        if (t) {
            for (int i = 0; i < 2; i++) {
                int32_t *ids;
                size_t m;
                if (nli_tokenizer_encode(t, texts[i], strlen(texts[i]), &ids, &m) == 0) {
                    for (size_t j = 0; j < m; j++)
                        if (ids[j] < 0 || ids[j] >= (1 << 24)) abort();
                    free(ids);
                }
            }
            nli_tokenizer_free(t);
        } else if (!strstr(nli_geterr(), "fuzz-tokjson")) {
            abort(); /* every load error must name the file */
        }
    }
    unlink(path);
    rmdir(dir);
}

static const char *const ug_texts[] = {"a photo of a dog.", "  ＦＵＬＬ ﬁ e\xcc\x81" "cole \xe7\x8a\xac" "<mask> x", "\r\n\t<s></s>"};

static void check_ids(const int32_t *ids, size_t m, size_t bound) {
    for (size_t j = 0; j < m; j++)
        if (ids[j] < 0 || (size_t)ids[j] >= bound) abort();
}

static void fuzz_unigram_json(const uint8_t *d, size_t n) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-unigram-%d.json", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(d, 1, n, f);
    fclose(f);
    nli_unigram *u = nli_unigram_load(path);
    if (u) {
        for (size_t i = 0; i < sizeof ug_texts / sizeof *ug_texts; i++) {
            int32_t *ids;
            size_t m;
            if (nli_unigram_encode(u, ug_texts[i], strlen(ug_texts[i]), &ids, &m) != 0) abort();
            check_ids(ids, m, 1 << 24); /* added tokens may sit past the model's pieces */
            free(ids);
        }
        nli_unigram_free(u);
    } else if (!strstr(nli_geterr(), path)) {
        abort(); /* every load error names the file */
    }
    unlink(path);
}

static void fuzz_charsmap(const uint8_t *d, size_t n) {
    nli_charsmap cm;
    if (nli_charsmap_init(&cm, d, n, "fuzz") != 0) return;
    for (size_t i = 0; i <= sizeof ug_texts / sizeof *ug_texts; i++) {
        const char *t = i < sizeof ug_texts / sizeof *ug_texts ? ug_texts[i] : (const char *)d;
        size_t tn = i < sizeof ug_texts / sizeof *ug_texts ? strlen(t) : n;
        if (!valid_utf8((const uint8_t *)t, tn)) continue;
        char *out = NULL;
        size_t olen = 0, cap = 0;
        if (nli_charsmap_normalize(&cm, t, tn, &out, &olen, &cap) != 0) abort();
        if (!valid_utf8((const uint8_t *)out, olen)) abort();
        free(out);
    }
    nli_charsmap_free(&cm);
}

static void fuzz_unigram_text(const uint8_t *d, size_t n) {
    if (!ug) {
        const char *src = getenv("NEGLABEL_SRC");
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/data/unigram/tokenizer.json", src && *src ? src : ".");
        if (!(ug = nli_unigram_load(path))) {
            fprintf(stderr, "fuzz_tokenizer: %s (set NEGLABEL_SRC)\n", nli_geterr());
            abort();
        }
    }
    int32_t *ids;
    size_t m;
    int rc = nli_unigram_encode(ug, (const char *)d, n, &ids, &m);
    if ((rc == 0) != valid_utf8(d, n)) abort();
    if (rc == 0) {
        check_ids(ids, m, nli_unigram_vocab_size(ug));
        free(ids);
    }
}

#define TEXT(s) {s, sizeof s - 1}
static const struct {
    const char *s;
    size_t n;
} wp_texts[] = {TEXT("a photo of a dog."), TEXT("  \xc3\x84pfel CAF\xc3\x89 [MASK] x[SEP]y \xe4\xb8\x80\xe4\xba\x8c ##a"),
                TEXT("\x00\xef\xbf\xbd\t\xc4\xb0stanbul!!? e\xcc\x81\xcc\x96")};

static void wp_check(const nli_wordpiece *w, const char *text, size_t n, int must) {
    int32_t *ids;
    size_t m;
    int rc = nli_wordpiece_encode(w, text, n, &ids, &m);
    if (must && rc) abort(); /* texts without special tokens encode with any tokenizer that loads */
    if (rc) return;
    check_ids(ids, m, nli_wordpiece_vocab_size(w));
    free(ids);
}

/* The input as a WordPiece tokenizer.json (alone and in a folder) and as
 * a folder's vocab.txt. */
static void fuzz_wordpiece_files(const uint8_t *d, size_t n) {
    char dir[80], path[120];
    snprintf(dir, sizeof dir, "/tmp/fuzz-wordpiece-%d", (int)getpid());
    mkdir(dir, 0700);
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, k == 2 ? "vocab.txt" : "tokenizer.json");
        FILE *f = fopen(path, "wb");
        if (!f) break;
        fwrite(d, 1, n, f);
        fclose(f);
        nli_wordpiece *w = k == 0 ? nli_wordpiece_load_json(path) : nli_wordpiece_load_dir(dir);
        if (w) {
            for (size_t i = 0; i < sizeof wp_texts / sizeof *wp_texts; i++)
                wp_check(w, wp_texts[i].s, wp_texts[i].n, i == 0);
            nli_wordpiece_free(w);
        } else if (!strstr(nli_geterr(), dir)) {
            abort(); /* every load error names the file or the folder */
        }
        unlink(path);
    }
    rmdir(dir);
}

static void fuzz_wordpiece_text(const uint8_t *d, size_t n) {
    if (!wp) {
        const char *src = getenv("NEGLABEL_SRC");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/data/wordpiece/uncased", src && *src ? src : ".");
        if (!(wp = nli_wordpiece_load_dir(dir))) {
            fprintf(stderr, "fuzz_tokenizer: %s (set NEGLABEL_SRC)\n", nli_geterr());
            abort();
        }
    }
    int32_t *ids;
    size_t m;
    int rc = nli_wordpiece_encode(wp, (const char *)d, n, &ids, &m);
    if ((rc == 0) != valid_utf8(d, n)) abort();
    if (rc) return;
    check_ids(ids, m, nli_wordpiece_vocab_size(wp));
    if (m < 2 || ids[m - 1] != nli_wordpiece_last_suffix(wp)) abort();
    free(ids);
    char *out;
    size_t olen;
    if (nli_wordpiece_normalize(wp, (const char *)d, n, &out, &olen) || !valid_utf8((const uint8_t *)out, olen)) abort();
    free(out);
}

#define SP_TEXT(s) {s, sizeof s - 1}
static const struct {
    const char *s;
    size_t n;
} sp_texts[] = {SP_TEXT("a photo of a dog."), SP_TEXT("  \xef\xbc\xa6ULL \xef\xac\x81 e\xcc\x81 \xce\xa3" "A\xce\xa3 </s> x<unk>"),
                SP_TEXT("\x00\xe2\x96\x81\xe2\x96\x81 \xc4\xb0\t<pad>\xe7\x8a\xac")};

static void sp_check(const nli_spm *s, const char *text, size_t n, int must) {
    int32_t *ids;
    size_t m;
    int rc = nli_spm_encode(s, text, n, &ids, &m);
    if (must && rc) abort(); /* plain ASCII encodes with any tokenizer that loads */
    if (rc) return;
    check_ids(ids, m, nli_spm_vocab_size(s));
    if (m < 1 || ids[m - 1] != nli_spm_last_suffix(s)) abort();
    free(ids);
}

static const char *src_dir(void) {
    const char *src = getenv("NEGLABEL_SRC");
    return src && *src ? src : ".";
}

/* The input as a lone spiece.model, then as the tokenizer_config.json
 * beside the real one. */
static void fuzz_spm_files(const uint8_t *d, size_t n) {
    char dir[80], path[120], model[4200];
    snprintf(dir, sizeof dir, "/tmp/fuzz-spm-%d", (int)getpid());
    snprintf(model, sizeof model, "%s/tests/data/spm/t5/spiece.model", src_dir());
    mkdir(dir, 0700);
    for (int k = 0; k < 2; k++) {
        char *real = NULL;
        size_t rlen = 0;
        if (k == 1 && nli_read_file(model, (size_t)1 << 24, &real, &rlen) != 0) break;
        snprintf(path, sizeof path, "%s/spiece.model", dir);
        FILE *f = fopen(path, "wb");
        if (f) fwrite(k ? (const uint8_t *)real : d, 1, k ? rlen : n, f), fclose(f);
        free(real);
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        if (k == 1 && (f = fopen(path, "wb"))) fwrite(d, 1, n, f), fclose(f);
        nli_spm *s = nli_spm_load_dir(dir);
        if (s) {
            for (size_t i = 0; i < sizeof sp_texts / sizeof *sp_texts; i++) sp_check(s, sp_texts[i].s, sp_texts[i].n, i == 0);
            nli_spm_free(s);
        } else if (!strstr(nli_geterr(), dir)) {
            abort(); /* every load error names the folder or a file in it */
        }
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/spiece.model", dir);
    unlink(path);
    rmdir(dir);
}

static void fuzz_spm_text(const uint8_t *d, size_t n) {
    if (!sp) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/tests/data/spm/t5", src_dir());
        if (!(sp = nli_spm_load_dir(dir))) {
            fprintf(stderr, "fuzz_tokenizer: %s (set NEGLABEL_SRC)\n", nli_geterr());
            abort();
        }
    }
    int valid = valid_utf8(d, n);
    int32_t *ids;
    size_t m;
    int rc = nli_spm_encode(sp, (const char *)d, n, &ids, &m);
    if ((rc == 0) != valid) abort();
    if (rc == 0) {
        check_ids(ids, m, nli_spm_vocab_size(sp));
        if (m < 1 || ids[m - 1] != nli_spm_last_suffix(sp)) abort();
        free(ids);
    }
    for (int k = 0; k < 3; k++) {
        char *out;
        size_t olen;
        rc = k < 2 ? nli_spm_canonicalize(k, (const char *)d, n, &out, &olen)
                   : nli_spm_normalize(sp, (const char *)d, n, &out, &olen);
        if ((rc == 0) != valid) abort();
        if (rc == 0 && (!valid_utf8((const uint8_t *)out, olen) || out[olen] != 0)) abort();
        if (rc == 0) free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok) setup();
    if (size == 0) return 0;
    if (data[0] == 'M') fuzz_merges(data + 1, size - 1);
    else if (data[0] == 'V') fuzz_vocab(data + 1, size - 1);
    else if (data[0] == 'J') fuzz_json(data + 1, size - 1);
    else if (data[0] == 'F') fuzz_ftfy(data + 1, size - 1);
    else if (data[0] == 'U') fuzz_unigram_json(data + 1, size - 1);
    else if (data[0] == 'S') fuzz_charsmap(data + 1, size - 1);
    else if (data[0] == 'u') fuzz_unigram_text(data + 1, size - 1);
    else if (data[0] == 'W') fuzz_wordpiece_files(data + 1, size - 1);
    else if (data[0] == 'w') fuzz_wordpiece_text(data + 1, size - 1);
    else if (data[0] == 'P') fuzz_spm_files(data + 1, size - 1);
    else if (data[0] == 'p') fuzz_spm_text(data + 1, size - 1);
    else fuzz_encode(data + 1, size - 1);
    return 0;
}

#include "fuzz_main.h"
