/* test_json_values.c — JSON files of a model (safetensors header, shard
 * index, config.json, tokenizer files) are counted before jansson parses
 * them: past NLI_JSON_MAX_VALUES values they are refused, naming the file,
 * in little memory. Before, a 98 MB header of "[0,0,...]" took 2.0 GB and
 * 8 s, and "[{},{},...]" costs jansson 232 bytes a value (77x the text).
 * Commas and brackets inside strings (escaped quotes among them) are not
 * values; a file just under the bound is read as before. */
#include <jansson.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clip.h"
#include "config_json.h"
#include "safetensors.h"
#include "st_build.h"
#include "tokenizer_impl.h"
#include "util.h"

static const char *tmp;

/* '{' head, then n copies of item joined by ',', then tail. */
static char *repeat(const char *head, const char *item, size_t n, const char *tail, size_t *len) {
    size_t hl = strlen(head), il = strlen(item), tl = strlen(tail);
    char *s = malloc(hl + n * (il + 1) + tl + 1);
    if (!s) return NULL;
    size_t k = 0;
    memcpy(s, head, hl), k += hl;
    for (size_t i = 0; i < n; i++) {
        if (i) s[k++] = ',';
        memcpy(s + k, item, il), k += il;
    }
    memcpy(s + k, tail, tl + 1), k += tl;
    *len = k;
    return s;
}

static void spit(const char *path, const char *s, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(s, 1, len, f) == len && fclose(f) == 0, "write %s", path);
}

static int refused(const char *what, const char *path, int rc) {
    const char *e = nli_geterr();
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0) return 0;
    printf("%-28s -> %s\n", what, e);
    CHECK(strstr(e, path) && strstr(e, "more than 1048576 JSON values"), "%s: %s", what, e);
    return 1;
}

/* The peak RSS (KiB) of a child opening path as a safetensors file,
 * opened or refused, or -1 if the child did not exit. */
static long child_peak(const char *path) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        nli_st st;
        _exit(nli_st_open_file(path, &st) == 0 ? 0 : 1);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) return -1;
    if (!WIFEXITED(status)) return -1;
    return ru.ru_maxrss;
}

static const char tensor[] = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
static const float data[2] = {1, 2};

static void headers(void) {
    size_t len;
    char head[256];
    snprintf(head, sizeof head, "{%s,\"__metadata__\":[", tensor);
    /* a small valid file: the memory every open takes */
    char *small = check_path(tmp, "small.safetensors");
    char *h = repeat(head, "0", 4, "]}", &len);
    stb_write_raw(small, h, len, data, sizeof data);
    free(h);
    long base = child_peak(small);
    CHECK(base > 0, "small.safetensors opens (%ld KiB)", base);

    /* one value past the bound, each a "{}": refused before jansson */
    char *bomb = check_path(tmp, "bomb.safetensors");
    h = repeat("{\"__metadata__\":[", "{}", NLI_JSON_MAX_VALUES, "]}", &len);
    stb_write_raw(bomb, h, len, data, sizeof data);
    free(h);
    nli_st st;
    int rc = nli_st_open_file(bomb, &st);
    if (!refused("header of 1M+1 {} values", bomb, rc)) nli_st_close(&st);
    long peak = child_peak(bomb);
    printf("peak RSS: small.safetensors %ld KiB, %zu-byte header of {} %ld KiB\n", base, len, peak);
    CHECK(peak > 0 && peak < base + 64 * 1024, "a %zu-byte header took %ld KiB (a small file %ld)", len, peak, base);

    /* just under the bound (with the tensor's, the root's and the array's
     * 10 counted: 7 under): read as before */
    char *under = check_path(tmp, "under.safetensors");
    h = repeat(head, "0", NLI_JSON_MAX_VALUES - 16, "]}", &len);
    stb_write_raw(under, h, len, data, sizeof data);
    free(h);
    rc = nli_st_open_file(under, &st);
    CHECK(rc == 0 && st.n == 1, "%zu values under the bound: %s", NLI_JSON_MAX_VALUES - 16, rc ? nli_geterr() : "");
    if (rc == 0) nli_st_close(&st);

    /* commas and brackets in strings are no values, nor is an escaped
     * quote an end of string: 3M of them in metadata strings */
    char *strs = check_path(tmp, "strings.safetensors");
    snprintf(head, sizeof head, "{%s,\"__metadata__\":{\"note\":\"", tensor);
    h = repeat(head, "[{\\\"", 3 << 20, "\",\"b\":\"]\"}}", &len);
    stb_write_raw(strs, h, len, data, sizeof data);
    free(h);
    rc = nli_st_open_file(strs, &st);
    CHECK(rc == 0 && st.n == 1, "3M commas and brackets in a string: %s", rc ? nli_geterr() : "");
    if (rc == 0) nli_st_close(&st);
    free(small), free(bomb), free(under), free(strs);
}

/* the index, config.json and tokenizer files, through their readers */
static void other_files(void) {
    size_t len;
    char *h = repeat("{\"weight_map\":{\"a\":\"model-00001-of-00001.safetensors\"},\"metadata\":[", "[]",
                     NLI_JSON_MAX_VALUES, "]}", &len);
    char *p = check_path(tmp, "model.safetensors.index.json");
    spit(p, h, len);
    nli_st_index ix;
    if (!refused("shard index", p, nli_st_index_read(p, &ix))) nli_st_index_free(&ix);
    free(p);

    p = check_path(tmp, "config.json");
    spit(p, h, len);
    json_t *j = nli_cfg_load_json(p);
    if (!refused("config.json", p, j == NULL)) json_decref(j);
    refused("config.json (is it CLIP?)", p, nli_hf_config_is_clip(p) == -1 ? -1 : 0);
    free(p);

    p = check_path(tmp, "tokenizer.json");
    spit(p, h, len);
    j = nli_tok_read_json(p, 0);
    if (!refused("tokenizer.json", p, j == NULL)) json_decref(j);
    free(p);
    free(h);
}

int main(void) {
    tmp = check_tmpdir();
    headers();
    other_files();
    return check_done();
}
