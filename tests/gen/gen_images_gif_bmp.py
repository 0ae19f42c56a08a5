#!/usr/bin/python3
"""Write tests/data/images/gif_bmp/: small GIF, BMP and DIB files -- saved
with Pillow or written byte by byte here (own LZW encoder, own BMP headers)
for what Pillow cannot write -- plus damaged variants (every truncation of
small files, bad header fields, corrupt LZW streams, seeded random byte
damage), and manifest.json: for every file what Pillow 9.4 gives for
Image.open(path).convert("RGB") -- width, height and the sha256 of the RGB
bytes -- or "refused" with Pillow's exception.

The library follows Pillow 13: after this script, run
tests/gen/manifest_images_pillow13.py with Pillow 13, which rewrites
manifest.json with Pillow 13's results (keeping 9.4's for the files it
lists as still following 9.4). test_image_formats_gif_bmp.c decodes every
entry and requires that manifest's result.

Run with the system Python (Debian python3-pil 9.4.0): the files saved by
Pillow's encoders are 9.4's bytes (Pillow 13 writes some differently), and
the random mutants depend on them. From the repository root:
  /usr/bin/python3 tests/gen/gen_images_gif_bmp.py
  /tmp/p13/bin/python tests/gen/manifest_images_pillow13.py   (Pillow 13.0.0)
All images are our own: synthetic patterns from fixed seeds.

A wider differential run (not committed): --out DIR --scale K --seed S
writes K times as many random mutants with other seeds into DIR/tests/data/
images/gif_bmp; then tests/gen/manifest_images_pillow13.py --root DIR (with
Pillow 13) and NEGLABEL_SRC=DIR build/test_image_formats_gif_bmp.
"""
import argparse
import hashlib
import io
import json
import os
import random
import struct
import sys
import warnings

import PIL
from PIL import Image

assert PIL.__version__ == "9.4.0", ("run with Debian's /usr/bin/python3 (Pillow 9.4.0), then "
                                   "tests/gen/manifest_images_pillow13.py with Pillow 13")
warnings.simplefilter("ignore")
ap = argparse.ArgumentParser()
ap.add_argument("--out", default=".")
ap.add_argument("--scale", type=int, default=1)
ap.add_argument("--seed", type=int, default=0)
ARGS = ap.parse_args()
OUT = os.path.join(ARGS.out, "tests/data/images/gif_bmp")
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
FILES = {}


def put(name, data):
    assert name not in FILES, name
    FILES[name] = bytes(data)


def pattern_idx(w, h, ncol, seed):
    r = random.Random(seed)
    return bytes(((x * 3 + y * 5 + r.randrange(3)) % ncol) for y in range(h) for x in range(w))


def palette(n, seed):
    r = random.Random(seed)
    return bytes(r.randrange(256) for _ in range(3 * n))


