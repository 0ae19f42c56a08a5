/* ftfy.h — ftfy.fix_text with its default configuration (ftfy 6.x, the
 * version named in ftfy_tables.c), as OpenAI's simple_tokenizer.py applies it
 * before anything else. Works on arrays of code points, as Python's str.
 * Tables: scripts/gen_ftfy_tables.py -> ftfy_tables.c. */
#ifndef NEGLABEL_FTFY_H
#define NEGLABEL_FTFY_H
#include <stddef.h>
#include <stdint.h>

/* A growable array of code points (tokenizer_clean.c). */
typedef struct { uint32_t *v; size_t n, cap; } nli_cpbuf;
int nli_cpbuf_push(nli_cpbuf *b, uint32_t c);
int nli_cpbuf_append(nli_cpbuf *b, const uint32_t *v, size_t n);

/* Strict UTF-8 (as Python's decoder) into out (appended): 0, -1 out of
 * memory, -2 invalid (the message names the byte offset). */
int nli_utf8_decode(const uint8_t *s, size_t len, nli_cpbuf *out);
/* Encode one code point (<= 0x10FFFF) at o (4 bytes of room); bytes written. */
size_t nli_utf8_put(uint32_t c, char *o);
/* Whether c lies in one of n sorted, disjoint [lo, hi] ranges. */
int nli_in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n);
/* Python's html.unescape, appended to out. */
int nli_html_unescape(const uint32_t *in, size_t n, nli_cpbuf *out);

/* ftfy.fix_text(text) appended to out. Thread-safe. -1 with the error set
 * (out of memory, or PCRE2 failing). */
int nli_ftfy_fix_text(const uint32_t *in, size_t n, nli_cpbuf *out);
/* The same on UTF-8: *out malloc'd and NUL-terminated (it may hold NUL). */
int nli_ftfy_fix_utf8(const char *s, size_t len, char **out, size_t *outlen);

/* Generated tables (ftfy_tables.c). */
typedef struct { uint32_t cp; uint8_t n; uint32_t to[3]; } nli_ftfy_charmap;
typedef struct { const char *name, *value; } nli_ftfy_entity;
extern const char nli_ftfy_version[], nli_ftfy_python_unicode[];
extern const uint32_t nli_ftfy_max_decode_length;
extern const nli_ftfy_charmap nli_ftfy_charmaps[];
extern const size_t nli_ftfy_charmaps_count;
extern const uint32_t nli_ftfy_control[][2];
extern const size_t nli_ftfy_control_count;
extern const uint32_t nli_ftfy_digit[][2];
extern const size_t nli_ftfy_digit_count;
extern const nli_ftfy_entity nli_ftfy_entities[];
extern const size_t nli_ftfy_entities_count;
extern const char *const nli_ftfy_enc_names[];
extern const size_t nli_ftfy_enc_count;
extern const uint32_t (*const nli_ftfy_enc_tables[])[2];
extern const size_t nli_ftfy_enc_sizes[];
extern const uint32_t nli_ftfy_cp1252_c1[32];
extern const char nli_ftfy_badness_re[], nli_ftfy_utf8_detector_re[];
extern const char nli_ftfy_altered_utf8_re[], nli_ftfy_lossy_utf8_re[], nli_ftfy_a_grave_word_re[];
#endif
