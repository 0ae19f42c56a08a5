/* test_unpickler.c — hostile PyTorch checkpoints, built here, each refused
 * with its message asserted (the readers of `convert`: zipread.c, pickle.c,
 * torch_ckpt.c; the valid archives are test_convert.c's):
 * - pickles that name other globals (os.system, builtins.eval,
 *   __builtin__.getattr, ... by GLOBAL and STACK_GLOBAL), REDUCE / NEWOBJ /
 *   BUILD of what is not allowed, persistent ids that are not storages;
 * - storages shorter than their tensors, expanded views, sizes and strides
 *   that overflow, negative sizes, too many dimensions, huge integers;
 * - memo abuse, stack games, cycles and deep nesting (lists and modules),
 *   truncation at every byte, unknown opcodes; fuzz_unpickler's findings;
 * - zip archives with '..', absolute, backslash or control-character names,
 *   entries outside the archive's folder, no data.pkl, a big-endian
 *   byteorder, a storage entry shorter than declared or missing, a flipped
 *   byte (CRC), truncation, an absurd size in the central directory, an
 *   empty file;
 * - memory bombs: a deflated storage claiming 1000 times its compressed
 *   size, one storage viewed by many tensors (tied weights, two views, are
 *   read once and shared). Nothing is written for a refused archive;
 * - training checkpoints (open_clip_train's {"epoch", "state_dict",
 *   "optimizer" ...}): the 'state_dict' entry walked, the rest (int keys,
 *   floats, tuples, None, bools, tensors) unpickled and left; a
 *   'state_dict' that is not a dict, twice, or empty; and open_clip's
 *   'module' rule (nli_ckpt_strip_module): the first name decides, 7 bytes
 *   off every name, empty or repeated names refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "check.h"
#include "neglabel.h"
#include "pickle.h"
#include "torch_ckpt.h"
#include "util.h"
#include "zipread.h"

static char tmpdir[256];

/* ------------------------------------------------------------ hostile pickles */

typedef struct {
    uint8_t b[1 << 16];
    size_t n;
} pk;

static void pb(pk *p, const void *s, size_t n) {
    if (p->n + n <= sizeof p->b) { memcpy(p->b + p->n, s, n); p->n += n; }
}
static void op(pk *p, uint8_t c) { pb(p, &c, 1); }
static void str(pk *p, const char *s) { /* SHORT_BINUNICODE or BINUNICODE */
    size_t n = strlen(s);
    if (n < 256) { op(p, 0x8c); op(p, (uint8_t)n); }
    else { op(p, 'X'); uint32_t l = (uint32_t)n; pb(p, &l, 4); }
    pb(p, s, n);
}
static void glob(pk *p, const char *mod, const char *name) {
    op(p, 'c');
    pb(p, mod, strlen(mod));
    op(p, '\n');
    pb(p, name, strlen(name));
    op(p, '\n');
}
static void integer(pk *p, int64_t v) {
    if (v >= 0 && v < 256) { op(p, 'K'); op(p, (uint8_t)v); return; }
    op(p, 0x8a);
    op(p, 8);
    pb(p, &v, 8);
}
static void ints(pk *p, const int64_t *v, int n) {
    op(p, '(');
    for (int i = 0; i < n; i++) integer(p, v[i]);
    op(p, 't');
}
/* _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict()) */
static void tensor(pk *p, const char *type, const char *key, int64_t numel, int64_t off, const int64_t *size,
                   const int64_t *stride, int ndim) {
    glob(p, "torch._utils", "_rebuild_tensor_v2");
    op(p, '(');
    op(p, '(');
    str(p, "storage");
    glob(p, "torch", type);
    str(p, key);
    str(p, "cpu");
    integer(p, numel);
    op(p, 't');
    op(p, 'Q');
    integer(p, off);
    ints(p, size, ndim);
    ints(p, stride, ndim);
    op(p, 0x89);
    glob(p, "collections", "OrderedDict");
    op(p, ')');
    op(p, 'R');
    op(p, 't');
    op(p, 'R');
}
static void start(pk *p) { p->n = 0; op(p, 0x80); op(p, 2); }

/* A state dict {name: tensor} with one tensor of the given geometry. */
static void one_tensor(pk *p, const char *type, int64_t numel, int64_t off, const int64_t *size, const int64_t *stride,
                       int ndim) {
    start(p);
    op(p, '}');
    str(p, "w");
    tensor(p, type, "0", numel, off, size, stride, ndim);
    op(p, 's');
    op(p, '.');
}

/* Unpickle and walk (as a state dict, or objects without code); expect an
 * error containing want, or success when want is NULL. */
static void expect_pickle(const pk *p, const char *want, const char *what) {
    nli_pk_arena *a;
    nli_pk *root;
    int rc = nli_unpickle(p->b, p->n, "t.pkl", &a, &root);
    if (rc == 0) {
        nli_ckpt ck;
        memset(&ck, 0, sizeof ck);
        rc = nli_ckpt_walk(&ck, root, "t.pkl");
        for (size_t i = 0; i < ck.n; i++) free(ck.t[i].name);
        free(ck.t);
        nli_pk_free(a);
    }
    if (getenv("TEST_VERBOSE")) printf("%s -> %s\n", what, rc ? nli_geterr() : "accepted");
    if (!want) { CHECK(rc == 0, "%s: refused: %s", what, nli_geterr()); return; }
    CHECK(rc != 0, "%s: accepted", what);
    if (rc != 0) CHECK(strstr(nli_geterr(), want) != NULL, "%s: message '%s' lacks '%s'", what, nli_geterr(), want);
}

