/* test_safetensors.c — hostile and malformed checkpoints, built at test
 * time: each must be refused with one message naming the file and the
 * problem. Also the half-precision conversions against known bit patterns. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "clip.h"
#include "safetensors.h"
#include "st_build.h"
#include "util.h"

static const char *tmp;
static int counter;

/* Write a synthetic file from a header string and data; return its path. */
static char *synth(const char *hdr, const void *data, size_t dlen) {
    char name[64];
    snprintf(name, sizeof name, "synthetic-%02d.safetensors", counter++);
    char *p = check_path(tmp, name);
    stb_write_raw(p, hdr, strlen(hdr), data, dlen);
    return p;
}

/* Opening path must fail with a message containing the file's path and
 * each of the given fragments. */
static void expect_fail(const char *what, const char *path, const char *frag) {
    nli_st st;
    int rc = nli_st_open_file(path, &st);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0) { nli_st_close(&st); return; }
    const char *e = nli_geterr();
    printf("%-24s -> %s\n", what, e);
    CHECK(strstr(e, path) != NULL, "%s: message does not name the file: %s", what, e);
    CHECK(strstr(e, frag) != NULL, "%s: expected '%s' in: %s", what, frag, e);
}

static void synthetic_cases(void) {
    float data[5] = {1, 2, 3, 4, 5};
    char *p;

    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
              "\"text_model.embeddings.position_ids\":{\"dtype\":\"I64\",\"shape\":[1,77],\"data_offsets\":[0,616]},"
              "\"z\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[16,20]},"
              "\"empty\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[20,20]},"
              "\"__metadata__\":{\"format\":\"pt\"}}", data, sizeof data);
    nli_st st;
    int rc = nli_st_open_file(p, &st);
    CHECK(rc == 0, "valid file refused: %s", nli_geterr());
    if (rc == 0) {
        const nli_st_tensor *a = nli_st_find(&st, "a"), *z = nli_st_find(&st, "z");
        CHECK(a && a->ndim == 2 && a->shape[0] == 2 && a->numel == 4, "tensor a");
        CHECK(z && z->ndim == 0 && z->numel == 1, "scalar z");
        CHECK(nli_st_find(&st, "text_model.embeddings.position_ids") == NULL, "position_ids not ignored");
        CHECK(nli_st_find(&st, "nope") == NULL, "found a missing tensor");
        float out[4] = {0};
        CHECK(a && nli_st_to_f32(&st, a, out) == 0 && out[0] == 1 && out[3] == 4, "f32 read");
        CHECK(z && nli_st_to_f32(&st, z, out) == 0 && out[0] == 5, "scalar read");
        nli_st_close(&st);
    }
    free(p);

    /* No tensors at all (fuzz finding: pointer arithmetic on the still-NULL
     * tensor array, undefined behaviour that UBSan reports): opens, empty. */
    p = synth("{}      ", NULL, 0);
    rc = nli_st_open_file(p, &st);
    CHECK(rc == 0 && st.n == 0, "a file without tensors: rc %d, %zu tensors (%s)", rc, rc == 0 ? st.n : 0,
          nli_geterr());
    if (rc == 0) nli_st_close(&st);
    free(p);
    p = synth("{\"__metadata__\":{\"format\":\"pt\"}}", NULL, 0);
    rc = nli_st_open_file(p, &st);
    CHECK(rc == 0 && st.n == 0, "only metadata: rc %d (%s)", rc, nli_geterr());
    if (rc == 0) nli_st_close(&st);
    free(p);

    /* Header length past the end of the file. */
    p = check_path(tmp, "long-header.safetensors");
    uint8_t raw[20] = {0xe8, 0x03, 0, 0, 0, 0, 0, 0, '{', '}'};
    stb_spit(p, raw, sizeof raw, NULL, 0);
    expect_fail("header length past EOF", p, "past end of file");
    free(p);

    p = check_path(tmp, "short.safetensors");
    stb_spit(p, raw, 5, NULL, 0);
    expect_fail("5-byte file", p, "too short");
    free(p);

    /* Header length over the 100 MB limit, inside a (sparse) file. */
    p = check_path(tmp, "huge-header.safetensors");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint64_t hn = (uint64_t)101 << 20;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hn >> (8 * i));
    CHECK(fd >= 0 && write(fd, le, 8) == 8 && ftruncate(fd, (off_t)(hn + 8)) == 0, "sparse file");
    if (fd >= 0) close(fd);
    expect_fail("101 MB header", p, "limit");
    unlink(p);
    free(p);

    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data, 12);
    expect_fail("offsets outside data", p, "outside data");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[9,8]}}", data, 12);
    expect_fail("end before begin", p, "outside data");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-4,4]}}", data, 16);
    expect_fail("negative offset", p, "outside data");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", data, 16);
    expect_fail("overlapping tensors", p, "overlap");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 16);
    expect_fail("unknown dtype", p, "unknown dtype");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data, 16);
    expect_fail("shape product mismatch", p, "shape implies 12 bytes");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", data, 16);
    expect_fail("negative dimension", p, "non-negative");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}", data, 16);
    expect_fail("shape overflow", p, "overflow");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", data, 16);
    expect_fail("duplicate name", p, "invalid JSON");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_off", data, 16);
    expect_fail("garbage JSON", p, "invalid JSON header at line");
    free(p);
    p = synth("[1,2,3]", data, 16);
    expect_fail("non-object header", p, "not an object");
    free(p);
    p = synth("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data, 16);
    expect_fail("missing data_offsets", p, "data_offsets");
    free(p);

    /* A known but unsupported dtype opens; converting it is the error. */
    p = synth("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 16);
    rc = nli_st_open_file(p, &st);
    CHECK(rc == 0, "I32 tensor refused at open: %s", nli_geterr());
    if (rc == 0) {
        float out[2];
        CHECK(nli_st_to_f32(&st, &st.t[0], out) != 0 && strstr(nli_geterr(), "dtype I32") && strstr(nli_geterr(), p),
              "I32 conversion: %s", nli_geterr());
        nli_st_close(&st);
    }
    free(p);
}

static void half_cases(void) {
    /* Bit patterns from IEEE 754 binary16 / bfloat16 definitions. */
    CHECK(nli_f16_to_f32(0x3c00) == 1.0f, "f16 1.0");
    CHECK(nli_f16_to_f32(0xc000) == -2.0f, "f16 -2.0");
    CHECK(nli_f16_to_f32(0x7bff) == 65504.0f, "f16 max");
    CHECK(nli_f16_to_f32(0x0001) == ldexpf(1, -24), "f16 smallest subnormal");
    CHECK(nli_f16_to_f32(0x03ff) == ldexpf(1023, -24), "f16 largest subnormal");
    CHECK(nli_f16_to_f32(0x0400) == ldexpf(1, -14), "f16 smallest normal");
    CHECK(isinf(nli_f16_to_f32(0x7c00)) && isnan(nli_f16_to_f32(0x7e00)), "f16 inf/nan");
    CHECK(nli_f16_to_f32(0x3555) == 0.333251953125f, "f16 1/3");
    CHECK(nli_bf16_to_f32(0x3f80) == 1.0f && nli_bf16_to_f32(0xc040) == -3.0f, "bf16");
    CHECK(nli_f32_to_bf16(1.0f) == 0x3f80 && nli_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80 &&
              nli_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82, "bf16 rounding to even");
    CHECK(nli_f32_to_f16(1.0f / 3) == 0x3555 && nli_f32_to_f16(65520.0f) == 0x7c00 && nli_f32_to_f16(65504.0f) == 0x7bff,
          "f32->f16");
    CHECK(nli_f32_to_f16(ldexpf(1, -24)) == 0x0001 && nli_f32_to_f16(ldexpf(1, -25)) == 0 &&
              nli_f32_to_f16(ldexpf(3, -26)) == 0x0001, "f32->f16 subnormals");
    /* Every finite half round-trips. */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++)
        if ((h & 0x7c00) != 0x7c00 && nli_f32_to_f16(nli_f16_to_f32((uint16_t)h)) != h) bad++;
    CHECK(bad == 0, "%d halves do not round-trip", bad);
}

