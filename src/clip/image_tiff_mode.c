/* image_tiff_mode.c — Pillow's convert('RGB') (13; 9.4 where image_tiff.c
 * says so) from the modes its TIFF reader makes that have no 8-bit RGB rows
 * of their own: "I" (i2rgb: clipped to 0..255), "F" (through "L", f2l:
 * clipped, then truncated), "LAB"
 * (Image.convert hands it to ImageCms: LittleCMS, Pillow's "LAB" profile,
 * cmsCreateLab2Profile(NULL), to cmsCreate_sRGBProfile(), perceptual intent,
 * no flags, 4-byte pixels both sides), and the 4-byte pixel image that
 * separate planes are decoded into (Convert.c's conversions of each mode). */
#include <lcms2.h>
#include <math.h>
#include <string.h>

#include "image_internal.h"
#include "image_tiff.h"
#include "util.h"

int nli_tiff_lab_begin(tfmt *f, const char *name) {
    cmsHPROFILE lab = cmsCreateLab2Profile(NULL), srgb = cmsCreate_sRGBProfile();
    /* Pillow's "LAB": Lab v2, 3 channels + 1 extra, 1 byte each; "RGB": RGBA */
    if (lab && srgb)
        f->lab = cmsCreateTransform(lab, COLORSPACE_SH(PT_LabV2) | CHANNELS_SH(3) | BYTES_SH(1) | EXTRA_SH(1), srgb,
                                    TYPE_RGBA_8, INTENT_PERCEPTUAL, 0);
    if (lab) cmsCloseProfile(lab);
    if (srgb) cmsCloseProfile(srgb);
    if (!f->lab) {
        nli_seterr("%s: cannot convert TIFF CIELab to RGB (LittleCMS transform)", name);
        return -1;
    }
    return 0;
}

void nli_tiff_lab_end(tfmt *f) {
    if (f->lab) cmsDeleteTransform(f->lab);
    f->lab = NULL;
}

/* n Pillow "LAB" pixels (L, a+128, b+128, 255) to RGB, a chunk at a time. */
static void lab_to_rgb(const tfmt *f, const uint8_t *px, uint8_t *rgb, size_t n) {
    uint8_t tmp[4 * 256];
    while (n) {
        size_t k = n < 256 ? n : 256;
        cmsDoTransform(f->lab, px, tmp, (cmsUInt32Number)k);
        for (size_t i = 0; i < k; i++) memcpy(rgb + 3 * i, tmp + 4 * i, 3);
        px += 4 * k, rgb += 3 * k, n -= k;
    }
}

/* i2rgb / i2l */
static uint8_t clip_i(int32_t v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v; }
/* f2l: (UINT8)v of what is strictly between 0 and 255; NaN fails both tests
 * and Pillow's (UINT8) of it is 0 on the x86-64 build that made the goldens
 * (cvttss2si's 0x80000000, low byte) */
static uint8_t clip_f(float v) { return isnan(v) ? 0 : v <= 0.0 ? 0 : v >= 255.0 ? 255 : (uint8_t)v; }

void nli_tiff_unpremultiply(uint8_t *px, size_t n) {
    for (size_t x = 0; x < n; x++, px += 4) {
        int a = px[3];
        for (int c = 0; c < 3; c++) {
            int r = a == 0 ? 0 : a == 255 ? px[c] : px[c] * 255 / a;
            px[c] = (uint8_t)(r > 255 ? 255 : r);
        }
    }
}

/* Row unpacking of the modes above (Unpack.c), s: the rawmode's bytes. */
void nli_tiff_unpack_wide(const tfmt *f, const uint8_t *in, uint8_t *out, int n) {
    for (int x = 0; x < n; x++) {
        uint8_t v = 0;
        if (f->kind == K_GREY12) { /* unpackI12_I16: 12-bit samples, high bits first */
            const uint8_t *p = in + (size_t)x / 2 * 3;
            int s = x % 2 ? (p[1] & 0x0F) << 8 | p[2] : p[0] << 4 | p[1] >> 4;
            v = s > 255 ? 255 : (uint8_t)s;
        } else {
            const uint8_t *p = in + 4 * (size_t)x;
            uint32_t u = f->be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
            if (f->kind == K_INT32) v = clip_i((int32_t)u);
            else {
                float fl;
                memcpy(&fl, &u, 4);
                v = clip_f(fl);
            }
        }
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
    }
}

void nli_tiff_unpack_lab(const tfmt *f, const uint8_t *in, uint8_t *out, int n) {
    uint8_t px[4 * 256];
    while (n > 0) {
        int k = n < 256 ? n : 256;
        for (int i = 0; i < k; i++) { /* ImagingUnpackLAB: a and b signed in the file */
            px[4 * i] = in[3 * i];
            px[4 * i + 1] = in[3 * i + 1] ^ 128;
            px[4 * i + 2] = in[3 * i + 2] ^ 128;
            px[4 * i + 3] = 255;
        }
        lab_to_rgb(f, px, out, (size_t)k);
        in += 3 * k, out += 3 * k, n -= k;
    }
}

void nli_tiff_px4_to_rgb(const tsetup *s, const uint8_t *px, uint8_t *rgb, size_t n) {
    if (s->mode == M_LAB) {
        lab_to_rgb(&s->f, px, rgb, n);
        return;
    }
    for (size_t i = 0; i < n; i++, px += 4, rgb += 3) {
        int32_t iv;
        float fv;
        switch (s->mode) {
        case M_P:
        case M_PA: memcpy(rgb, s->f.pal[px[0]], 3); break;
        case M_CMYK: nli_image_cmyk_row(px, 4, 0, rgb, 1); break;
        case M_RGB:
        case M_RGBA:
        case M_RGBX: memcpy(rgb, px, 3); break;
        case M_I:
            memcpy(&iv, px, 4);
            rgb[0] = rgb[1] = rgb[2] = clip_i(iv);
            break;
        case M_F:
            memcpy(&fv, px, 4);
            rgb[0] = rgb[1] = rgb[2] = clip_f(fv);
            break;
        default: rgb[0] = rgb[1] = rgb[2] = px[0]; break; /* 1 (0/255), L, LA, I;16 (zero only) */
        }
    }
}

/* Pillow's image before decoding is all zeros in its mode. */
void nli_tiff_zero_pixel(const tsetup *s, uint8_t rgb[3]) {
    static const uint8_t zero[4];
    nli_tiff_px4_to_rgb(s, zero, rgb, 1);
}
