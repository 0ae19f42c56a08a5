/* image_resize.c — torchvision Resize(size) + CenterCrop(size) on PIL images
 * (or transformers' center_crop offsets, NLI_RESIZE_CROP_FLOOR),
 * reproducing Pillow 13's ImagingResample (Resample.c) bit for bit:
 * separable passes, horizontal first unless the height shrinks by more than
 * twice what the width does (then vertical first; Pillow <= 12 always went
 * horizontal first, so it differs by at most 1 on some values of images
 * more than about 2:1 tall); per output pixel a window of
 * filter-support * max(scale, 1) input pixels; coefficients computed in
 * double, normalised to sum 1, then fixed point with 22 fractional bits and
 * round-half-away; each pass rounds (+2^21) and clips to 0..255.
 *
 * Only the pixels that survive the centre crop are computed: every output
 * pixel depends on its own coefficients alone, so the result is identical to
 * resizing everything and cropping afterwards, and a 1700x40 image (resized
 * to 9520x224) costs no more than a square one. */

/* The coefficient arithmetic must round exactly as Pillow's (compiled
 * without FMA); forbid contracting a*b+c into fma under -march=native. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clip.h"
#include "image.h"
#include "util.h"

#define PRECISION_BITS (32 - 8 - 2)

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static double bicubic_filter(double x) {
    const double a = -0.5; /* Pillow's (and Catmull-Rom-like) choice */
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

/* Fixed-point taps for output positions [o0, o0+n) of a 1-D resize from
 * in_size to out_size: output i reads input [lo[i], lo[i]+cnt[i]) with
 * weights k[i*ksize ...]. */
typedef struct {
    int n, ksize;
    int *lo, *cnt;
    int32_t *k;
} taps;

static void taps_free(taps *t) {
    free(t->lo);
    free(t->cnt);
    free(t->k);
    memset(t, 0, sizeof *t);
}

static int taps_init(taps *t, int in_size, int out_size, int o0, int n, nl_resample r) {
    double (*filter)(double) = r == NL_RESAMPLE_BILINEAR ? bilinear_filter : bicubic_filter;
    double fsupport = r == NL_RESAMPLE_BILINEAR ? 1.0 : 2.0;
    memset(t, 0, sizeof *t);
    /* Pillow receives the box as floats: (double)(in1 - in0) with in0 = 0. */
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = fsupport * filterscale;
    if (support > (double)in_size + 4.0) support = (double)in_size + 4.0; /* same taps, bounded size */
    int ksize = (int)ceil(support) * 2 + 1;
    double *w = nli_mallocarray((size_t)ksize, sizeof *w);
    t->lo = nli_mallocarray((size_t)n, sizeof *t->lo);
    t->cnt = nli_mallocarray((size_t)n, sizeof *t->cnt);
    t->k = nli_mallocarray((size_t)n, (size_t)ksize * sizeof *t->k);
    if (!w || !t->lo || !t->cnt || !t->k) {
        free(w);
        taps_free(t);
        return -1;
    }
    t->n = n;
    t->ksize = ksize;
    for (int i = 0; i < n; i++) {
        int xx = o0 + i;
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize; /* cannot happen; keeps writes in bounds */
        if (xmax < 0) xmax = 0;
        for (int x = 0; x < xmax; x++) {
            double v = filter((x + xmin - center + 0.5) * ss);
            w[x] = v;
            ww += v;
        }
        int32_t *k = t->k + (size_t)i * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        t->lo[i] = xmin;
        t->cnt[i] = xmax;
    }
    free(w);
    return 0;
}

static inline uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS; /* arithmetic shift, as Pillow's table lookup */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass: rows [y0, y0+ny) of src (stride pixels wide, its first
 * column being input column xoff) -> dst (t->n wide). */
static void pass_h(const uint8_t *src, int stride, int xoff, int y0, int ny, const taps *t, uint8_t *dst) {
    for (int y = 0; y < ny; y++) {
        const uint8_t *row = src + (size_t)(y0 + y) * stride * 3;
        uint8_t *o = dst + (size_t)y * t->n * 3;
        for (int i = 0; i < t->n; i++) {
            const int32_t *k = t->k + (size_t)i * t->ksize;
            const uint8_t *p = row + (size_t)(t->lo[i] - xoff) * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < t->cnt[i]; x++, p += 3) {
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            o[3 * i] = clip8(s0);
            o[3 * i + 1] = clip8(s1);
            o[3 * i + 2] = clip8(s2);
        }
    }
}

