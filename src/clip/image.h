/* image.h — decoding and Pillow-exact preprocessing. */
#ifndef NEGLABEL_IMAGE_H
#define NEGLABEL_IMAGE_H
#include <stddef.h>
#include <stdint.h>
#include "neglabel.h"

/* Images with more pixels than this are refused before decoding (Pillow's
 * DecompressionBombError threshold, 2 x 89,478,485). */
#define NL_MAX_IMAGE_PIXELS 178956970ULL

typedef struct {
    int w, h;
    uint8_t *rgb; /* w*h*3, row-major HWC */
} nli_image;

/* Decode a JPEG, PNG or WebP file (by content, not extension) and convert it
 * to RGB as Pillow's convert('RGB') does (alpha dropped, palette expanded,
 * CMYK inverted per Pillow). Errors name the file. */
int nli_image_load(const char *path, nli_image *out);
int nli_image_load_mem(const uint8_t *data, size_t len, const char *name, nli_image *out);
void nli_image_free(nli_image *img);

/* Resize so the shorter side is size (longer side int(size*long/short), no
 * resize when the shorter side already equals size) with Pillow's exact
 * resampling, then centre-crop size x size (torchvision rounding).
 * out: size*size*3 uint8. */
int nli_image_resize_crop(const nli_image *in, int size, nl_resample resample, uint8_t *out);

/* OpenCLIP's resize modes (open_clip transform.py image_transform, eval):
 * NLI_RESIZE_SHORTEST is nli_image_resize_crop; NLI_RESIZE_LONGEST resizes
 * so the longer side is size (ResizeKeepRatio(longest=1): each side
 * round(side / max(w, h) * size) with Python's round), then pads to
 * size x size with fill (CenterCropOrPad: left/top (size - side) // 2);
 * NLI_RESIZE_SQUASH resizes to size x size ignoring the aspect ratio.
 * mode: an nli_resize_mode (clip.h), optionally | NLI_RESIZE_CROP_FLOOR for
 * transformers' crop offsets ((len - size) // 2) instead of torchvision's. */
int nli_image_resize_mode(const nli_image *in, int size, nl_resample resample, int mode, int fill, uint8_t *out);
/* nl_preprocess_file / nl_preprocess_rgb with a resize mode and fill. */
int nli_preprocess_file_mode(const char *path, int size, nl_resample resample, int mode, int fill, uint8_t *out);
/* The same from an encoded image in memory (name: for messages; NULL: "<memory>"). */
int nli_preprocess_mem_mode(const uint8_t *data, size_t len, const char *name, int size, nl_resample resample,
                            int mode, int fill, uint8_t *out);
int nli_preprocess_rgb_mode(const nl_rgb_image *img, int size, nl_resample resample, int mode, int fill, uint8_t *out);

/* A fingerprint of the pixels this build makes of an image (decoders'
 * version and libraries, every resize probed: image_version.c), for the
 * image embedding cache's name. */
uint32_t nli_pixels_fingerprint(void);

/* HWC uint8 -> CHW float32: x/255, then (x-mean)/std per channel. */
void nli_image_normalize(const uint8_t *hwc, int size, const float mean[3], const float std[3], float *chw);
#endif