/* A folder with the tiny model's config and a modified copy of its
 * weights. edit() changes the header (and may change the data copy). */
typedef void (*edit_fn)(json_t *hdr, uint8_t *data, size_t len);

static char *model_variant(const char *src, const char *name, edit_fn edit) {
    char *dir = check_path(tmp, name);
    nli_mkdir_p(dir);
    char *sc = check_path(src, "config.json"), *dc = check_path(dir, "config.json");
    char *sp = check_path(src, "model.safetensors"), *dp = check_path(dir, "model.safetensors");
    stb s;
    if (stb_read(sp, &s) == 0 && stb_copy(sc, dc) == 0) {
        uint8_t *data = malloc(s.data_len);
        memcpy(data, s.data, s.data_len);
        edit(s.hdr, data, s.data_len);
        stb_write(dp, s.hdr, data, s.data_len);
        free(data);
    }
    stb_free(&s);
    free(sc); free(dc); free(sp); free(dp);
    return dir;
}

static void edit_shape(json_t *h, uint8_t *d, size_t n) {
    json_t *t = json_object_get(h, "vision_model.post_layernorm.weight");
    json_int_t b = json_integer_value(json_array_get(json_object_get(t, "data_offsets"), 0));
    json_object_set_new(t, "shape", json_pack("[i]", 64));
    json_object_set_new(t, "data_offsets", json_pack("[II]", b, b + 256));
}
static void edit_missing(json_t *h, uint8_t *d, size_t n) { json_object_del(h, "text_model.encoder.layers.1.mlp.fc2.bias"); }
static void edit_dtype(json_t *h, uint8_t *d, size_t n) {
    json_object_set_new(json_object_get(h, "text_model.final_layer_norm.bias"), "dtype", json_string("I32"));
}
static void edit_nan(json_t *h, uint8_t *d, size_t n) {
    json_t *t = json_object_get(h, "visual_projection.weight");
    json_int_t b = json_integer_value(json_array_get(json_object_get(t, "data_offsets"), 0));
    float nan = NAN;
    memcpy(d + b + 40, &nan, 4);
}
static void edit_none(json_t *h, uint8_t *d, size_t n) {}

