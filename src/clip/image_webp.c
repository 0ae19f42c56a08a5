/* image_webp.c — WebP, still and animated, as Pillow 13 opens it (and 9.4:
 * they agree on every corpus file).
 *
 * Pillow built with WebP animation support (Debian's 9.4, 13's wheels) opens
 * every WebP through libwebp's WebPAnimDecoder (WebPImagePlugin._open, _webp.c
 * _anim_decoder_new), still images included: WebPAnimDecoderNew with the
 * default options (MODE_RGBA, no threads) refuses the file when the
 * container does not demux ("could not create decoder object"); the first
 * WebPAnimDecoderGetNext gives the first frame composited on the canvas as
 * the animation decoder does it (area outside the frame transparent black,
 * the frame's pixels, alpha and all, written as they are decoded), and
 * convert('RGB') drops the alpha. So we make the same calls. Pillow only
 * tries the WebP plugin when the first chunk is VP8, VP8L or VP8X
 * (WebPImagePlugin._accept); other files are not identified. */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "image_internal.h"
#include "util.h"

int nli_image_load_webp(const uint8_t *data, size_t len, const char *name, nli_image *out) {
    if (len < 16 || (memcmp(data + 12, "VP8 ", 4) != 0 && memcmp(data + 12, "VP8L", 4) != 0 &&
                     memcmp(data + 12, "VP8X", 4) != 0)) {
        nli_seterr("%s: cannot identify image file (RIFF/WEBP without a VP8, VP8L or VP8X chunk)", name);
        return -1;
    }
    WebPData wd = {data, len};
    /* The canvas size first: the animation decoder allocates two canvases
     * when it is created, so absurd sizes are refused before that. */
    WebPDemuxer *dmx = WebPDemux(&wd);
    if (!dmx) {
        nli_seterr("%s: corrupt WebP: could not create decoder object (the container does not parse)", name);
        return -1;
    }
    uint32_t cw = WebPDemuxGetI(dmx, WEBP_FF_CANVAS_WIDTH), ch = WebPDemuxGetI(dmx, WEBP_FF_CANVAS_HEIGHT);
    WebPDemuxDelete(dmx);
    if (nli_image_check_dims(name, "WebP", cw, ch) != 0) return -1;

    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt)) {
        nli_seterr("%s: libwebp version mismatch", name);
        return -1;
    }
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opt);
    WebPAnimInfo info;
    if (!dec || !WebPAnimDecoderGetInfo(dec, &info)) {
        WebPAnimDecoderDelete(dec);
        nli_seterr("%s: corrupt WebP: could not create decoder object", name);
        return -1;
    }
    uint8_t *rgba = NULL;
    int ts = 0;
    if (info.canvas_width != cw || info.canvas_height != ch || !WebPAnimDecoderGetNext(dec, &rgba, &ts) || !rgba) {
        WebPAnimDecoderDelete(dec);
        nli_seterr("%s: corrupt WebP: failed to decode the first frame (truncated or broken bitstream)", name);
        return -1;
    }
    uint8_t *rgb = nli_image_alloc_rgb(name, (int)cw, (int)ch);
    if (!rgb) {
        WebPAnimDecoderDelete(dec);
        return -1;
    }
    size_t n = (size_t)cw * ch;
    for (size_t i = 0; i < n; i++) memcpy(rgb + 3 * i, rgba + 4 * i, 3);
    WebPAnimDecoderDelete(dec);
    out->w = (int)cw;
    out->h = (int)ch;
    out->rgb = rgb;
    return 0;
}