static void hostile_pickles(void) {
    pk p;
    int64_t s22[] = {2, 2}, st21[] = {2, 1};

    one_tensor(&p, "FloatStorage", 4, 0, s22, st21, 2);
    expect_pickle(&p, NULL, "a valid 2x2 tensor");
    /* the same, ended early at every byte: never accepted, never a crash */
    int truncated_ok = 1;
    for (size_t cut = 0; cut + 1 < p.n; cut++) {
        nli_pk_arena *a;
        nli_pk *root;
        if (nli_unpickle(p.b, cut, "t.pkl", &a, &root) == 0) { truncated_ok = 0; nli_pk_free(a); }
    }
    CHECK(truncated_ok, "a truncated pickle was accepted");
    pk q = p;
    q.n -= 1;
    expect_pickle(&q, "ends without STOP", "no STOP");

    /* other globals, by GLOBAL and STACK_GLOBAL, called or not */
    const char *evil[][2] = {{"os", "system"}, {"builtins", "eval"}, {"__builtin__", "getattr"},
                             {"posix", "system"}, {"torch", "load"}, {"torch._utils", "_rebuild_tensor"},
                             {"subprocess", "Popen"}, {"torch.serialization", "_get_layout"}};
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        char want[200], what[200];
        snprintf(want, sizeof want, "global '%s.%s' is not allowed", evil[i][0], evil[i][1]);
        start(&p);
        glob(&p, evil[i][0], evil[i][1]);
        str(&p, "echo pwned");
        op(&p, 0x85);
        op(&p, 'R');
        op(&p, '.');
        snprintf(what, sizeof what, "GLOBAL %s.%s + REDUCE", evil[i][0], evil[i][1]);
        expect_pickle(&p, want, what);
        start(&p);
        str(&p, evil[i][0]);
        str(&p, evil[i][1]);
        op(&p, 0x93);
        op(&p, '.');
        snprintf(what, sizeof what, "STACK_GLOBAL %s.%s", evil[i][0], evil[i][1]);
        expect_pickle(&p, want, what);
    }
    /* a global name with a NUL, or split oddly, is no way around the list */
    start(&p);
    str(&p, "torch");
    op(&p, 'C'); op(&p, 12); pb(&p, "FloatStorage", 12); /* bytes, not str */
    op(&p, 0x93);
    op(&p, '.');
    expect_pickle(&p, "STACK_GLOBAL of non-strings", "STACK_GLOBAL of bytes");
    start(&p);
    glob(&p, "__torch__.a b", "C");
    op(&p, '.');
    expect_pickle(&p, "is not allowed", "a TorchScript class name with a space");

    /* allowed names used the wrong way */
    start(&p);
    glob(&p, "torch", "FloatStorage");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '.');
    expect_pickle(&p, "REDUCE of 'torch.FloatStorage' is not allowed", "REDUCE of a storage type");
    start(&p);
    glob(&p, "__torch__", "CLIP");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '.');
    expect_pickle(&p, "REDUCE of '__torch__.CLIP' is not allowed", "REDUCE of a TorchScript class");
    start(&p);
    glob(&p, "collections", "OrderedDict");
    op(&p, ')');
    op(&p, 0x81);
    op(&p, '.');
    expect_pickle(&p, "NEWOBJ of 'collections.OrderedDict' is not allowed", "NEWOBJ of OrderedDict");
    start(&p);
    op(&p, ']');
    op(&p, '}');
    op(&p, 'b');
    op(&p, '.');
    expect_pickle(&p, "BUILD of a list", "BUILD of a list");
    start(&p);
    str(&p, "x");
    op(&p, ')');
    op(&p, 'R');
    op(&p, '.');
    expect_pickle(&p, "REDUCE of a str", "REDUCE of a string");
    start(&p);
    op(&p, 'c'); pb(&p, "os\nsystem", 9); /* no final newline */
    expect_pickle(&p, "GLOBAL without a newline", "GLOBAL cut short");
    const uint8_t unsupported[] = {'i', 'o', 'P', 'I', 'S', 0x92, 'V', 0x96};
    for (size_t i = 0; i < sizeof unsupported; i++) {
        start(&p);
        op(&p, unsupported[i]);
        op(&p, '.');
        expect_pickle(&p, "is not supported", "an unsupported opcode");
    }
    /* persistent ids other than storages */
    start(&p);
    str(&p, "/etc/passwd");
    op(&p, 'Q');
    op(&p, '.');
    expect_pickle(&p, "not a 5-tuple", "a persistent id string");
    start(&p);
    op(&p, '(');
    str(&p, "storage");
    glob(&p, "torch", "FloatStorage");
    str(&p, "../../etc/passwd");
    str(&p, "cpu");
    integer(&p, 4);
    op(&p, 't');
    op(&p, 'Q');
    op(&p, '.');
    expect_pickle(&p, "storage key that is not a short name", "a storage key with a path");

    /* storages shorter than their tensors; sizes and strides that overflow */
    one_tensor(&p, "FloatStorage", 3, 0, s22, st21, 2);
    expect_pickle(&p, "the storage is shorter than the tensor", "a 2x2 tensor on 3 elements");
    one_tensor(&p, "FloatStorage", 4, 1, s22, st21, 2);
    expect_pickle(&p, "the storage is shorter than the tensor", "a 2x2 tensor at offset 1 of 4 elements");
    int64_t tstride[] = {1, 3};
    one_tensor(&p, "HalfStorage", 4, 0, s22, tstride, 2);
    expect_pickle(&p, "the storage is shorter than the tensor", "a strided view past the storage");
    int64_t exp_size[] = {1000000, 4}, exp_stride[] = {0, 1};
    one_tensor(&p, "FloatStorage", 4, 0, exp_size, exp_stride, 2);
    expect_pickle(&p, "tensor of 4000000 elements on storage '0' of 4 (an overlapping view)", "an expanded view");
    int64_t huge[] = {(int64_t)1 << 32, (int64_t)1 << 32}, hs[] = {(int64_t)1 << 32, 1};
    one_tensor(&p, "FloatStorage", 4, 0, huge, hs, 2);
    expect_pickle(&p, "more than 2^40 elements", "a 2^64-element tensor");
    int64_t big1[] = {3}, bigst[] = {INT64_MAX / 2 + 1};
    one_tensor(&p, "FloatStorage", 4, 0, big1, bigst, 1);
    expect_pickle(&p, "strides overflow", "a stride that overflows");
    int64_t neg[] = {-2, 2};
    one_tensor(&p, "FloatStorage", 4, 0, neg, st21, 2);
    expect_pickle(&p, "negative", "a negative size");
    one_tensor(&p, "FloatStorage", (int64_t)1 << 41, 0, s22, st21, 2);
    expect_pickle(&p, "of 2199023255552 elements", "a storage of 2^41 elements");
    one_tensor(&p, "FloatStorage", 4, -1, s22, st21, 2);
    expect_pickle(&p, "negative tensor offset", "a negative offset");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    one_tensor(&p, "FloatStorage", 4, 0, nine, nine, 9);
    expect_pickle(&p, "9 dimensions", "nine dimensions");
    start(&p);
    op(&p, 0x8a); op(&p, 9); pb(&p, "123456789", 9);
    op(&p, '.');
    expect_pickle(&p, "an integer of 9 bytes", "a 9-byte integer");

    /* memo abuse */
    start(&p);
    op(&p, 'h'); op(&p, 7);
    op(&p, '.');
    expect_pickle(&p, "memo index 7 was never set", "BINGET of an unset slot");
    start(&p);
    op(&p, ']');
    op(&p, 'r'); pb(&p, "\xff\xff\xff\x7f", 4);
    op(&p, '.');
    expect_pickle(&p, "out of range", "LONG_BINPUT at 2^31");
    start(&p);
    op(&p, 'j'); pb(&p, "\xff\xff\xff\xff", 4);
    op(&p, '.');
    expect_pickle(&p, "never set", "LONG_BINGET at 2^32-1");
    /* a list holding itself, a million times: the arena frees it at once */
    start(&p);
    op(&p, ']');
    op(&p, 'q'); op(&p, 0);
    op(&p, '(');
    for (int i = 0; i < 20000; i++) { op(&p, 'h'); op(&p, 0); }
    op(&p, 'e');
    op(&p, '.');
    expect_pickle(&p, "holds a list", "a self-referencing list");
    /* stack games; the first: an empty tuple from a MARK on an empty
     * stack (fuzz_unpickler's first finding: NULL + 0 under UBSan) */
    start(&p);
    op(&p, '(');
    op(&p, 't');
    op(&p, '.');
    expect_pickle(&p, "holds a tuple", "MARK TUPLE on an empty stack");
    start(&p);
    op(&p, '0');
    op(&p, '.');
    expect_pickle(&p, "stack underflow", "POP of nothing");
    start(&p);
    op(&p, '(');
    op(&p, 'R');
    op(&p, '.');
    expect_pickle(&p, "stack underflow", "REDUCE across a MARK");
    start(&p);
    op(&p, 'u');
    op(&p, '.');
    expect_pickle(&p, "no MARK", "SETITEMS without a MARK");
    start(&p);
    op(&p, ']');
    op(&p, '(');
    op(&p, 'N');
    op(&p, 'u');
    op(&p, '.');
    expect_pickle(&p, "SETITEM on a list", "SETITEMS on a list");
    start(&p);
    op(&p, 0x80); op(&p, 9);
    expect_pickle(&p, "pickle protocol 9", "protocol 9");
    /* 100000 nested lists: no recursion in the machine */
    start(&p);
    for (int i = 0; i < 30000; i++) op(&p, ']');
    for (int i = 0; i < 29999; i++) op(&p, 'a');
    op(&p, '.');
    expect_pickle(&p, "holds a list", "30000 nested lists");

    /* state dicts that are not */
    start(&p);
    op(&p, '}');
    str(&p, "w");
    str(&p, "not a tensor");
    op(&p, 's');
    op(&p, '.');
    expect_pickle(&p, "'w' is a str, not a tensor", "a state dict of a string");
    start(&p);
    op(&p, '}');
    op(&p, '.');
    expect_pickle(&p, "no tensors", "an empty state dict");
    start(&p);
    op(&p, '}');
    op(&p, '(');
    str(&p, "w");
    tensor(&p, "FloatStorage", "0", 4, 0, s22, st21, 2);
    str(&p, "w");
    tensor(&p, "FloatStorage", "1", 4, 0, s22, st21, 2);
    op(&p, 'u');
    op(&p, '.');
    expect_pickle(&p, "tensor 'w' appears twice", "a name twice");

    /* TorchScript objects: a module that contains itself; 100 nested modules */
    start(&p);
    glob(&p, "__torch__", "M");
    op(&p, ')');
    op(&p, 0x81);
    op(&p, 'q'); op(&p, 0);
    op(&p, '}');
    str(&p, "self");
    op(&p, 'h'); op(&p, 0);
    op(&p, 's');
    op(&p, 'b');
    op(&p, '.');
    expect_pickle(&p, "nested deeper than 64 (or a cycle)", "a module that holds itself");
    start(&p);
    for (int i = 0; i < 100; i++) {
        glob(&p, "__torch__", "M");
        op(&p, ')');
        op(&p, 0x81);
        op(&p, '}');
        str(&p, "m");
    }
    op(&p, 'N');
    for (int i = 0; i < 100; i++) {
        op(&p, 's'); /* {"m": child} */
        op(&p, 'b'); /* BUILD the object below with it: it is the child of the next */
    }
    op(&p, '.');
    expect_pickle(&p, "nested deeper than 64", "100 nested modules");
    /* modules shared along many paths: module k holds module k-1 twice
     * (BINGET of its memo slot), so 40 levels are 2^40 paths in a pickle of
     * a few hundred bytes; before, the walk took them all (hours). A
     * module shared by two parents (4 levels here) is walked once per path. */
    for (int levels = 4; levels <= 40; levels += 36) {
        start(&p);
        glob(&p, "__torch__", "M");
        op(&p, ')');
        op(&p, 0x81);
        op(&p, '}');
        str(&p, "w");
        int64_t three[] = {3}, unit[] = {1};
        tensor(&p, "FloatStorage", "0", 3, 0, three, unit, 1);
        op(&p, 's');
        op(&p, 'b');
        op(&p, 'q'); op(&p, 0);
        for (int k = 1; k <= levels; k++) {
            op(&p, '0'); /* POP the module below: it is in the memo */
            glob(&p, "__torch__", "M");
            op(&p, ')');
            op(&p, 0x81);
            op(&p, '}');
            str(&p, "a");
            op(&p, 'h'); op(&p, (uint8_t)(k - 1));
            op(&p, 's');
            str(&p, "b");
            op(&p, 'h'); op(&p, (uint8_t)(k - 1));
            op(&p, 's');
            op(&p, 'b');
            op(&p, 'q'); op(&p, (uint8_t)k);
        }
        op(&p, '.');
        expect_pickle(&p, levels == 4 ? NULL : "more than 1048576 module attributes to visit",
                      levels == 4 ? "a module shared along 16 paths" : "a module shared along 2^40 paths");
    }
    start(&p);
    glob(&p, "__torch__", "M");
    op(&p, ')');
    op(&p, 0x81);
    op(&p, '.');
    expect_pickle(&p, "has no attribute dict", "a module without state");
    start(&p);
    glob(&p, "__torch__", "M");
    op(&p, ')');
    op(&p, 0x81);
    op(&p, '}');
    op(&p, 'b');
    op(&p, '}');
    op(&p, 'b');
    op(&p, '.');
    expect_pickle(&p, "BUILD of an object twice", "BUILD twice");
}