/* Vertical pass: src rows are input rows starting at row `first`, stride
 * pixels wide; columns [x0, x0+nx) of them; output row i of t -> dst row i
 * (nx wide). acc: nx*3 ints of scratch. Integer sums are exact, so
 * accumulating tap by tap equals Pillow's per-pixel order. */
static void pass_v(const uint8_t *src, int stride, int x0, int nx, int first, const taps *t, int32_t *acc,
                   uint8_t *dst) {
    size_t m = (size_t)nx * 3;
    for (int i = 0; i < t->n; i++) {
        const int32_t *k = t->k + (size_t)i * t->ksize;
        for (size_t j = 0; j < m; j++) acc[j] = 1 << (PRECISION_BITS - 1);
        for (int y = 0; y < t->cnt[i]; y++) {
            const uint8_t *row = src + ((size_t)(t->lo[i] + y - first) * stride + x0) * 3;
            int32_t kk = k[y];
            for (size_t j = 0; j < m; j++) acc[j] += row[j] * kk;
        }
        uint8_t *o = dst + (size_t)i * m;
        for (size_t j = 0; j < m; j++) o[j] = clip8(acc[j]);
    }
}

/* Python's int(round(d / 2)) for d >= 0: halves go to the even neighbour. */
static int half_round_even(int d) {
    int q = d / 2;
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}

/* torchvision center_crop along one axis of length len: returns off such
 * that crop index c reads resized index c + off (out of range -> 0 pad). */
static int crop_offset(int len, int size, int floor_crop) {
    if (len >= size) return floor_crop ? (len - size) / 2 : half_round_even(len - size);
    return -((size - len) / 2);
}

/* The span [first, last) of input positions that taps t read. */
static void taps_span(const taps *t, int *first, int *last) {
    *first = t->lo[0];
    *last = t->lo[0] + t->cnt[0];
    for (int i = 1; i < t->n; i++) {
        if (t->lo[i] < *first) *first = t->lo[i];
        if (t->lo[i] + t->cnt[i] > *last) *last = t->lo[i] + t->cnt[i];
    }
}

/* Resize one window [x0,x0+nx) x [y0,y0+ny) of the out_w x out_h image into
 * win (nx*ny*3). Pillow skips a pass whose size does not change; we do too.
 * Pillow 13 (up to 12 it always went horizontal first) runs the vertical
 * pass first when the height shrinks by more than twice what the width
 * does: in->h - out_h > 0 && in->h - out_h > (in->w - out_w) * 2. The
 * intermediate image is rounded to uint8 either way, so the order shows in
 * the result (by at most 1 per value); both orders are reproduced here. */
static int resample_window(const nli_image *in, int out_w, int out_h, int x0, int nx, int y0, int ny,
                           nl_resample r, uint8_t *win) {
    int need_h = out_w != in->w, need_v = out_h != in->h;
    int dh = in->h - out_h;
    int vertical_first = dh > 0 && (int64_t)dh > ((int64_t)in->w - out_w) * 2; /* implies need_v */
    taps th = {0}, tv = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    int rc = -1;

    if (need_v && taps_init(&tv, in->h, out_h, y0, ny, r) != 0) goto done;
    if (need_h && taps_init(&th, in->w, out_w, x0, nx, r) != 0) goto done;
    if (need_v && !(acc = nli_mallocarray((size_t)(nx > in->w ? nx : in->w), 3 * sizeof *acc))) goto done;

    if (vertical_first) {
        if (!need_h) {
            pass_v(in->rgb, in->w, x0, nx, 0, &tv, acc, win);
        } else {
            /* Vertical pass over the input columns the horizontal taps read. */
            int cfirst, clast;
            taps_span(&th, &cfirst, &clast);
            int cols = clast - cfirst;
            if (!(tmp = nli_mallocarray((size_t)ny * cols, 3))) goto done;
            pass_v(in->rgb, in->w, cfirst, cols, 0, &tv, acc, tmp);
            pass_h(tmp, cols, cfirst, 0, ny, &th, win);
        }
        rc = 0;
        goto done;
    }

    /* Horizontal first: input rows the vertical pass reads (the window's
     * rows when it is skipped). */
    int first = y0, last = y0 + ny;
    if (need_v) taps_span(&tv, &first, &last);
    int rows = last - first;
    const uint8_t *hsrc = NULL; /* rows [first, last) restricted to the window's columns */
    if (need_h) {
        uint8_t *dst = need_v ? (tmp = nli_mallocarray((size_t)rows * nx, 3)) : win;
        if (!dst) goto done;
        pass_h(in->rgb, in->w, 0, first, rows, &th, dst);
        hsrc = dst;
    } else if (need_v) {
        hsrc = in->rgb; /* the vertical pass reads the window's columns in place */
    } else {
        for (int y = 0; y < ny; y++)
            memcpy(win + (size_t)y * nx * 3, in->rgb + ((size_t)(y0 + y) * in->w + x0) * 3, (size_t)nx * 3);
    }
    if (need_v) {
        if (need_h) pass_v(hsrc, nx, 0, nx, first, &tv, acc, win);
        else pass_v(hsrc, in->w, x0, nx, 0, &tv, acc, win);
    }
    rc = 0;
done:
    taps_free(&th);
    taps_free(&tv);
    free(tmp);
    free(acc);
    return rc;
}