def rgb_pattern(w, h, seed):
    r = random.Random(seed)
    px = bytearray()
    for y in range(h):
        for x in range(w):
            n = r.randrange(40)
            px += bytes(((x * 255 // max(w - 1, 1) + n) % 256, (y * 255 // max(h - 1, 1) + 2 * n) % 256,
                         ((x ^ y) * 37 + seed) % 256))
    return Image.frombytes("RGB", (w, h), bytes(px))


def truncations(name, data, cuts):
    base, ext = os.path.splitext(name)
    for c in sorted(set(c for c in cuts if 0 < c < len(data))):
        put("%s_t%d%s" % (base, c, ext), data[:c])


def mutants(name, data, n, seed, protect=0):
    """Seeded random damage: byte flips, set to 0/255, insertions, deletions."""
    r = random.Random(seed + 1000003 * ARGS.seed)
    base, ext = os.path.splitext(name)
    for i in range(n * ARGS.scale):
        d = bytearray(data)
        for _ in range(r.randrange(1, 4)):
            op = r.randrange(5)
            p = r.randrange(protect, len(d)) if len(d) > protect else protect
            if op == 0 and p < len(d):
                d[p] ^= 1 << r.randrange(8)
            elif op == 1 and p < len(d):
                d[p] = r.choice((0, 255, r.randrange(256)))
            elif op == 2:
                d[p:p] = bytes([r.randrange(256)])
            elif op == 3 and p < len(d):
                del d[p]
            elif op == 4 and p < len(d):
                d[p] = (d[p] + r.choice((1, -1))) % 256
        put("%s_m%d%s" % (base, i, ext), d)


# ================================================================== GIF

def lzw(indices, bits, clear_first=True, eoi=True, literals=False, clear_every=None, table_full="clear"):
    """GIF LZW codes as (code, width) pairs; the width follows Pillow's
    decoder (GifDecode.c): +1 bit once entry 2**n-1 has been added."""
    clear, end = 1 << bits, (1 << bits) + 1
    codes = []
    st = {"next": clear + 2, "cs": bits + 1, "first": True}

    def emit(c):
        codes.append((c, st["cs"]))
        if c == clear:
            st.update(next=clear + 2, cs=bits + 1, first=True)
        elif st["first"]:
            st["first"] = False
        elif st["next"] < 4096:
            if st["next"] == (1 << st["cs"]) - 1 and st["cs"] < 12:
                st["cs"] += 1
            st["next"] += 1

    if clear_first:
        emit(clear)
    if literals:
        for k, v in enumerate(indices):
            if clear_every and k and k % clear_every == 0:
                emit(clear)
            emit(v)
    else:
        table, nxt, w = {}, clear + 2, None
        for k, v in enumerate(indices):
            if w is None:
                w = (v,)
                continue
            wk = w + (v,)
            if wk in table or (len(wk) == 1):
                w = wk
                continue
            emit(table[w] if len(w) > 1 else w[0])
            if nxt < 4096:
                table[wk] = nxt
                nxt += 1
            elif table_full == "clear":
                emit(clear)
                table, nxt = {}, clear + 2
            w = (v,)
        if w is not None:
            emit(table[w] if len(w) > 1 else w[0])
    if eoi:
        emit(end)
    return codes


def pack(codes):
    out, acc, n = bytearray(), 0, 0
    for c, w in codes:
        acc |= c << n
        n += w
        while n >= 8:
            out.append(acc & 255)
            acc >>= 8
            n -= 8
    if n:
        out.append(acc & 255)
    return bytes(out)


def subblocks(data, size=255, terminator=True):
    out = bytearray()
    for i in range(0, len(data), size):
        chunk = data[i:i + size]
        out.append(len(chunk))
        out += chunk
    if terminator:
        out.append(0)
    return bytes(out)


def gce(transparency=None, dispose=0, delay=0):
    flags = (dispose << 2) | (1 if transparency is not None else 0)
    return b"!\xf9\x04" + bytes([flags]) + struct.pack("<H", delay) + bytes([transparency or 0]) + b"\x00"


def image_block(x, y, w, h, lzwdata, code_size, lpal=None, interlace=False, block=255):
    flags = 0
    if lpal is not None:
        n = len(lpal) // 3
        flags |= 0x80 | (n.bit_length() - 2)
    if interlace:
        flags |= 0x40
    out = b"," + struct.pack("<HHHH", x, y, w, h) + bytes([flags])
    if lpal is not None:
        out += lpal
    return out + bytes([code_size]) + subblocks(lzwdata, block)


def gif(sw, sh, gpal=None, body=b"", version=b"GIF89a", bg=0, trailer=True):
    flags = 0
    if gpal is not None:
        n = len(gpal) // 3
        flags = 0x80 | 0x70 | (n.bit_length() - 2)
    out = version + struct.pack("<HH", sw, sh) + bytes([flags, bg, 0])
    if gpal is not None:
        out += gpal
    return out + body + (b";" if trailer else b"")


def interlace_order(h):
    return [y for start, step in ((0, 8), (4, 8), (2, 4), (1, 2)) for y in range(start, h, step)]


def interlaced(idx, w, h):
    return b"".join(idx[y * w:(y + 1) * w] for y in interlace_order(h))


def simple_gif(w, h, ncol=4, seed=1, bits=None, **kw):
    bits = bits or max(2, (ncol - 1).bit_length())
    idx = pattern_idx(w, h, ncol, seed)
    pal = palette(1 << max(1, (ncol - 1).bit_length()), seed)
    return gif(w, h, pal, image_block(0, 0, w, h, pack(lzw(idx, bits)), bits, **kw))


def gif_cases():
    # --- written by Pillow (its encoder, optimized palettes, interlace on >= 16 rows)
    for (w, h, mode, seed) in ((1, 1, "P", 1), (7, 5, "P", 2), (33, 21, "P", 3), (61, 37, "P", 4),
                               (40, 40, "L", 5), (16, 64, "RGB", 6)):
        im = rgb_pattern(w, h, seed)
        if mode == "P":
            im = im.quantize(colors=[2, 16, 100, 256][seed % 4])
        elif mode == "L":
            im = im.convert("L")
        b = io.BytesIO()
        im.save(b, "GIF")
        put("pil_%s_%dx%d.gif" % (mode, w, h), b.getvalue())
    im = rgb_pattern(29, 31, 7).quantize(colors=64)
    for interlace in (0, 1):
        b = io.BytesIO()
        im.save(b, "GIF", interlace=interlace, transparency=5)
        put("pil_trns_il%d.gif" % interlace, b.getvalue())
    frames = [rgb_pattern(20, 18, s).quantize(colors=32) for s in (8, 9, 10)]
    b = io.BytesIO()
    frames[0].save(b, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0, disposal=2)
    put("pil_anim.gif", b.getvalue())
    put("pil_anim_trunc_frame2.gif", b.getvalue()[:len(b.getvalue()) * 2 // 3])

    # --- hand-written: palettes and modes
    idx = pattern_idx(9, 7, 4, 11)
    data = pack(lzw(idx, 2))
    gp, lp = palette(4, 12), palette(4, 13)
    grey4 = bytes(v for i in range(4) for v in (i, i, i))
    put("gp_only.gif", gif(9, 7, gp, image_block(0, 0, 9, 7, data, 2)))
    put("lp_only.gif", gif(9, 7, None, image_block(0, 0, 9, 7, data, 2, lpal=lp)))
    put("gp_lp.gif", gif(9, 7, gp, image_block(0, 0, 9, 7, data, 2, lpal=lp)))
    put("no_palette.gif", gif(9, 7, None, image_block(0, 0, 9, 7, data, 2)))
    put("gp_grey.gif", gif(9, 7, grey4, image_block(0, 0, 9, 7, data, 2)))
    put("gp_lp_grey.gif", gif(9, 7, gp, image_block(0, 0, 9, 7, data, 2, lpal=grey4)))
    put("gp_grey_lp.gif", gif(9, 7, grey4, image_block(0, 0, 9, 7, data, 2, lpal=lp)))
    put("gif87a.gif", gif(9, 7, gp, image_block(0, 0, 9, 7, data, 2), version=b"GIF87a"))
    # indices beyond a short palette (2 and 16 entries), 8-bit codes
    idx = bytes((x * 37 + y * 11) % 256 for y in range(6) for x in range(11))
    put("short_pal2.gif", gif(11, 6, palette(2, 14), image_block(0, 0, 11, 6, pack(lzw(idx, 8)), 8)))
    put("short_pal16.gif", gif(11, 6, palette(16, 15), image_block(0, 0, 11, 6, pack(lzw(idx, 8)), 8)))
    put("short_lpal.gif", gif(11, 6, None, image_block(0, 0, 11, 6, pack(lzw(idx, 8)), 8, lpal=palette(8, 16))))
    put("full_pal.gif", gif(11, 6, palette(256, 17), image_block(0, 0, 11, 6, pack(lzw(idx, 8)), 8)))

    # --- transparency, frame placement, background
    idx = pattern_idx(5, 4, 4, 21)
    d = pack(lzw(idx, 2))
    gp = palette(4, 22)
    for name, body, sw, sh in (
            ("offset_frame.gif", image_block(3, 2, 5, 4, d, 2), 12, 9),
            ("offset_frame_trns.gif", gce(transparency=2) + image_block(3, 2, 5, 4, d, 2), 12, 9),
            ("offset_frame_trns_dispose2.gif", gce(transparency=1, dispose=2) + image_block(3, 2, 5, 4, d, 2), 12, 9),
            ("offset_frame_dispose3.gif", gce(dispose=3) + image_block(3, 2, 5, 4, d, 2), 12, 9),
            ("frame_beyond_screen.gif", image_block(6, 5, 5, 4, d, 2), 8, 6),
            ("screen_zero.gif", image_block(0, 0, 5, 4, d, 2), 0, 0),
            ("screen_zero_offset.gif", image_block(2, 1, 5, 4, d, 2), 0, 0),
            ("frame_w0_x0.gif", image_block(0, 0, 0, 4, pack(lzw(pattern_idx(5, 4, 4, 23), 2)), 2), 5, 4),
            ("frame_w0_x0_y2.gif", image_block(0, 2, 0, 3, pack(lzw(pattern_idx(5, 5, 4, 24), 2)), 2), 5, 4),
            ("frame_w0_x1.gif", image_block(1, 0, 0, 4, d, 2), 5, 4),
            ("frame_h0.gif", image_block(1, 1, 3, 0, d, 2), 5, 4),
            ("frame_h0_x0.gif", image_block(0, 0, 3, 0, d, 2), 5, 4),
            ("trns_gce_no_flag.gif", gce() + image_block(3, 2, 5, 4, d, 2), 12, 9),
            ("trns_two_gce.gif", gce(transparency=3) + gce() + image_block(3, 2, 5, 4, d, 2), 12, 9),
            ("trns_full_frame.gif", gce(transparency=0) + image_block(0, 0, 5, 4, d, 2), 5, 4),
    ):
        put(name, gif(sw, sh, gp, body, bg=3))
    put("offset_frame_grey_trns.gif", gif(12, 9, None, gce(transparency=2) + image_block(3, 2, 5, 4, d, 2)))

    # --- interlace at small and larger heights
    for h in (1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 33):
        w = 6
        idx = pattern_idx(w, h, 16, 30 + h)
        put("interlace_h%d.gif" % h, gif(w, h, palette(16, 31), image_block(0, 0, w, h, pack(lzw(interlaced(idx, w, h), 4)), 4, interlace=True)))
    idx = pattern_idx(45, 41, 200, 40)
    put("interlace_45x41.gif", gif(45, 41, palette(256, 41), image_block(0, 0, 45, 41, pack(lzw(interlaced(idx, 45, 41), 8)), 8, interlace=True)))
    idx = pattern_idx(4, 3, 4, 42)
    put("interlace_offset.gif", gif(9, 8, palette(4, 43), gce(transparency=1) + image_block(2, 3, 4, 3, pack(lzw(interlaced(idx, 4, 3), 2)), 2, interlace=True)))

    # --- LZW code sizes and stream shapes
    for bits in range(0, 14):
        w, h = 7, 5
        ncol = 1 << min(bits, 8) if bits else 1
        idx = bytes(v % ncol for v in pattern_idx(w, h, 256, 50 + bits))
        lit = bits <= 1 or bits == 12
        put("codesize_%d.gif" % bits, gif(w, h, palette(256, 51), image_block(0, 0, w, h, pack(lzw(idx, min(bits, 12), literals=lit)) if bits <= 12 else pack(lzw(idx, 8)), bits)))
    # literal codes above 255 (code size 9..12): Pillow keeps the low byte
    for bits in (9, 12):
        idx = [(k * 97) % (1 << bits) for k in range(35)]
        put("literal_high_%d.gif" % bits, gif(7, 5, palette(256, 52), image_block(0, 0, 7, 5, pack(lzw(idx, bits, literals=True)), bits)))
    w, h = 64, 64
    idx = pattern_idx(w, h, 256, 53)
    gp = palette(256, 54)
    put("no_clear_first.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8, clear_first=False)), 8)))
    put("no_eoi.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8, eoi=False)), 8)))
    put("clear_every.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8, literals=True, clear_every=100)), 8)))
    put("literals_table_full.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8, literals=True)), 8)))
    idx2 = bytes(random.Random(55).randrange(256) for _ in range(120 * 100))
    put("table_full_clear.gif", gif(120, 100, gp, image_block(0, 0, 120, 100, pack(lzw(idx2, 8)), 8)))
    put("table_full_deferred.gif", gif(120, 100, gp, image_block(0, 0, 120, 100, pack(lzw(idx2, 8, table_full="none")), 8)))
    idx3 = bytes([7] * 900)  # long runs: KwKwK codes
    put("kwkwk.gif", gif(30, 30, gp, image_block(0, 0, 30, 30, pack(lzw(idx3, 8)), 8)))
    put("small_blocks.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8)), 8, block=7)))
    put("one_byte_blocks.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8)), 8, block=1)))
    # more pixels than the frame holds, and trailing garbage after the image
    extra = pack(lzw(idx + idx[:100], 8))
    put("extra_pixels.gif", gif(w, h, gp, image_block(0, 0, w, h, extra, 8)))
    put("trailing_garbage.gif", gif(w, h, gp, image_block(0, 0, w, h, pack(lzw(idx, 8)), 8)) + b"garbage\x00\xff" * 5)

    # --- corrupt / short LZW streams
    idx = pattern_idx(8, 6, 16, 60)
    gp = palette(16, 61)
    good = lzw(idx, 4)

    def with_codes(codes, name, sw=8, sh=6):
        put(name, gif(sw, sh, gp, image_block(0, 0, 8, 6, pack(codes), 4)))

    with_codes(good, "lzw_good.gif")
    with_codes(good[:len(good) // 2] + [(17, 5)], "lzw_eoi_early.gif")
    with_codes(good[:len(good) // 2], "lzw_cut_no_eoi.gif")
    with_codes(good[:1] + [(20, 5)] + good[1:], "lzw_first_code_gt_clear.gif")
    with_codes(good[:1] + [(17, 5)] + good[1:], "lzw_eoi_first.gif")
    with_codes(good[:5] + [(31, 5)] + good[5:], "lzw_code_gt_next.gif")
    with_codes(good[:5] + [(16, 5)] + good[5:], "lzw_clear_midway.gif")
    with_codes([(16, 5), (16, 5), (16, 5)] + good[1:], "lzw_repeated_clear.gif")
    # EOI before the end of the image, then more LZW data in later blocks
    # (Pillow goes on decoding after an early EOI when data follows)
    first, rest = good[:8], good[8:]
    b1, b2 = pack(first + [(17, 5)]), pack(rest)
    put("lzw_eoi_then_data.gif", gif(8, 6, gp, b"," + struct.pack("<HHHH", 0, 0, 8, 6) + b"\x00\x04" + subblocks(b1, terminator=False) + subblocks(b2)))
    put("lzw_empty_block_midway.gif", gif(8, 6, gp, b"," + struct.pack("<HHHH", 0, 0, 8, 6) + b"\x00\x04" + subblocks(pack(good)[:5], terminator=False) + b"\x00" + subblocks(pack(good)[5:])))
    put("lzw_no_data.gif", gif(8, 6, gp, b"," + struct.pack("<HHHH", 0, 0, 8, 6) + b"\x00\x04\x00"))
    put("lzw_no_data_no_trailer.gif", gif(8, 6, gp, b"," + struct.pack("<HHHH", 0, 0, 8, 6) + b"\x00\x04", trailer=False))
    full = gif(8, 6, gp, image_block(0, 0, 8, 6, pack(good), 4))
    put("lzw_no_terminator.gif", full[:-2])
    put("lzw_last_block_short.gif", full[:-3])

    # --- extensions and block structure
    idx = pattern_idx(6, 5, 4, 70)
    gp = palette(4, 71)
    img = image_block(0, 0, 6, 5, pack(lzw(idx, 2)), 2)
    for name, ext in (
            ("ext_comment.gif", b"!\xfe" + subblocks(b"made by neglabel tests" * 20)),
            ("ext_comment_empty.gif", b"!\xfe\x00"),
            ("ext_netscape.gif", b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"),
            ("ext_netscape_short.gif", b"!\xff\x0bNETSCAPE2.0\x02\x01\x00\x00"),
            ("ext_netscape_empty.gif", b"!\xff\x0bNETSCAPE2.0\x00"),
            ("ext_app_empty.gif", b"!\xff\x00"),
            ("ext_app_other.gif", b"!\xff\x0bXMP DataXMP" + subblocks(b"<x/>" * 10)),
            ("ext_plaintext.gif", b"!\x01" + subblocks(bytes(range(13)) + b"hello")),
            ("ext_unknown.gif", b"!\x42\x03abc\x00"),
            ("gce_empty.gif", b"!\xf9\x00"),
            ("gce_len2.gif", b"!\xf9\x02\x00\x00\x00"),
            ("gce_len3.gif", b"!\xf9\x03\x00\x00\x00\x00"),
            ("gce_len3_trns.gif", b"!\xf9\x03\x01\x00\x00\x00"),
            ("gce_len6_trns.gif", b"!\xf9\x06\x01\x00\x00\x02\x09\x09\x00"),
            ("junk_bytes.gif", b"\x00\x01junk\xff"),
            ("trailer_before_image.gif", b";"),
    ):
        put(name, gif(6, 5, gp, ext + img))
    put("no_image.gif", gif(6, 5, gp, b""))
    put("empty_after_header.gif", gif(6, 5, gp, b"", trailer=False))

    # --- every truncation of two small files, and seeded damage
    base1 = gif(5, 4, palette(4, 80), gce(transparency=1) + b"!\xfe\x03abc\x00" +
                image_block(1, 1, 3, 2, pack(lzw(pattern_idx(3, 2, 4, 81), 2)), 2, lpal=palette(4, 82)))
    put("trunc_base1.gif", base1)
    truncations("trunc_base1.gif", base1, range(1, len(base1)))
    idx = pattern_idx(6, 9, 16, 83)
    base2 = gif(6, 9, palette(16, 84), image_block(0, 0, 6, 9, pack(lzw(interlaced(idx, 6, 9), 4)), 4, interlace=True, block=9))
    put("trunc_base2.gif", base2)
    truncations("trunc_base2.gif", base2, range(1, len(base2)))
    mutants("mut1.gif", base1, 120, 90, protect=6)
    mutants("mut2.gif", base2, 120, 91, protect=6)
    mutants("mut3.gif", FILES["pil_P_7x5.gif"], 60, 92, protect=6)
    mutants("mut4.gif", FILES["interlace_h9.gif"], 30, 93, protect=6)
    mutants("mut5.gif", FILES["ext_netscape.gif"], 30, 94, protect=6)
    mutants("mut6.gif", FILES["offset_frame_trns.gif"], 30, 95, protect=6)


# ================================================================== BMP

def row_bytes(vals, bits):
    if bits >= 8:
        return bytes(vals)
    per = 8 // bits
    out = bytearray()
    for i in range(0, len(vals), per):
        b = 0
        for j, v in enumerate(vals[i:i + per]):
            b |= v << (8 - bits * (j + 1))
        out.append(b)
    return bytes(out)


def bmp_pixels(rows, bits):
    """rows (top to bottom) of per-pixel byte strings / index lists, padded to 4 bytes, bottom-up."""
    out = bytearray()
    for r in rows:
        rb = row_bytes(r, bits) if bits < 8 else bytes(r)
        out += rb + bytes((-len(rb)) % 4)
    return bytes(out)


def bmp(w, h, bits, pixels, pal=b"", hsize=40, compression=0, colors=0, masks=None, offset=None,
        planes=1, extra_hdr=b"", magic=b"BM", raw_height=None, dib=False):
    if hsize == 12:
        hdr = struct.pack("<IHHHH", 12, w, h, planes, bits)
    else:
        hdr = struct.pack("<IiiHHIIiiII", hsize, w, h if raw_height is None else 0, planes, bits, compression,
                          len(pixels), 2835, 2835, colors, 0)
        if raw_height is not None:
            hdr = hdr[:8] + struct.pack("<I", raw_height) + hdr[12:]
        rest = hsize - 40
        tail = bytearray(max(rest, 0))
        if masks is not None and rest >= 16:
            tail[0:16] = struct.pack("<IIII", *(tuple(masks) + (0,) * (4 - len(masks))))
        hdr += bytes(tail)
    hdr += extra_hdr
    if masks is not None and hsize == 40:
        hdr += struct.pack("<III", *masks[:3])
    body = hdr + pal
    if dib:
        return body + pixels
    off = 14 + len(body) if offset is None else offset
    return magic + struct.pack("<IHHI", 14 + len(body) + len(pixels), 0, 0, off) + body + pixels


def bgrx_pal(n, seed, pad=True):
    p = palette(n, seed)
    return b"".join(bytes((p[3 * i + 2], p[3 * i + 1], p[3 * i])) + (b"\x00" if pad else b"") for i in range(n))


def rle8(rows_ops):
    return b"".join(rows_ops)


def bmp_cases():
    # --- written by Pillow: 1, L, P, RGB, RGBA (32-bit BGRA, read as BGRX)
    for mode, (w, h) in (("1", (13, 7)), ("L", (17, 9)), ("P", (21, 11)), ("RGB", (23, 13)), ("RGBA", (11, 5))):
        im = rgb_pattern(w, h, 100 + w)
        if mode == "P":
            im = im.quantize(colors=77)
        elif mode == "RGBA":
            im = im.convert("RGBA")
            im.putalpha(Image.linear_gradient("L").resize((w, h)))
        else:
            im = im.convert(mode)
        b = io.BytesIO()
        im.save(b, "BMP")
        put("pil_%s.bmp" % mode, b.getvalue())
        if mode == "RGB":
            b = io.BytesIO()
            im.save(b, "DIB")
            put("pil_RGB.dib", b.getvalue())

    # --- palette depths
    for bits, (w, h) in ((1, (19, 6)), (4, (13, 5)), (8, (11, 7))):
        n = 1 << bits
        vals = [[(x * 7 + y * 3) % n for x in range(w)] for y in range(h)]
        px = bmp_pixels(vals[::-1], bits)
        put("pal%d.bmp" % bits, bmp(w, h, bits, px, bgrx_pal(n, bits)))
        put("pal%d_topdown.bmp" % bits, bmp(w, -h, bits, bmp_pixels(vals, bits), bgrx_pal(n, bits)))
        put("pal%d_os2.bmp" % bits, bmp(w, h, bits, px, bgrx_pal(n, bits, pad=False), hsize=12))
        # OS/2 quirk: Pillow skips 4*colors after a 12-byte header when the offset points right behind it
        put("pal%d_os2_offset26.bmp" % bits, bmp(w, h, bits, px, bgrx_pal(n, bits, pad=False), hsize=12, offset=26))
        for hs in (64, 108, 124):
            put("pal%d_h%d.bmp" % (bits, hs), bmp(w, h, bits, px, bgrx_pal(n, bits), hsize=hs))
        put("pal%d_offset0.bmp" % bits, bmp(w, h, bits, px, bgrx_pal(n, bits), offset=0))
    # short palettes (colors field) and indices beyond them
    w, h = 9, 4
    vals = [[(x * 29 + y * 7) % 256 for x in range(w)] for y in range(h)]
    px = bmp_pixels(vals, 8)
    for n in (1, 2, 3, 16, 255):
        put("pal8_colors%d.bmp" % n, bmp(w, h, 8, px, bgrx_pal(n, 200 + n), colors=n))
    put("pal8_colors300.bmp", bmp(w, h, 8, px, bgrx_pal(300, 205), colors=300))
    put("pal8_colors300_grey.bmp", bmp(w, h, 8, px, b"".join(bytes((i % 256,) * 3 + (0,)) for i in range(300)), colors=300))
    put("pal8_colors65537.bmp", bmp(w, h, 8, px, b"", colors=65537))
    put("pal1_colors4.bmp", bmp(w, h, 1, bmp_pixels([[x % 2 for x in range(w)]] * h, 1), bgrx_pal(4, 206), colors=4))
    # greyscale palettes: mode 1 / L (Pillow drops the palette), incl. the 4-bit and 1-bit "L" quirk
    bw = b"\x00\x00\x00\x00\xff\xff\xff\x00"
    vals1 = [[(x + y) % 2 for x in range(w)] for y in range(h)]
    put("mode1.bmp", bmp(w, h, 1, bmp_pixels(vals1, 1), bw))
    put("mode1_from_8bit.bmp", bmp(w, h, 8, bmp_pixels(vals1, 8), bw, colors=2))
    put("mode1_from_4bit.bmp", bmp(w, h, 4, bmp_pixels(vals1, 4), bw, colors=2))
    put("mode1_wb.bmp", bmp(w, h, 1, bmp_pixels(vals1, 1), bw[4:] + bw[:4]))
    grey = b"".join(bytes((i, i, i, 0)) for i in range(256))
    put("modeL_8.bmp", bmp(w, h, 8, px, grey))
    put("modeL_8_colors100.bmp", bmp(w, h, 8, px, grey[:400], colors=100))
    vals4 = [[(x * 5 + y) % 16 for x in range(w)] for y in range(h)]
    put("modeL_4_quirk.bmp", bmp(w, h, 4, bmp_pixels(vals4, 4), grey[:64]))
    put("modeL_4_quirk_padded.bmp", bmp(w, h, 4, bmp_pixels(vals4, 4) + bytes(64), grey[:64]))
    put("modeL_4_quirk_wide.bmp", bmp(40, 2, 4, bmp_pixels([[x % 16 for x in range(40)]] * 2, 4), grey[:64]))
    put("modeL_1_quirk.bmp", bmp(w, h, 1, bmp_pixels(vals1, 1), grey[:4] + b"\x01\x01\x01\x00", colors=2))
    put("modeL_1_colors3.bmp", bmp(w, h, 1, bmp_pixels(vals1, 1), grey[:12], colors=3))

    # --- 16, 24, 32 bit
    w, h = 7, 5
    r = random.Random(300)
    px16 = bmp_pixels([[r.randrange(256) for _ in range(2 * w)] for _ in range(h)], 8)
    px24 = bmp_pixels([[r.randrange(256) for _ in range(3 * w)] for _ in range(h)], 8)
    px32 = bmp_pixels([[r.randrange(256) for _ in range(4 * w)] for _ in range(h)], 8)
    put("rgb16.bmp", bmp(w, h, 16, px16))
    put("rgb16_565.bmp", bmp(w, h, 16, px16, compression=3, masks=(0xF800, 0x7E0, 0x1F)))
    put("rgb16_555.bmp", bmp(w, h, 16, px16, compression=3, masks=(0x7C00, 0x3E0, 0x1F)))
    put("rgb16_565_v5.bmp", bmp(w, h, 16, px16, hsize=124, compression=3, masks=(0xF800, 0x7E0, 0x1F, 0)))
    put("rgb16_444.bmp", bmp(w, h, 16, px16, compression=3, masks=(0xF00, 0xF0, 0xF)))
    put("rgb16_topdown.bmp", bmp(w, -h, 16, px16))
    put("rgb24.bmp", bmp(w, h, 24, px24))
    put("rgb24_topdown.bmp", bmp(w, -h, 24, px24))
    put("rgb24_bitfields.bmp", bmp(w, h, 24, px24, compression=3, masks=(0xFF0000, 0xFF00, 0xFF)))
    put("rgb24_bitfields_bad.bmp", bmp(w, h, 24, px24, compression=3, masks=(0xFF, 0xFF00, 0xFF0000)))
    put("rgb24_os2.bmp", bmp(w, h, 24, px24, hsize=12))
    put("rgb24_h64.bmp", bmp(w, h, 24, px24, hsize=64))
    put("rgb32.bmp", bmp(w, h, 32, px32))
    put("rgb32_topdown.bmp", bmp(w, -h, 32, px32))
    for i, m in enumerate(((0xFF0000, 0xFF00, 0xFF, 0), (0xFF000000, 0xFF0000, 0xFF00, 0), (0xFF000000, 0xFF0000, 0xFF00, 0xFF),
                           (0xFF, 0xFF00, 0xFF0000, 0xFF000000), (0xFF0000, 0xFF00, 0xFF, 0xFF000000), (0, 0, 0, 0),
                           (0xFF, 0xFF00, 0xFF0000, 0))):
        put("rgb32_bf%d_v4.bmp" % i, bmp(w, h, 32, px32, hsize=108, compression=3, masks=m))
        put("rgb32_bf%d_v3.bmp" % i, bmp(w, h, 32, px32, hsize=40, compression=3, masks=m))
    put("rgb32_bf_rgba_topdown.bmp", bmp(w, -h, 32, px32, hsize=124, compression=3, masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)))
    put("rgb32_bf_rgba_short.bmp", bmp(w, h, 32, px32[:-3], hsize=124, compression=3, masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)))
    put("rgb32_bf_v3_masks_cut.bmp", bmp(w, h, 32, b"", compression=3) + b"\x00\x00\xff")
    put("pal8_bitfields.bmp", bmp(w, h, 8, px24, bgrx_pal(256, 301), compression=3, masks=(1, 2, 3)))

    # --- RLE8 / RLE4
    def rle(w, h, ops, bits=8, pal=None, comp=None, **kw):
        n = 1 << bits if bits <= 8 else 256
        return bmp(w, h, bits, ops, bgrx_pal(n, 400) if pal is None else pal, compression=comp or (1 if bits == 8 else 2), **kw)
    e, eob = b"\x00\x00", b"\x00\x01"
    ops8 = (b"\x03\x05\x02\x07" + b"\x00\x03\x01\x02\x03\x00" + e +   # run, run, absolute (odd count, padded)
            b"\x08\x09" + e + b"\x00\x02\x02\x01" + b"\x02\x0a" + e + b"\x00\x04\x0b\x0c\x0d\x0e" + b"\x04\x0f" + e + eob)
    put("rle8.bmp", rle(8, 5, ops8))
    put("rle8_topdown.bmp", rle(8, -5, ops8))
    put("rle8_no_eob.bmp", rle(8, 4, ops8[:-2]))
    put("rle8_eob_early.bmp", rle(8, 9, ops8))
    put("rle8_overflow_row.bmp", rle(4, 3, b"\x09\x05" + e + b"\x00\x06" + bytes(range(1, 7)) + b"\x02\x03" + e + b"\x04\x01" + e + eob))
    put("rle8_delta_past_end.bmp", rle(4, 3, b"\x02\x05\x00\x02\x01\x05\x01\x07" + eob))
    put("rle8_delta_cut.bmp", rle(4, 3, b"\x02\x05\x00\x02\x01"))
    put("rle8_abs_cut.bmp", rle(4, 3, b"\x02\x05\x00\x08\x01\x02"))
    put("rle8_only_eol.bmp", rle(3, 3, e * 3 + eob))
    put("rle8_eol_at_start.bmp", rle(3, 3, e + b"\x03\x01\x03\x02" + eob))
    put("rle8_mode1.bmp", rle(4, 2, b"\x04\x01\x04\x00" + eob, pal=bw, colors=2))
    put("rle8_grey.bmp", rle(4, 2, b"\x04\x11\x04\x22" + eob, pal=grey))
    put("rle8_24bit.bmp", rle(4, 2, b"\x04\x11\x04\x22" + eob, bits=24, comp=1))
    put("rle8_on_4bit.bmp", rle(4, 2, b"\x04\x0b\x04\x03" + eob, bits=4, comp=1))
    put("rle8_odd_offset.bmp", bmp(4, 3, 8, b"\x00" + b"\x00\x03\x01\x02\x03\x00\x01\x05" + e + b"\x04\x06\x04\x07" + eob,
                                   bgrx_pal(256, 401), compression=1, offset=14 + 40 + 1024 + 1))
    ops4 = (b"\x05\x12" + b"\x00\x04\x34\x56" + e + b"\x00\x03\x78\x90" + b"\x03\xab" + e + b"\x00\x02\x01\x01\x06\xcd" + eob)
    put("rle4.bmp", rle(7, 3, ops4, bits=4))
    put("rle4_topdown.bmp", rle(7, -3, ops4, bits=4))
    put("rle4_on_8bit.bmp", rle(7, 3, ops4, bits=8, comp=2))
    put("rle4_odd_abs.bmp", rle(5, 2, b"\x00\x05\x12\x34\x50\x00" + e + b"\x05\x21" + eob, bits=4))
    w, h = 37, 23
    r = random.Random(402)
    ops = bytearray()
    for y in range(h):
        x = 0
        while x < w:
            n = min(w - x, r.randrange(1, 9))
            if r.randrange(3):
                ops += bytes((n, r.randrange(256)))
            elif n >= 3:
                ops += bytes((0, n)) + bytes(r.randrange(256) for _ in range(n)) + (b"\x00" if n % 2 else b"")
            else:
                ops += bytes((n, 0))
            x += n
        ops += e
    ops += eob
    put("rle8_37x23.bmp", rle(w, h, bytes(ops)))

    # --- refusals and odd header fields
    w, h = 5, 3
    px24 = bmp_pixels([[r.randrange(256) for _ in range(3 * w)] for _ in range(h)], 8)
    for bits in (0, 2, 3, 12, 48, 64):
        put("bits%d.bmp" % bits, bmp(w, h, bits, px24))
    for comp in (4, 5, 6, 7, 99):
        put("compression%d.bmp" % comp, bmp(w, h, 24, px24, compression=comp))
    for hs in (0, 4, 16, 52, 56, 125):
        b = bytearray(bmp(w, h, 24, px24))
        b[14:18] = struct.pack("<I", hs)
        put("header%d.bmp" % hs, b)
    put("width0.bmp", bmp(0, h, 24, px24))
    put("height0.bmp", bmp(w, 0, 24, px24))
    put("height_top80.bmp", bmp(w, h, 24, px24, raw_height=0x80000003))
    put("height_fffffffd.bmp", bmp(w, h, 24, px24, raw_height=0xFFFFFFFD))
    put("height_ff000001.bmp", bmp(w, h, 24, px24, raw_height=0xFF000001))
    put("huge_bomb.bmp", bmp(20000, 20000, 24, px24))
    put("huge_allowed_truncated.bmp", bmp(10000, 10000, 8, px24, bgrx_pal(256, 500)))
    put("huge_rle_truncated.bmp", rle(10000, 10000, b"\x10\x01" + eob))
    put("planes0.bmp", bmp(w, h, 24, px24, planes=0))
    put("offset_beyond.bmp", bmp(w, h, 24, px24, offset=5000))
    put("offset_into_header.bmp", bmp(w, h, 24, px24, offset=20))
    put("last_row_unpadded.bmp", bmp(w, h, 24, px24[:-1]))
    put("last_row_short.bmp", bmp(w, h, 24, px24[:-2]))
    put("pal8_last_row_unpadded.bmp", bmp(w, h, 8, bmp_pixels([[1, 2, 3, 4, 5]] * 3, 8)[:-3], bgrx_pal(256, 501)))
    put("pal8_palette_cut.bmp", bmp(w, h, 8, b"", bgrx_pal(256, 502))[:14 + 40 + 300])
    put("pal8_palette_cut_offset14.bmp", bmp(w, h, 8, b"", bgrx_pal(256, 503), offset=14)[:14 + 40 + 300])
    put("magic_only.bmp", b"BM")
    put("file_header_only.bmp", bmp(w, h, 24, px24)[:14])
    put("dib_40.dib", bmp(w, h, 24, px24, dib=True))
    put("dib_pal8.dib", bmp(9, 4, 8, px, bgrx_pal(256, 504), dib=True))
    put("dib_os2.dib", bmp(w, h, 24, px24, hsize=12, dib=True))
    put("dib_short.dib", bmp(w, h, 24, px24, dib=True)[:30])

    # --- every truncation of small files, and seeded damage
    vals = [[(x * 3 + y) % 4 for x in range(5)] for y in range(3)]
    base1 = bmp(5, 3, 8, bmp_pixels(vals, 8), bgrx_pal(4, 600), colors=4)
    put("trunc_base1.bmp", base1)
    truncations("trunc_base1.bmp", base1, range(1, len(base1)))
    base2 = bmp(3, 2, 24, bmp_pixels([[r.randrange(256) for _ in range(9)] for _ in range(2)], 8), hsize=108,
                compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0))
    put("trunc_base2.bmp", base2)
    truncations("trunc_base2.bmp", base2, range(1, len(base2)))
    base3 = rle(6, 3, b"\x03\x05\x00\x03\x01\x02\x03\x00" + e + b"\x06\x09" + e + b"\x00\x02\x01\x00\x02\x04" + eob, pal=bgrx_pal(8, 601), colors=8)
    put("trunc_base3.bmp", base3)
    truncations("trunc_base3.bmp", base3, range(1, len(base3)))
    base4 = bmp(4, 2, 4, bmp_pixels([[1, 2, 3, 4], [5, 6, 7, 8]], 4), bgrx_pal(16, 602, pad=False), hsize=12)
    put("trunc_base4.bmp", base4)
    truncations("trunc_base4.bmp", base4, range(1, len(base4)))
    mutants("mut1.bmp", base1, 150, 700, protect=2)
    mutants("mut2.bmp", base2, 100, 701, protect=2)
    mutants("mut3.bmp", base3, 150, 702, protect=2)
    mutants("mut4.bmp", base4, 60, 703, protect=2)
    for i, src in enumerate(("rle8_37x23.bmp", "rle4.bmp", "pal1_os2.bmp", "rgb32_bf3_v4.bmp", "modeL_4_quirk.bmp",
                             "rgb16_565_v5.bmp", "pal4_h108.bmp", "dib_pal8.dib")):
        mutants("mut%d%s" % (5 + i, os.path.splitext(src)[1]), FILES[src], 30, 704 + i, protect=2)


gif_cases()
bmp_cases()

manifest = {"generator": "tests/gen/gen_images_gif_bmp.py", "pillow": PIL.__version__,
            "python": sys.version.split()[0], "what": 'Image.open(path).convert("RGB")', "files": {}}
n_ok = 0
for name in sorted(FILES):
    path = os.path.join(OUT, name)
    result = None
    with open(path, "wb") as f:
        f.write(FILES[name])
    try:
        with Image.open(path) as im:
            fmt = im.format
            rgb = im.convert("RGB")
        assert fmt in ("GIF", "BMP", "DIB"), (name, fmt)
        if "_m" in name and rgb.width * rgb.height > 1 << 20:
            # a random mutant that decodes to a huge image only slows the test down
            os.remove(path)
            del FILES[name]
            continue
        raw = rgb.tobytes()
        manifest["files"][name] = {"format": fmt, "width": rgb.width, "height": rgb.height,
                                   "sha256": hashlib.sha256(raw).hexdigest()}
        n_ok += 1
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001 -- every refusal is recorded
        manifest["files"][name] = {"refused": "%s: %s" % (type(e).__name__, str(e).replace(os.path.abspath(path), name).replace(path, name))}
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write("\n")
total = sum(len(v) for v in FILES.values())
print("%d files (%d accepted, %d refused), %d bytes" % (len(FILES), n_ok, len(FILES) - n_ok, total))