static void expect_load_fail(const char *what, const char *dir, const char *file, const char *frag) {
    nli_clip *c = nli_clip_load(dir, 1);
    CHECK(c == NULL, "%s: accepted", what);
    if (c) { nli_clip_free(c); return; }
    const char *e = nli_geterr();
    printf("%-24s -> %s\n", what, e);
    CHECK(strstr(e, file) != NULL, "%s: message does not name %s: %s", what, file, e);
    CHECK(strstr(e, frag) != NULL, "%s: expected '%s' in: %s", what, frag, e);
}

static void model_cases(const char *src) {
    char *d = model_variant(src, "shape", edit_shape);
    expect_load_fail("altered shape", d, "model.safetensors",
                     "tensor 'vision_model.post_layernorm.weight' has shape [64], config implies [128]");
    free(d);
    d = model_variant(src, "missing", edit_missing);
    expect_load_fail("missing tensor", d, "model.safetensors", "'text_model.encoder.layers.1.mlp.fc2.bias' missing");
    free(d);
    d = model_variant(src, "dtype", edit_dtype);
    expect_load_fail("I32 weight", d, "model.safetensors", "dtype I32");
    free(d);
    d = model_variant(src, "nan", edit_nan);
    expect_load_fail("NaN weight", d, "model.safetensors", "non-finite");
    free(d);

    /* Truncated: the same header over half of the data. */
    d = model_variant(src, "truncated", edit_none);
    char *p = check_path(d, "model.safetensors");
    uint8_t *buf;
    size_t len;
    if (stb_slurp(p, &buf, &len) == 0) stb_spit(p, buf, len / 2, NULL, 0), free(buf);
    expect_load_fail("truncated file", d, "model.safetensors", "outside data");
    free(p);

    /* Sharded: index naming a missing shard, or a path outside the folder. */
    char *idx = check_path(d, "model.safetensors.index.json"), *single = check_path(d, "model.safetensors");
    unlink(single);
    stb_spit(idx, "{\"weight_map\":{\"logit_scale\":\"model-00001-of-00002.safetensors\"}}", 65, NULL, 0);
    expect_load_fail("missing shard", d, "model.safetensors.index.json", "'model-00001-of-00002.safetensors' (for tensor 'logit_scale') does not exist");
    const char *evil = "{\"weight_map\":{\"logit_scale\":\"../truncated/model.safetensors\"}}";
    stb_spit(idx, evil, strlen(evil), NULL, 0);
    expect_load_fail("'..' in index", d, "model.safetensors.index.json", "not a plain file name");
    const char *bad = "{\"weight_map\":{\"logit_scale\":";
    stb_spit(idx, bad, strlen(bad), NULL, 0);
    expect_load_fail("garbage index", d, "model.safetensors.index.json", "invalid JSON at line 1");
    unlink(idx);
    expect_load_fail("no weights", d, d, "no model.safetensors");
    free(idx); free(single); free(d);
}