/* ------------------------------------------------------------ hostile archives */

typedef struct {
    const char *name;
    const void *data;
    size_t len;
} zentry;

/* A zip of the entries, stored (uncompressed) unless deflate. */
static int write_zip(const char *path, const zentry *e, size_t n, int deflate) {
    int err;
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!za) return -1;
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, e[i].data, e[i].len, 0);
        zip_int64_t idx = s ? zip_file_add(za, e[i].name, s, ZIP_FL_ENC_UTF_8) : -1;
        if (idx < 0) { zip_source_free(s); zip_discard(za); return -1; }
        zip_set_file_compression(za, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    }
    return zip_close(za);
}

static void expect_convert(const char *path, const char *want, const char *what) {
    char out[512];
    snprintf(out, sizeof out, "%s/out-hostile", tmpdir);
    int rc = nl_convert_checkpoint(path, out);
    if (getenv("TEST_VERBOSE")) printf("%s -> %s\n", what, rc ? nl_last_error() : "accepted");
    CHECK(rc != 0, "%s: accepted", what);
    if (rc != 0) CHECK(strstr(nl_last_error(), want) != NULL, "%s: message '%s' lacks '%s'", what, nl_last_error(), want);
    char *probe = check_path(out, "open_clip_model.safetensors");
    CHECK(access(probe, F_OK) != 0, "%s: wrote %s anyway", what, probe);
    free(probe);
}