/* Resize in to ow x oh, then centre-crop (or pad with fill) to size x size
 * with torchvision's offsets; only the kept pixels are resampled. */
static int resize_place(const nli_image *in, int ow, int oh, int size, nl_resample resample, int fill,
                        int floor_crop, uint8_t *out) {
    int offx = crop_offset(ow, size, floor_crop), offy = crop_offset(oh, size, floor_crop);
    /* Crop pixels [cx0, cx1) read resized pixels [cx0+offx, cx1+offx). */
    int cx0 = offx < 0 ? -offx : 0, cx1 = ow - offx < size ? ow - offx : size;
    int cy0 = offy < 0 ? -offy : 0, cy1 = oh - offy < size ? oh - offy : size;
    int nx = cx1 - cx0, ny = cy1 - cy0;
    uint8_t *win = out;
    if (nx != size || ny != size) {
        memset(out, fill, (size_t)size * size * 3);
        win = nli_mallocarray((size_t)nx * ny, 3);
        if (!win) return -1;
    }
    if (resample_window(in, ow, oh, cx0 + offx, nx, cy0 + offy, ny, resample, win) != 0) {
        if (win != out) free(win);
        return -1;
    }
    if (win != out) {
        for (int y = 0; y < ny; y++)
            memcpy(out + ((size_t)(cy0 + y) * size + cx0) * 3, win + (size_t)y * nx * 3, (size_t)nx * 3);
        free(win);
    }
    return 0;
}

int nli_image_resize_crop(const nli_image *in, int size, nl_resample resample, uint8_t *out) {
    return nli_image_resize_mode(in, size, resample, NLI_RESIZE_SHORTEST, 0, out);
}