/* Opening the folder dir must fail with a message containing its index
 * and frag. */
static void expect_fail_dir(const char *what, const char *dir, const char *frag) {
    nli_st st;
    int rc = nli_st_open_dir(dir, &st);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0) { nli_st_close(&st); return; }
    const char *e = nli_geterr();
    printf("%-24s -> %s\n", what, e);
    CHECK(strstr(e, "model.safetensors.index.json") && strstr(e, frag), "%s: expected the index and '%s' in: %s",
          what, frag, e);
}

/* The index reader shared by the loader and the Hub downloader: shard
 * names, the map, the bounds. */
static void write_index(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static void index_cases(void) {
    CHECK(nli_st_valid_shard_name("model-00001-of-00002.safetensors"), "shard name");
    CHECK(nli_st_valid_shard_name("a_B.9.safetensors"), "shard name with '_' and '.'");
    const char *bad_shards[] = {"../model.safetensors", "a/b.safetensors", ".x.safetensors", "model.bin",
                                "x..safetensors", "", ".safetensors", "mo del.safetensors", "C:\\x.safetensors",
                                "/etc/x.safetensors", "model.safetensors.tmp", "a\nb.safetensors"};
    for (size_t i = 0; i < sizeof bad_shards / sizeof bad_shards[0]; i++)
        CHECK(!nli_st_valid_shard_name(bad_shards[i]), "shard '%s' refused", bad_shards[i]);
    char longname[256];
    memset(longname, 'a', 188);
    strcpy(longname + 188, ".safetensors"); /* 200 characters */
    CHECK(nli_st_valid_shard_name(longname), "200-character shard name");
    memmove(longname + 1, longname, strlen(longname) + 1);
    CHECK(!nli_st_valid_shard_name(longname), "201-character shard name refused");

    char *p = check_path(tmp, "index.json");
    write_index(p, "{\"metadata\": {\"total_size\": 8}, \"weight_map\": {\"a\": \"s2.safetensors\", "
                   "\"b\": \"s1.safetensors\", \"c\": \"s2.safetensors\"}}");
    nli_st_index ix;
    int rc = nli_st_index_read(p, &ix);
    CHECK(rc == 0, "valid index refused: %s", nli_geterr());
    if (rc == 0) {
        CHECK(ix.n_shards == 2 && !strcmp(ix.shards[0], "s2.safetensors") && !strcmp(ix.shards[1], "s1.safetensors"),
              "shards in order of first mention");
        CHECK(ix.n_map == 3 && !strcmp(ix.map[0].tensor, "a") && ix.map[0].shard == 0 &&
                  !strcmp(ix.map[1].tensor, "b") && ix.map[1].shard == 1 && ix.map[2].shard == 0,
              "tensor -> shard map");
        nli_st_index_free(&ix);
    }
    const struct { const char *what, *text, *frag; } bad[] = {
        {"garbage index", "{\"weight_map\":", "invalid JSON at line 1"},
        {"duplicate key", "{\"weight_map\": {\"a\": \"s.safetensors\", \"a\": \"s.safetensors\"}}", "invalid JSON"},
        {"no weight_map", "{\"metadata\": {}}", "missing or empty \"weight_map\""},
        {"weight_map array", "{\"weight_map\": [1, 2]}", "missing or empty \"weight_map\""},
        {"empty weight_map", "{\"weight_map\": {}}", "missing or empty \"weight_map\""},
        {"non-string entry", "{\"weight_map\": {\"a\": 3}}", "weight_map entry 'a' is not a string"},
        {"traversal", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}",
         "'../x.safetensors' for tensor 'a' is not a plain file name"},
        {"control bytes", "{\"weight_map\": {\"a\\u001b[2J\": \"x\\u0007.safetensors\"}}",
         "'x?.safetensors' for tensor 'a?[2J'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_index(p, bad[i].text);
        rc = nli_st_index_read(p, &ix);
        CHECK(rc != 0, "%s: accepted", bad[i].what);
        if (rc == 0) { nli_st_index_free(&ix); continue; }
        const char *e = nli_geterr();
        printf("%-24s -> %s\n", bad[i].what, e);
        CHECK(strstr(e, p) && strstr(e, bad[i].frag), "%s: expected the file and '%s' in: %s", bad[i].what,
              bad[i].frag, e);
    }
    /* NL_ST_MAX_SHARDS distinct shards are read, one more is refused */
    for (int n = NL_ST_MAX_SHARDS; n <= NL_ST_MAX_SHARDS + 1; n++) {
        nli_buf b = {0};
        nli_buf_puts(&b, "{\"weight_map\": {");
        for (int i = 0; i < n; i++) nli_buf_printf(&b, "%s\"t%d\": \"s%d.safetensors\"", i ? ", " : "", i, i);
        nli_buf_puts(&b, "}}");
        write_index(p, b.s);
        nli_buf_free(&b);
        rc = nli_st_index_read(p, &ix);
        if (n == NL_ST_MAX_SHARDS) {
            CHECK(rc == 0 && ix.n_shards == n, "%d shards refused: %s", n, nli_geterr());
            if (rc == 0) nli_st_index_free(&ix);
        } else {
            CHECK(rc != 0 && strstr(nli_geterr(), "more than 1024 shards"), "%d shards: %s", n,
                  rc ? nli_geterr() : "accepted");
            if (rc == 0) nli_st_index_free(&ix);
        }
    }
    free(p);

    /* a folder opened through its index: each tensor must be in the shard
     * the index names (position_ids entries are not checked) */
    char *d = check_path(tmp, "sharded"), *s1 = check_path(d, "s1.safetensors"), *s2 = check_path(d, "s2.safetensors");
    char *ip = check_path(d, "model.safetensors.index.json");
    CHECK(mkdir(d, 0777) == 0, "mkdir %s", d);
    float one = 1;
    const char *ha = "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    const char *hb = "{\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
    stb_write_raw(s1, ha, strlen(ha), &one, 4);
    stb_write_raw(s2, hb, strlen(hb), &one, 4);
    write_index(ip, "{\"weight_map\": {\"b\": \"s2.safetensors\", \"a\": \"s1.safetensors\", "
                    "\"text_model.embeddings.position_ids\": \"s1.safetensors\"}}");
    nli_st st;
    rc = nli_st_open_dir(d, &st);
    CHECK(rc == 0, "sharded folder refused: %s", nli_geterr());
    if (rc == 0) {
        const nli_st_tensor *a = nli_st_find(&st, "a"), *b = nli_st_find(&st, "b");
        CHECK(st.n_files == 2 && a && b && a->file == 1 && b->file == 0, "shards opened in order of first mention");
        nli_st_close(&st);
    }
    write_index(ip, "{\"weight_map\": {\"a\": \"s2.safetensors\", \"b\": \"s1.safetensors\"}}");
    expect_fail_dir("tensor in the wrong shard", d, "tensor 'a' is mapped to 's2.safetensors' but not found there");
    write_index(ip, "{\"weight_map\": {\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\", "
                    "\"c\": \"s2.safetensors\"}}");
    expect_fail_dir("tensor in no shard", d, "tensor 'c' is mapped to 's2.safetensors' but not found there");
    free(ip); free(s2); free(s1); free(d);
}

int main(void) {
    tmp = check_tmpdir();
    synthetic_cases();
    half_cases();
    index_cases();
    const char *shared = check_shared(); /* the rest reads the tiny model */
    char *src = check_path(shared, "fixtures/tiny-clip");
    model_cases(src);
    free(src);
    stb_rmtree(check_tmpdir());
    return check_done();
}