static uint8_t *slurp(const char *path, size_t *n) {
    char *d;
    if (nli_read_file(path, (size_t)1 << 30, &d, n) != 0) return NULL;
    return (uint8_t *)d;
}

static void hostile_archives(void) {
    pk p;
    int64_t s22[] = {2, 2}, st21[] = {2, 1};
    one_tensor(&p, "FloatStorage", 4, 0, s22, st21, 2);
    float four[4] = {1, 2, 3, 4};
    char path[512];
    snprintf(path, sizeof path, "%s/h.pt", tmpdir);

    /* a valid archive first (the reader takes it; convert refuses a non-CLIP) */
    zentry ok[] = {{"a/data.pkl", p.b, p.n}, {"a/byteorder", "little", 6}, {"a/data/0", four, 16}};
    CHECK(write_zip(path, ok, 3, 0) == 0, "writing %s", path);
    nli_ckpt ck;
    int rc = nli_ckpt_open(path, &ck);
    CHECK(rc == 0, "a valid one-tensor archive: %s", nli_geterr());
    if (rc == 0) {
        rc = nli_ckpt_load_data(&ck);
        CHECK(rc == 0 && ck.n == 1 && ck.t[0].nbytes == 16 && !memcmp(ck.t[0].data, four, 16),
              "the one-tensor archive's bytes: %s", rc ? nli_geterr() : "wrong");
        nli_ckpt_free(&ck);
    }
    expect_convert(path, "no tensor 'visual.layer1.0.conv1.weight' (not an OpenAI CLIP state dict)", "a non-CLIP");
    CHECK(write_zip(path, ok, 3, 1) == 0, "writing %s", path);
    rc = nli_ckpt_open(path, &ck);
    CHECK(rc == 0, "the same, deflated: %s", nli_geterr());
    if (rc == 0) {
        CHECK(nli_ckpt_load_data(&ck) == 0 && !memcmp(ck.t[0].data, four, 16), "deflated bytes");
        nli_ckpt_free(&ck);
    }

    /* memory bombs: one storage viewed by several tensors, each of which
     * used to get its own copy (and its own copy in the output), and a
     * deflated storage that claims a size far beyond its compressed bytes
     * (torch.save writes storages stored) */
    {
        const int64_t numel = (int64_t)1 << 20; /* 4 MiB of float zeros, about 4 KiB deflated */
        uint8_t *zeros = calloc((size_t)numel, 4);
        int64_t one = 1;
        pk v;
        start(&v);
        op(&v, '}');
        op(&v, '(');
        for (int k = 0; k < 8; k++) {
            char key[8];
            snprintf(key, sizeof key, "t%d", k);
            str(&v, key);
            tensor(&v, "FloatStorage", "0", numel, 0, &numel, &one, 1);
        }
        op(&v, 'u');
        op(&v, '.');
        zentry bomb[] = {{"a/data.pkl", v.b, v.n}, {"a/data/0", zeros, (size_t)numel * 4}};
        CHECK(zeros && write_zip(path, bomb, 2, 1) == 0, "writing %s", path);
        rc = nli_ckpt_open(path, &ck);
        CHECK(rc == 0 && ck.n == 8, "the deflate bomb opens: %s", nli_geterr());
        if (rc == 0) {
            rc = nli_ckpt_load_data(&ck);
            CHECK(rc != 0 && strstr(nli_geterr(), "storage a/data/0 is deflated from ") &&
                      strstr(nli_geterr(), " to 4194304 bytes: deflated storages may inflate to at most 32 times"),
                  "a deflated storage of 4 MiB zeros viewed 8 times: %s", rc ? nli_geterr() : "accepted");
            nli_ckpt_free(&ck);
        }
        /* the same stored: no inflation, but 8 views of 4 MiB */
        CHECK(write_zip(path, bomb, 2, 0) == 0, "writing %s", path);
        rc = nli_ckpt_open(path, &ck);
        if (rc == 0) {
            rc = nli_ckpt_load_data(&ck);
            CHECK(rc != 0 && strstr(nli_geterr(), "its tensors take 33554432 bytes of 4194304 bytes of storage") &&
                      strstr(nli_geterr(), "storage a/data/0 of 4194304 bytes is viewed by 8 tensors"),
                  "a stored storage of 4 MiB viewed 8 times: %s", rc ? nli_geterr() : "accepted");
            nli_ckpt_free(&ck);
        }
        free(zeros);
        /* tied weights (two views of one storage) are read once and shared */
        int64_t four_n = 4;
        start(&v);
        op(&v, '}');
        op(&v, '(');
        str(&v, "a");
        tensor(&v, "FloatStorage", "0", 4, 0, &four_n, &one, 1);
        str(&v, "b");
        tensor(&v, "FloatStorage", "0", 4, 0, &four_n, &one, 1);
        op(&v, 'u');
        op(&v, '.');
        zentry tied[] = {{"a/data.pkl", v.b, v.n}, {"a/data/0", four, 16}};
        CHECK(write_zip(path, tied, 2, 0) == 0, "writing %s", path);
        rc = nli_ckpt_open(path, &ck);
        CHECK(rc == 0, "tied weights open: %s", nli_geterr());
        if (rc == 0) {
            rc = nli_ckpt_load_data(&ck);
            CHECK(rc == 0 && ck.n == 2 && !memcmp(ck.t[0].data, four, 16) && !memcmp(ck.t[1].data, four, 16),
                  "tied weights' bytes: %s", rc ? nli_geterr() : "wrong");
            CHECK(rc != 0 || ck.t[0].data == ck.t[1].data, "tied weights share one copy of their storage");
            nli_ckpt_free(&ck);
        }
    }

    /* bad names */
    const char *names[][2] = {{"a/../../etc/data.pkl", "'..' component"}, {"/abs/data.pkl", "an absolute path"},
                              {"a\\data.pkl", "a backslash"}, {"a//data.pkl", "an empty path component"},
                              {"a/da\x01ta.pkl", "a control character"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        /* libzip will not write a control character: a placeholder, patched in the bytes */
        const char *nm = strchr(names[i][0], 1) ? "a/da_ta.pkl" : names[i][0];
        zentry e[] = {{"a/data.pkl", p.b, p.n}, {nm, "x", 1}, {"a/data/0", four, 16}};
        CHECK(write_zip(path, e, 3, 0) == 0, "writing %s", path);
        if (nm != names[i][0]) {
            size_t n;
            uint8_t *z = slurp(path, &n), *hit = z;
            int patched = 0;
            while (hit && (hit = memmem(hit, n - (size_t)(hit - z), nm, strlen(nm)))) { hit[4] = 1; patched++; }
            CHECK(patched == 2, "patching the name in the local and central headers (%d)", patched);
            FILE *f = fopen(path, "wb");
            if (z && f) fwrite(z, 1, n, f);
            if (f) fclose(f);
            free(z);
        }
        expect_convert(path, names[i][1], names[i][0]);
    }
    /* a ':' in the folder's name: torch.save names it after the file, and
     * "ckpt_2024-01-01T12:00.pt" is one (it was refused as a bad name) */
    {
        zentry e[] = {{"ckpt_2024-01-01T12:00/data.pkl", p.b, p.n}, {"ckpt_2024-01-01T12:00/byteorder", "little", 6},
                      {"ckpt_2024-01-01T12:00/data/0", four, 16}};
        CHECK(write_zip(path, e, 3, 0) == 0, "writing %s", path);
        rc = nli_ckpt_open(path, &ck);
        CHECK(rc == 0, "a folder named with a ':': %s", nli_geterr());
        if (rc == 0) {
            CHECK(nli_ckpt_load_data(&ck) == 0 && ck.n == 1 && !memcmp(ck.t[0].data, four, 16), "its bytes: %s",
                  nli_geterr());
            nli_ckpt_free(&ck);
        }
    }
    /* data.pkl as a deflate bomb: 4 MiB of pickle in a few KiB (the
     * unpickler's values take ~100 bytes a pickle byte: 64 MiB of pickle
     * took 6.9 GB); and, stored, more values than NL_PK_MAX_VALUES */
    {
        size_t nb = ((size_t)4 << 20) + 16;
        uint8_t *big = malloc(nb);
        CHECK(big != NULL, "malloc");
        if (big) {
            big[0] = 0x80, big[1] = 2;
            memset(big + 2, 'N', nb - 3);
            big[nb - 1] = '.';
            zentry e[] = {{"a/data.pkl", big, nb}, {"a/data/0", four, 16}};
            CHECK(write_zip(path, e, 2, 1) == 0, "writing %s", path);
            rc = nli_ckpt_open(path, &ck);
            CHECK(rc != 0 && strstr(nli_geterr(), "a/data.pkl is deflated from ") &&
                      strstr(nli_geterr(), " to 4194320 bytes: at most 32 times its compressed size"),
                  "a deflated data.pkl of 4 MiB: %s", rc ? nli_geterr() : "accepted");
            if (rc == 0) nli_ckpt_free(&ck);
            CHECK(write_zip(path, e, 2, 0) == 0, "writing %s", path);
            rc = nli_ckpt_open(path, &ck);
            CHECK(rc != 0 && strstr(nli_geterr(), "more than 4194304 values"), "4 Mi Nones, stored: %s",
                  rc ? nli_geterr() : "accepted");
            if (rc == 0) nli_ckpt_free(&ck);
            free(big);
        }
    }
    /* other structure problems */
    zentry outside[] = {{"a/data.pkl", p.b, p.n}, {"b/data/0", four, 16}};
    write_zip(path, outside, 2, 0);
    expect_convert(path, "outside the archive's folder", "an entry in another folder");
    zentry nopkl[] = {{"a/data/0", four, 16}};
    write_zip(path, nopkl, 1, 0);
    expect_convert(path, "no a/data.pkl (not a PyTorch archive)", "no data.pkl");
    zentry big[] = {{"a/data.pkl", p.b, p.n}, {"a/byteorder", "big", 3}, {"a/data/0", four, 16}};
    write_zip(path, big, 3, 0);
    expect_convert(path, "a big-endian archive", "byteorder big");
    zentry short_st[] = {{"a/data.pkl", p.b, p.n}, {"a/data/0", four, 12}};
    write_zip(path, short_st, 2, 0);
    rc = nli_ckpt_open(path, &ck);
    CHECK(rc == 0, "the short-storage archive opens: %s", nli_geterr());
    if (rc == 0) {
        rc = nli_ckpt_load_data(&ck);
        CHECK(rc != 0 && strstr(nli_geterr(), "holds 12 bytes, its header says 4 elements of 4 bytes"),
              "a storage entry shorter than declared: %s", rc ? nli_geterr() : "accepted");
        nli_ckpt_free(&ck);
    }
    zentry missing[] = {{"a/data.pkl", p.b, p.n}};
    write_zip(path, missing, 1, 0);
    rc = nli_ckpt_open(path, &ck);
    if (rc == 0) {
        rc = nli_ckpt_load_data(&ck);
        CHECK(rc != 0 && strstr(nli_geterr(), "its storage a/data/0 is missing"), "a missing storage: %s",
              rc ? nli_geterr() : "accepted");
        nli_ckpt_free(&ck);
    }
    pk evil;
    start(&evil);
    glob(&evil, "os", "system");
    str(&evil, "touch /tmp/neglabel-pwned");
    op(&evil, 0x85);
    op(&evil, 'R');
    op(&evil, '.');
    zentry ev[] = {{"a/data.pkl", evil.b, evil.n}};
    write_zip(path, ev, 1, 0);
    expect_convert(path, "a/data.pkl: pickle byte 2 (opcode 0x63): global 'os.system' is not allowed", "os.system");

    /* byte-level damage: a wrong CRC (one stored byte flipped), truncation */
    write_zip(path, ok, 3, 0);
    size_t n;
    uint8_t *z = slurp(path, &n);
    CHECK(z != NULL, "reading back %s", path);
    if (z) {
        uint8_t *hit = memmem(z, n, four, 16); /* the stored storage bytes */
        CHECK(hit != NULL, "the storage bytes in the zip");
        if (hit) {
            hit[5] ^= 0x40;
            FILE *f = fopen(path, "wb");
            fwrite(z, 1, n, f);
            fclose(f);
            rc = nli_ckpt_open(path, &ck);
            if (rc == 0) {
                rc = nli_ckpt_load_data(&ck);
                nli_ckpt_free(&ck);
            }
            CHECK(rc != 0 && strstr(nli_geterr(), "CRC error"), "a flipped byte: %s", rc ? nli_geterr() : "accepted");
            hit[5] ^= 0x40;
        }
        for (size_t cut = 1; cut < n; cut += n / 23 + 1) {
            FILE *f = fopen(path, "wb");
            fwrite(z, 1, cut, f);
            fclose(f);
            expect_convert(path, "not a readable zip archive", "a truncated zip");
        }
        /* an absurd declared size in the central directory */
        uint8_t *cd = memmem(z, n, "PK\x01\x02", 4);
        while (cd && (size_t)(cd - z) + 46 <= n && memcmp(cd + 46, "a/data/0", 8) != 0)
            cd = memmem(cd + 4, n - (size_t)(cd + 4 - z), "PK\x01\x02", 4);
        CHECK(cd != NULL, "the central directory entry of a/data/0");
        if (cd) {
            memcpy(cd + 24, "\xff\xff\xff\x7f", 4); /* uncompressed size */
            FILE *f = fopen(path, "wb");
            fwrite(z, 1, n, f);
            fclose(f);
            expect_convert(path, "zip archive", "a 2 GB uncompressed size in the directory");
        }
        free(z);
    }
    /* fuzz_unpickler's second finding: an empty archive from memory leaked its copy */
    nli_zip *zz;
    CHECK(nli_zip_open_buffer("", 0, "empty.pt", &zz) != 0 && strstr(nli_geterr(), "not a readable zip archive: empty"),
          "an empty buffer: %s", nli_geterr());
    FILE *ef = fopen(path, "wb");
    if (ef) fclose(ef);
    expect_convert(path, "not a readable zip archive", "an empty file");
    snprintf(path, sizeof path, "%s/none.pt", tmpdir);
    expect_convert(path, "not a readable zip archive", "a missing file");
    CHECK(access("/tmp/neglabel-pwned", F_OK) != 0, "os.system ran");
}

/* ------------------------------------------------------------ training checkpoints */

static void binfloat(pk *p, double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    op(p, 'G');
    for (int i = 7; i >= 0; i--) op(p, (uint8_t)(b >> (8 * i)));
}

static void vec_tensor(pk *p, const char *key) {
    int64_t one[] = {3}, unit[] = {1};
    tensor(p, "FloatStorage", key, 3, 0, one, unit, 1);
}

/* Unpickle, walk and (strip >= 0) strip; 0 or the error. names: the
 * tensors' names after it, joined by ' '. */
static int walk_strip(const pk *p, int strip, int *stripped, nli_ckpt *out, char *names, size_t cap) {
    nli_pk_arena *a;
    nli_pk *root;
    int rc = nli_unpickle(p->b, p->n, "t.pkl", &a, &root);
    names[0] = 0;
    memset(out, 0, sizeof *out);
    if (rc != 0) return rc;
    rc = nli_ckpt_walk(out, root, "t.pkl");
    if (rc == 0 && strip) rc = (*stripped = nli_ckpt_strip_module(out, "t.pkl")) < 0 ? -1 : 0;
    for (size_t i = 0; i < out->n; i++) {
        if (rc == 0 && strlen(names) + strlen(out->t[i].name) + 2 < cap)
            strcat(strcat(names, *names ? " " : ""), out->t[i].name);
        free(out->t[i].name);
    }
    free(out->t);
    out->t = NULL;
    nli_pk_free(a);
    return rc;
}

/* {"epoch": 3, "name": "run", "state_dict": <sd>, "optimizer": {"state": {0:
 * {"step": t, "exp_avg": t}}, "param_groups": [{"lr": 1e-3, "betas": (0.9,
 * 0.98), "foreach": None, "amsgrad": False, "params": [0]}]}} */
static void training(pk *p, void (*sd)(pk *)) {
    start(p);
    op(p, '}');
    op(p, '(');
    str(p, "epoch"), integer(p, 3);
    str(p, "name"), str(p, "run");
    str(p, "state_dict"), sd(p);
    str(p, "optimizer"), op(p, '}'), op(p, '(');
    str(p, "state"), op(p, '}'), integer(p, 0), op(p, '}'), op(p, '(');
    str(p, "step"), vec_tensor(p, "7"), str(p, "exp_avg"), vec_tensor(p, "8");
    op(p, 'u'), op(p, 's');
    str(p, "param_groups"), op(p, ']'), op(p, '}'), op(p, '(');
    str(p, "lr"), binfloat(p, 1e-3), str(p, "betas"), binfloat(p, 0.9), binfloat(p, 0.98), op(p, 0x86);
    str(p, "foreach"), op(p, 'N'), str(p, "amsgrad"), op(p, 0x89);
    str(p, "params"), op(p, ']'), integer(p, 0), op(p, 'a');
    op(p, 'u'), op(p, 'a');
    op(p, 'u');
    op(p, 'u');
    op(p, '.');
}

static void sd_module(pk *p) { /* OrderedDict(module.w, module.b) */
    glob(p, "collections", "OrderedDict"), op(p, ')'), op(p, 'R'), op(p, '(');
    str(p, "module.w"), vec_tensor(p, "0"), str(p, "module.b"), vec_tensor(p, "1");
    op(p, 'u');
}
static void sd_list(pk *p) { op(p, ']'), vec_tensor(p, "0"), op(p, 'a'); }
static void sd_empty(pk *p) { op(p, '}'); }
static void sd_int(pk *p) { op(p, '}'), str(p, "w"), integer(p, 3), op(p, 's'); }
static void sd_twice(pk *p) { sd_module(p), str(p, "state_dict"), sd_module(p); }

/* A plain state dict of the names given, a tensor each. */
static void plain(pk *p, const char *const *names, int n) {
    start(p);
    op(p, '}');
    for (int i = 0; i < n; i++) {
        char key[8];
        snprintf(key, sizeof key, "%d", i);
        str(p, names[i]);
        vec_tensor(p, key);
        op(p, 's');
    }
    op(p, '.');
}

static void training_checkpoints(void) {
    pk p;
    nli_ckpt ck;
    char names[256];
    int stripped = 0;
    training(&p, sd_module);
    int rc = walk_strip(&p, 0, &stripped, &ck, names, sizeof names);
    CHECK(rc == 0 && ck.training && ck.epoch == 3 && ck.ignored == 3 && !strcmp(names, "module.w module.b"),
          "a training checkpoint: %s (%s)", rc ? nli_geterr() : "accepted", names);
    rc = walk_strip(&p, 1, &stripped, &ck, names, sizeof names);
    CHECK(rc == 0 && stripped == 1 && !strcmp(names, "w b"), "its names stripped: %s (%s)",
          rc ? nli_geterr() : "accepted", names);
    training(&p, sd_list);
    expect_pickle(&p, "t.pkl: its 'state_dict' entry is a list, not a dict of tensors", "'state_dict' a list");
    training(&p, sd_int);
    expect_pickle(&p, "t.pkl: its 'state_dict': 'w' is a int, not a tensor", "'state_dict' holding an int");
    training(&p, sd_empty);
    expect_pickle(&p, "t.pkl: no tensors in its 'state_dict'", "an empty 'state_dict'");
    training(&p, sd_twice);
    expect_pickle(&p, "t.pkl: a training checkpoint with two 'state_dict' entries", "'state_dict' twice");
    /* a tensor named 'state_dict' makes the dict one to look into, as in open_clip */
    const char *sd_tensor[] = {"w", "state_dict"};
    plain(&p, sd_tensor, 2);
    expect_pickle(&p, "its 'state_dict' entry is a tensor, not a dict", "a tensor named state_dict");

    /* open_clip: if the first key starts with 'module', k[7:] for every k */
    static const struct {
        const char *names[3];
        const char *want; /* names after, or the error */
        int stripped;
    } cases[] = {
        {{"w", "module.b", "c"}, "w module.b c", 0},              /* the first name decides */
        {{"module.w", "module.b", "abcdefgXYZ"}, "w b XYZ", 1},  /* every name loses 7 bytes */
        {{"modules.w", "module.b", "visual.x"}, ".w b x", 1},     /* 'module' is enough */
        {{"module.w", "module.", "x"}, "leaves tensor 'module.' without a name", -1},
        {{"module.w", "xxxxxxxw", "module.y"}, "tensor 'w' appears twice once DDP's 'module.' prefix is stripped", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        plain(&p, cases[i].names, 3);
        stripped = 0;
        rc = walk_strip(&p, 1, &stripped, &ck, names, sizeof names);
        if (cases[i].stripped < 0)
            CHECK(rc != 0 && strstr(nli_geterr(), cases[i].want), "strip case %zu: %s", i,
                  rc ? nli_geterr() : names);
        else
            CHECK(rc == 0 && stripped == cases[i].stripped && !strcmp(names, cases[i].want),
                  "strip case %zu: %s (%s, want %s)", i, rc ? nli_geterr() : "accepted", names, cases[i].want);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/neglabel-test-unpickler-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    hostile_pickles();
    hostile_archives();
    training_checkpoints();
    CHECK(check_rm_rf(tmpdir) == 0, "removing %s", tmpdir);
    return check_done();
}