int nli_image_resize_mode(const nli_image *in, int size, nl_resample resample, int mode, int fill, uint8_t *out) {
    if (!in || !in->rgb || in->w <= 0 || in->h <= 0) {
        nli_seterr("resize: empty image");
        return -1;
    }
    if (size <= 0 || size > 16384) {
        nli_seterr("resize: bad output size %d", size);
        return -1;
    }
    if (resample != NL_RESAMPLE_BICUBIC && resample != NL_RESAMPLE_BILINEAR) {
        nli_seterr(resample == NL_RESAMPLE_MODEL ? "resize: the model's filter (NL_RESAMPLE_MODEL) needs a model; "
                                                  "choose bicubic or bilinear"
                                                : "resize: unknown resampling filter %d",
                  (int)resample);
        return -1;
    }
    if (fill < 0 || fill > 255) { nli_seterr("resize: fill value %d outside 0..255", fill); return -1; }
    int fc = (mode & NLI_RESIZE_CROP_FLOOR) != 0, to = NLI_RESIZE_SQUASH_SIZE(mode);
    mode &= 0xff;
    int w = in->w, h = in->h, ow, oh;
    if (mode == NLI_RESIZE_SQUASH) {
        if (to > 16384) { nli_seterr("resize: bad resize size %d", to); return -1; }
        to = to ? to : size;
        return resize_place(in, to, to, size, resample, fill, fc, out);
    }
    if (mode == NLI_RESIZE_LONGEST) {
        /* ResizeKeepRatio(longest=1): ratio = max(h/size, w/size), each
         * side round(side / ratio), Python's round (half to even) */
        double rh = (double)h / size, rw = (double)w / size;
        double ratio = (rh > rw ? rh : rw) * 1.0 + (rh > rw ? rw : rh) * 0.0;
        oh = (int)nearbyint((double)h / ratio);
        ow = (int)nearbyint((double)w / ratio);
        if (ow < 1 || oh < 1) {
            nli_seterr("resize: %dx%d image is too elongated to fit in %d (a side would be 0 pixels)", w, h, size);
            return -1;
        }
        return resize_place(in, ow, oh, size, resample, fill, fc, out);
    }
    if (mode != NLI_RESIZE_SHORTEST) { nli_seterr("resize: unknown resize mode %d", mode); return -1; }
    /* torchvision: the shorter side becomes size, the longer
     * int(size * long / short) (exact product, one rounded division). */
    int shorter = w <= h ? w : h, longer = w <= h ? h : w;
    double nl = (double)((int64_t)size * longer) / shorter;
    if (nl > (double)(INT_MAX / 8)) {
        nli_seterr("resize: %dx%d image is too elongated to resize to %d", w, h, size);
        return -1;
    }
    int new_long = (int)nl;
    if (shorter == size) {
        ow = w;
        oh = h;
    } else if (w <= h) {
        ow = size;
        oh = new_long;
    } else {
        ow = new_long;
        oh = size;
    }
    return resize_place(in, ow, oh, size, resample, fill, fc, out);
}

void nli_image_normalize(const uint8_t *hwc, int size, const float mean[3], const float std[3], float *chw) {
    /* torchvision: ToTensor (x / 255 in float32), then (x - mean) / std. */
    size_t n = (size_t)size * size;
    for (int c = 0; c < 3; c++) {
        float *o = chw + (size_t)c * n;
        float m = mean[c], s = std[c];
        for (size_t i = 0; i < n; i++) o[i] = ((float)hwc[3 * i + c] / 255.0f - m) / s;
    }
}

int nl_preprocess_rgb(const nl_rgb_image *img, int size, nl_resample resample, uint8_t *out) {
    if (!img || !img->rgb || !out) return nli_null_arg(__func__);
    return nli_preprocess_rgb_mode(img, size, resample, NLI_RESIZE_SHORTEST, 0, out);
}

int nli_preprocess_rgb_mode(const nl_rgb_image *img, int size, nl_resample resample, int mode, int fill, uint8_t *out) {
    if (!img || !img->rgb || !out) { nli_seterr("preprocess: NULL image or output"); return -1; }
    if (img->width <= 0 || img->height <= 0) {
        nli_seterr("preprocess: image of %d x %d pixels", img->width, img->height);
        return -1;
    }
    size_t row = (size_t)img->width * 3, stride = img->stride ? img->stride : row;
    if ((unsigned long long)img->width * (unsigned long long)img->height > NL_MAX_IMAGE_PIXELS) {
        nli_seterr("preprocess: %d x %d pixels is over the limit of %llu (as Pillow's decompression-bomb check)",
                  img->width, img->height, NL_MAX_IMAGE_PIXELS);
        return -1;
    }
    if (stride < row) {
        nli_seterr("preprocess: row stride %zu is less than width * 3 = %zu", stride, row);
        return -1;
    }
    /* The resampler reads whole rows: contiguous buffers are used in place
     * (read only), strided ones are packed first. */
    nli_image im = {img->width, img->height, NULL};
    uint8_t *packed = NULL;
    if (stride == row) {
        im.rgb = (uint8_t *)(uintptr_t)img->rgb;
    } else {
        if (!(packed = nli_mallocarray((size_t)img->height, row))) return -1;
        for (int y = 0; y < img->height; y++) memcpy(packed + (size_t)y * row, img->rgb + (size_t)y * stride, row);
        im.rgb = packed;
    }
    int rc = nli_image_resize_mode(&im, size, resample, mode, fill, out);
    free(packed);
    return rc;
}
