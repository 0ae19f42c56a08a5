/* spm_proto.c — spiece.model's ModelProto (sentencepiece_model.proto,
 * proto2), read from the protobuf wire format as the C++ parser
 * sentencepiece links reads it:
 *
 * - a field is a varint tag (field number << 3 | wire type: 0 varint, 1
 *   fixed64, 2 length-delimited, 3/4 start/end group, 5 fixed32); field 0,
 *   wire types 6 and 7, a stray end-group, a varint of more than 10 bytes,
 *   a length past the end: the file is broken (sentencepiece refuses it);
 * - fields this reader does not use, and known fields with another wire
 *   type, are skipped (groups nested up to protobuf's depth of 100);
 * - a singular field given twice keeps the last value; a singular message
 *   given twice is merged (its fields applied in order); repeated
 *   messages (pieces) are appended;
 * - an enum value the schema does not list leaves the field as it was
 *   (proto2 closed enums: model_type 7 is still UNIGRAM).
 *
 * Read: pieces {piece 1, score 2 (float), type 3}; trainer_spec
 * {model_type 3, treat_whitespace_as_suffix 24, byte_fallback 35};
 * normalizer_spec {precompiled_charsmap 2, add_dummy_prefix 3,
 * remove_extra_whitespaces 4, escape_whitespaces 5}. Nothing else changes
 * what encode() gives (the other TrainerSpec fields are for training;
 * unk_surface and the denormalizer for decoding; self_test_data, field 4,
 * is no longer in sentencepiece 0.2.3's schema: it is skipped unread, as
 * sentencepiece skips it, and its samples are not run). */
#include <stdlib.h>
#include <string.h>

#include "spm_impl.h"

#define PB_DEPTH 100

typedef struct {
    const uint8_t *p, *end, *start;
    const char *path;
} reader;

static int broken(const reader *r, const char *why) {
    nli_seterr("%s: not a SentencePiece model (protobuf: %s at byte %zu)", r->path, why, (size_t)(r->p - r->start));
    return -1;
}

