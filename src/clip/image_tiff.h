/* image_tiff.h — TIFF internals shared by image_tiff.c (the decoders) and
 * image_tiff_dir.c (Pillow's directory reader, mode table and unpackers). */
#ifndef NEGLABEL_IMAGE_TIFF_H
#define NEGLABEL_IMAGE_TIFF_H
#include <stddef.h>
#include <stdint.h>

/* Strips of more bytes than this are decoded row by row, not whole (which
 * bounds what a corrupt one costs; image_tiff.c). Tests lower it to check
 * that both ways give the same pixels. */
extern uint64_t nli_tiff_whole_strip_max;

/* What a row holds, after Pillow's OPEN_INFO. */
enum { K_BILEVEL, K_GREY, K_GREY16, K_GREY16S, K_RGB, K_RGBA_PRE, K_CMYK, K_PAL, K_RGBX_YCC,
       K_GREY12, K_INT32, K_FLOAT32, K_LAB };

typedef struct {
    int kind, spp, bps, invert, be, bitrev;
    uint8_t pal[256][3];
    void *lab; /* K_LAB / mode LAB: the LittleCMS transform to sRGB */
} tfmt;

/* The tags read: size, compression, samples, photometric, fill order,
 * strips, planes, colour map, tiles, extra samples, sample format,
 * Windows Media Photo marker. */
#define NL_TIFF_NTAGS 17
extern const uint16_t nli_tiff_tags[NL_TIFF_NTAGS];

/* One directory entry as ImageFileDirectory_v2.load keeps it. */
typedef struct {
    uint16_t tag, type;
    uint64_t count;
    const uint8_t *p; /* count values of the type, in the file's byte order */
} tent;

typedef struct {
    const uint8_t *data;
    size_t len;
    int be, big;
    tent e[NL_TIFF_NTAGS]; /* by nli_tiff_tags; count 0: absent */
} tdir;

enum { M_1, M_L, M_P, M_I16, M_I, M_F, M_LA, M_PA, M_RGB, M_RGBA, M_RGBX, M_CMYK, M_LAB };

typedef struct {
    tfmt f;
    int mode;
    int rawmode_is_mode; /* Pillow may map the file instead of decoding */
    int rawbits;         /* bits per pixel of the rawmode */
    const char *rawchars; /* the rawmode's letters, for separate planes */
    int64_t w, h, comp, planar, photo;
    int bps_count;
    uint64_t bps_sum;
} tsetup;

/* One row (or tile row) of n pixels in the rawmode to RGB. */
void nli_tiff_unpack_row(const tfmt *f, const uint8_t *in, uint8_t *out, int n);
/* ImageFileDirectory_v2.load of the first directory (d->data, d->len set,
 * the rest zero); 0, or -1 with the error set. */
int nli_tiff_read_dir(tdir *d, const char *name);
const tent *nli_tiff_find(const tdir *d, unsigned tag);
int nli_tiff_int_type(unsigned t);
/* Value i of an integer entry. */
int64_t nli_tiff_val(const tdir *d, const tent *e, uint64_t i);
/* A one-number tag: 1 found, 0 absent (*v = dflt), -1 not an integer. */
int nli_tiff_get1(const tdir *d, unsigned tag, int64_t dflt, int64_t *v);
/* TiffImagePlugin._setup up to the mode and rawmode: 0, or -1 with the
 * error set (keys Pillow does not know, and the few we do not read). */
int nli_tiff_setup(const tdir *d, const char *name, tsetup *s);
/* RGB of a pixel left as Pillow's new image has it (zeros in its mode). */
void nli_tiff_zero_pixel(const tsetup *s, uint8_t rgb[3]);
/* n pixels of Pillow's image in its own mode, 4 bytes each (bands at
 * their places: L/P/1 in byte 0, LA/PA alpha in byte 3; I and F a native
 * 32-bit number), to RGB as convert('RGB') does. */
void nli_tiff_px4_to_rgb(const tsetup *s, const uint8_t *px, uint8_t *rgb, size_t n);
/* Pillow's unpackRGBa in place (associated alpha undone). */
void nli_tiff_unpremultiply(uint8_t *px, size_t n);
/* Rows of K_GREY12, K_INT32, K_FLOAT32 / K_LAB to RGB. */
void nli_tiff_unpack_wide(const tfmt *f, const uint8_t *in, uint8_t *out, int n);
void nli_tiff_unpack_lab(const tfmt *f, const uint8_t *in, uint8_t *out, int n);
/* LAB: the transform Pillow's convert builds (ImageCms, LittleCMS: its
 * Lab v2 profile to sRGB, perceptual); 0, or -1 with the error set. */
int nli_tiff_lab_begin(tfmt *f, const char *name);
void nli_tiff_lab_end(tfmt *f);
#endif