static int varint(reader *r, uint64_t *v) {
    uint64_t x = 0;
    for (int k = 0; k < 10; k++) {
        if (r->p >= r->end) return broken(r, "a varint runs past the end");
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << (7 * k);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return broken(r, "a varint of more than 10 bytes");
}

/* The next tag: 1 with *field and *wire, 0 at the end, -1 broken. */
static int tag(reader *r, uint32_t *field, int *wire) {
    if (r->p >= r->end) return 0;
    uint64_t t;
    if (varint(r, &t)) return -1;
    if (t >> 32 || (t >> 3) == 0) return broken(r, "field number 0 or past 2^29");
    *field = (uint32_t)(t >> 3);
    *wire = (int)(t & 7);
    if (*wire > 5) return broken(r, "wire type 6 or 7");
    return 1;
}

/* A length-delimited field's bytes. */
static int bytes_of(reader *r, nli_spm_str *out) {
    uint64_t n;
    if (varint(r, &n)) return -1;
    if (n > (uint64_t)(r->end - r->p)) return broken(r, "a length past the end");
    out->s = r->p;
    out->n = (size_t)n;
    r->p += n;
    return 0;
}

/* Skips a field of wire type `wire` whose tag was just read; a group is
 * skipped to its end tag (same field number). */
static int skip(reader *r, uint32_t field, int wire, int depth) {
    uint64_t v;
    nli_spm_str s;
    switch (wire) {
    case 0: return varint(r, &v);
    case 1:
    case 5: {
        size_t k = wire == 1 ? 8 : 4;
        if ((size_t)(r->end - r->p) < k) return broken(r, "a fixed-size field past the end");
        r->p += k;
        return 0;
    }
    case 2: return bytes_of(r, &s);
    case 3:
        if (depth >= PB_DEPTH) return broken(r, "groups nested too deep");
        for (;;) {
            uint32_t f;
            int w, rc = tag(r, &f, &w);
            if (rc <= 0) return rc ? -1 : broken(r, "a group without its end");
            if (w == 4) return f == field ? 0 : broken(r, "a group ended by another field's end");
            if (skip(r, f, w, depth + 1)) return -1;
        }
    default: return broken(r, "an end-group tag outside a group");
    }
}

typedef struct {
    nli_spm_proto *p;
    int depth;
} ctx;

/* Calls fn(r, field, wire, c) for each field of the message r spans; fn
 * returns 1 when it did not take the field (then skipped). */
typedef int (*field_fn)(reader *r, uint32_t field, int wire, ctx *c);

static int each_field(reader *r, ctx *c, field_fn fn) {
    if (c->depth > PB_DEPTH) return broken(r, "messages nested too deep");
    for (;;) {
        uint32_t f;
        int w, rc = tag(r, &f, &w);
        if (rc <= 0) return rc;
        rc = fn(r, f, w, c);
        if (rc < 0) return -1;
        if (rc > 0 && skip(r, f, w, c->depth)) return -1;
    }
}

/* The embedded message of a length-delimited field, through fn. */
static int sub(reader *r, ctx *c, field_fn fn) {
    nli_spm_str s;
    if (bytes_of(r, &s)) return -1;
    reader in = {s.s, s.s + s.n, r->start, r->path};
    ctx d = {c->p, c->depth + 1};
    return each_field(&in, &d, fn);
}

/* A bool, or an enum's value when it is in [lo, hi]; other values leave
 * *out as it was. */
static int enum_field(reader *r, int lo, int hi, int *out) {
    uint64_t v;
    if (varint(r, &v)) return -1;
    int32_t x = (int32_t)(uint32_t)v; /* int32 fields take the low 32 bits */
    if (lo == 0 && hi == 1) *out = v != 0;
    else if (x >= lo && x <= hi) *out = x;
    return 0;
}

static int piece_field(reader *r, uint32_t field, int wire, ctx *c) {
    nli_spm_proto *p = c->p;
    size_t i = p->n - 1;
    if (field == 1 && wire == 2) return bytes_of(r, &p->piece[i]);
    if (field == 2 && wire == 5) {
        if (r->end - r->p < 4) return broken(r, "a float past the end");
        uint32_t u = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
        memcpy(&p->score[i], &u, 4);
        r->p += 4;
        return 0;
    }
    if (field == 3 && wire == 0) {
        int t = p->type[i];
        if (enum_field(r, SPM_NORMAL, SPM_BYTE, &t)) return -1;
        p->type[i] = (uint8_t)t;
        return 0;
    }
    return 1;
}

static int trainer_field(reader *r, uint32_t field, int wire, ctx *c) {
    nli_spm_proto *p = c->p;
    if (wire != 0) return 1;
    if (field == 3) return enum_field(r, SPM_UNIGRAM, SPM_CHAR, &p->model_type);
    if (field == 24) return enum_field(r, 0, 1, &p->ws_suffix);
    if (field == 35) return enum_field(r, 0, 1, &p->byte_fallback);
    return 1;
}

static int normalizer_field(reader *r, uint32_t field, int wire, ctx *c) {
    nli_spm_proto *p = c->p;
    if (field == 2 && wire == 2) {
        p->has_charsmap = 1;
        return bytes_of(r, &p->charsmap);
    }
    if (wire != 0) return 1;
    if (field == 3) return enum_field(r, 0, 1, &p->dummy_prefix);
    if (field == 4) return enum_field(r, 0, 1, &p->extra_ws);
    if (field == 5) return enum_field(r, 0, 1, &p->escape_ws);
    return 1;
}

static int model_field(reader *r, uint32_t field, int wire, ctx *c) {
    nli_spm_proto *p = c->p;
    if (wire != 2) return 1;
    if (field == 1) {
        if (p->n >= NLI_SPM_MAX_PIECES) {
            nli_seterr("%s: more than %d pieces", r->path, NLI_SPM_MAX_PIECES);
            return -1;
        }
        if (p->n == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 1024;
            nli_spm_str *a = nli_realloc(p->piece, cap * sizeof *a);
            if (a) p->piece = a;
            float *b = a ? nli_realloc(p->score, cap * sizeof *b) : NULL;
            if (b) p->score = b;
            uint8_t *t = b ? nli_realloc(p->type, cap) : NULL;
            if (!t) return -1;
            p->type = t;
            p->cap = cap;
        }
        p->piece[p->n] = (nli_spm_str){NULL, 0};
        p->score[p->n] = 0.0f;
        p->type[p->n] = SPM_NORMAL;
        p->n++;
        return sub(r, c, piece_field);
    }
    if (field == 2) return sub(r, c, trainer_field);
    if (field == 3) return sub(r, c, normalizer_field);
    return 1; /* 4: self_test_data, gone from sentencepiece 0.2.3's schema; 5: the denormalizer, decoding only */
}

int nli_spm_proto_parse(nli_spm_proto *p, const uint8_t *data, size_t len, const char *path) {
    memset(p, 0, sizeof *p);
    p->model_type = SPM_UNIGRAM;
    p->dummy_prefix = p->extra_ws = p->escape_ws = 1;
    reader r = {data, data + len, data, path};
    ctx c = {p, 0};
    if (each_field(&r, &c, model_field)) {
        nli_spm_proto_free(p);
        return -1;
    }
    return 0;
}

void nli_spm_proto_free(nli_spm_proto *p) {
    free(p->piece);
    free(p->score);
    free(p->type);
    memset(p, 0, sizeof *p);
}
