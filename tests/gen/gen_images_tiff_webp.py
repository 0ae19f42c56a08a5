#!/usr/bin/python3
"""Write tests/data/images/tiff_webp/: small TIFF, WebP (still and animated),
PNG and JPEG files, made here with Pillow or written byte by byte, plus
hand-damaged variants (truncations at every chunk/marker boundary and a few
points inside, bad CRCs in every PNG chunk, damaged trailing markers, bad
RIFF sizes, broken TIFF offsets), and manifest.json: for every file what
Pillow 9.4 gives for Image.open(p).convert("RGB") -- width, height and the
sha256 of the RGB bytes -- or "refused" with Pillow's exception.

The library follows Pillow 13: after this script, run
tests/gen/manifest_images_pillow13.py with Pillow 13, which rewrites
manifest.json with Pillow 13's results (keeping 9.4's for the files it
lists as still following 9.4). test_image_formats_tiff_webp.c decodes
every entry and requires that manifest's result.

Run with the system Python (Debian python3-pil 9.4.0, linked to the same
Debian libjpeg-turbo, libpng, libwebp, libtiff and LittleCMS (CIELab) as
neglabel): the files saved by Pillow's encoders are 9.4's bytes (Pillow 13
writes some of them differently, and cannot save some modes used here):
  /usr/bin/python3 tests/gen/gen_images_tiff_webp.py   (from the repository root)
  /tmp/p13/bin/python tests/gen/manifest_images_pillow13.py   (Pillow 13.0.0)
All images are our own: synthetic patterns from a fixed seed.
"""
import hashlib
import io
import json
import os
import random
import struct
import zlib

import PIL
from PIL import Image, TiffImagePlugin, features

assert PIL.__version__ == "9.4.0", ("run with Debian's /usr/bin/python3 (Pillow 9.4.0), then "
                                   "tests/gen/manifest_images_pillow13.py with Pillow 13")
OUT = "tests/data/images/tiff_webp"
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
FILES = {}


def pattern(w, h, seed, alpha=False):
    """RGB(A) gradients with noise and a few flat blocks (alpha: a ramp with
    fully transparent and fully opaque areas)."""
    r = random.Random(seed)
    px = bytearray()
    for y in range(h):
        for x in range(w):
            n = r.randrange(40)
            px += bytes(((x * 255 // max(w - 1, 1) + n) % 256, (y * 255 // max(h - 1, 1) + 2 * n) % 256,
                         ((x ^ y) * 37 + seed) % 256))
            if alpha:
                a = 0 if x < w // 4 else 255 if x > 3 * w // 4 else (x * 255 // w + n) % 256
                px.append(a)
    return Image.frombytes("RGBA" if alpha else "RGB", (w, h), bytes(px))


def put(name, data):
    assert name not in FILES
    FILES[name] = data
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def save(name, im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    put(name, b.getvalue())
    return b.getvalue()


def truncations(name, data, cuts):
    base, ext = os.path.splitext(name)
    for c in sorted(set(c for c in cuts if 0 < c < len(data))):
        put("%s_trunc%d%s" % (base, c, ext), data[:c])


# ---------------------------------------------------------------- PNG

def png_chunks(data):
    pos, out = 8, []
    while pos + 8 <= len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        out.append((pos, data[pos + 4:pos + 8], n))
        pos += 12 + n
    return out


def png_chunk(cid, body):
    return struct.pack(">I", len(body)) + cid + body + struct.pack(">I", zlib.crc32(cid + body) & 0xFFFFFFFF)


def adam7(im):
    """The raw (filter type 0) Adam7 passes of a 16-bit grey image."""
    w, h = im.size
    px = im.load()
    out = bytearray()
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        xs = range(x0, w, dx)
        if not len(xs):
            continue
        for y in range(y0, h, dy):
            out.append(0)
            for x in xs:
                out += struct.pack(">H", min(px[x, y], 65535))
    return bytes(out)


def png_variants():
    from PIL import PngImagePlugin
    rgb = pattern(21, 13, 1)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "tEXt chunk")
    info.add_text("Title", "zTXt chunk", zip=True)
    base = save("png_rgb.png", rgb, "PNG", pnginfo=info, icc_profile=b"\0" * 40)
    # gAMA, tRNS (palette) and two IDATs: written by hand around Pillow's pixels
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=16)
    pb = io.BytesIO()
    pal.save(pb, "PNG", transparency=3)
    ch = png_chunks(pb.getvalue())
    d = pb.getvalue()
    parts, idat = [], b""
    for pos, cid, n in ch:
        body = d[pos + 8:pos + 8 + n]
        if cid == b"IDAT":
            idat += body
            continue
        if cid == b"IEND":
            half = len(idat) // 2
            parts += [png_chunk(b"IDAT", idat[:half]), png_chunk(b"IDAT", idat[half:]),
                      png_chunk(b"tEXt", b"After\0the image"), png_chunk(b"prVt", b"private")]
        parts.append(png_chunk(cid, body))
        if cid == b"IHDR":
            parts.append(png_chunk(b"gAMA", struct.pack(">I", 45455)))
            parts.append(png_chunk(b"prVa", b"unknown ancillary"))
    pal_png = d[:8] + b"".join(parts)
    put("png_pal.png", pal_png)
    # more chunk kinds, around a 16-bit interlaced image: Pillow writes
    # pHYs, iTXt and eXIf; sRGB, cHRM, bKGD, sBIT, tIME and a private chunk
    # are put in by hand
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Description", "iTXt chunk", lang="en", tkey="Beschreibung")
    g16 = rgb.convert("L").point(lambda v: v * 200 + 7 if v < 250 else 50000, "I")
    b16 = io.BytesIO()
    g16.save(b16, "PNG", pnginfo=info, dpi=(72, 72), exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0")
    d16 = b16.getvalue()
    ch16 = png_chunks(d16)
    out16 = bytearray(d16[:8])
    for pos, cid, n in ch16:
        body = d16[pos + 8:pos + 8 + n]
        if cid == b"IHDR":
            body = body[:12] + b"\x01"  # Adam7
            out16 += png_chunk(cid, body)
            out16 += png_chunk(b"sRGB", b"\0") + png_chunk(b"cHRM", struct.pack(">8I", *range(31270, 31278)))
            out16 += png_chunk(b"sBIT", b"\x0c") + png_chunk(b"bKGD", b"\0\x10")
            out16 += png_chunk(b"tIME", struct.pack(">HBBBBB", 2024, 1, 2, 3, 4, 5))
            continue
        if cid == b"IDAT":
            # re-encode the rows interlaced: ask Pillow? It cannot write Adam7,
            # so write the passes here (filter 0 on every row)
            body = zlib.compress(adam7(g16))
        out16 += png_chunk(cid, body)
    put("png_grey16_adam7.png", bytes(out16))
    for name, data in (("png_rgb.png", base), ("png_pal.png", pal_png), ("png_grey16_adam7.png", bytes(out16))):
        stem = name[:-4]
        chunks = png_chunks(data)
        cuts = [8, 12, 16, 33]
        for pos, cid, n in chunks:
            cuts += [pos, pos + 4, pos + 8, pos + 8 + n // 2, pos + 8 + n, pos + 10 + n]
        truncations(name, data, cuts)
        seen = {}
        for pos, cid, n in chunks:
            k = seen[cid] = seen.get(cid, 0) + 1
            bad = bytearray(data)
            bad[pos + 8 + n] ^= 0x55
            put("%s_badcrc_%s%d.png" % (stem, cid.decode(), k), bytes(bad))
        put(stem + "_noiend.png", data[:chunks[-1][0]])
        put(stem + "_trailing.png", data + b"garbage after IEND")


# ---------------------------------------------------------------- JPEG

def jpeg_markers(data):
    pos, out = 2, [0]
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        m = data[pos + 1]
        out.append(pos)
        if m == 0xDA:
            break
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return out


def jpeg_variants():
    rgb = pattern(19, 15, 2)
    for name, im, kw in (("jpg_base.jpg", rgb, {"quality": 90}),
                         ("jpg_prog.jpg", rgb, {"quality": 80, "progressive": True}),
                         ("jpg_grey.jpg", rgb.convert("L"), {"quality": 85})):
        data = save(name, im, "JPEG", **kw)
        stem = name[:-4]
        ms = jpeg_markers(data)
        sos = ms[-1]
        cuts = ms + [m + 2 for m in ms] + [m + 4 for m in ms]
        cuts += [sos + (len(data) - sos) * k // 6 for k in range(1, 6)] + [len(data) - 1, len(data) - 2]
        truncations(name, data, cuts)
        assert data[-2:] == b"\xff\xd9"
        body = data[:-2]
        for tag, tail in (("eoi_ff", b"\xff"), ("eoi_ff00", b"\xff\x00"), ("eoi_ffff", b"\xff\xff"),
                          ("eoi_d8", b"\xff\xd8"), ("eoi_zero", b"\x00\x00"), ("eoi_rst", b"\xff\xd0"),
                          ("eoi_sof", b"\xff\xc0"), ("eoi_app", b"\xff\xe1\x00\x10abc"),
                          ("eoi_garbage", b"\xff\xd9garbage"), ("eoi_twice", b"\xff\xd9\xff\xd9")):
            put("%s_%s.jpg" % (stem, tag), body + tail)


# ---------------------------------------------------------------- WebP

def riff_chunks(data):
    pos, out = 12, []
    while pos + 8 <= len(data):
        n = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        out.append((pos, data[pos:pos + 4], n))
        pos += 8 + n + (n & 1)
    return out


def riff(chunks):
    body = b"WEBP" + b"".join(cid + struct.pack("<I", len(b)) + b + (b"\0" if len(b) & 1 else b"")
                             for cid, b in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def frame_bitstream(im, **kw):
    """The ALPH/VP8/VP8L chunks of a still WebP, for an ANMF frame."""
    b = io.BytesIO()
    im.save(b, "WEBP", **kw)
    d = b.getvalue()
    return b"".join(d[p:p + 8 + n + (n & 1)] for p, cid, n in riff_chunks(d) if cid in (b"ALPH", b"VP8 ", b"VP8L"))


def anmf(x, y, w, h, dur, blend, dispose, bits):
    u24 = lambda v: struct.pack("<I", v)[:3]
    flags = (0 if blend else 2) | (1 if dispose else 0)
    return (b"ANMF", u24(x // 2) + u24(y // 2) + u24(w - 1) + u24(h - 1) + u24(dur) + bytes([flags]) + bits)


def vp8x(w, h, alpha, anim):
    u24 = lambda v: struct.pack("<I", v)[:3]
    return (b"VP8X", bytes([(0x10 if alpha else 0) | (0x02 if anim else 0), 0, 0, 0]) + u24(w - 1) + u24(h - 1))


def webp_variants():
    rgb, rgba = pattern(20, 14, 3), pattern(20, 14, 4, alpha=True)
    stills = [save("webp_lossy.webp", rgb, "WEBP", quality=80),
              save("webp_lossless.webp", rgb, "WEBP", lossless=True),
              save("webp_alpha_lossy.webp", rgba, "WEBP", quality=70),
              save("webp_alpha_lossless.webp", rgba, "WEBP", lossless=True)]
    # animations encoded by Pillow's WebPAnimEncoder
    fr = [pattern(20, 14, s) for s in (5, 6, 7)]
    fr[1].paste((10, 200, 30), (4, 3, 12, 9))
    fa = [pattern(20, 14, s, alpha=True) for s in (8, 9)]
    anims = [save("webpanim_lossy.webp", fr[0], "WEBP", save_all=True, append_images=fr[1:], quality=75, duration=50),
             save("webpanim_lossless.webp", fr[0], "WEBP", save_all=True, append_images=fr[1:], lossless=True),
             save("webpanim_alpha.webp", fa[0], "WEBP", save_all=True, append_images=fa[1:], lossless=True),
             save("webpanim_alpha_lossy.webp", fa[0], "WEBP", save_all=True, append_images=fa[1:], quality=60),
             save("webpanim_mixed.webp", fa[0], "WEBP", save_all=True, append_images=fr[:2], allow_mixed=True)]
    # hand-made animations: first frame with an offset, smaller than the
    # canvas, blend or not, dispose or not, lossy + ALPH and lossless frames
    small = pattern(10, 6, 10, alpha=True)
    small_rgb = pattern(10, 6, 11)
    bg = struct.pack("<I", 0xFF336699)
    anim_chunk = (b"ANIM", bg + struct.pack("<H", 0))
    for name, frames, alpha in (
            ("webpanim_offset_blend.webp", [anmf(4, 6, 10, 6, 40, True, False, frame_bitstream(small, lossless=True)),
                                            anmf(0, 0, 10, 6, 40, True, True, frame_bitstream(small_rgb))], True),
            ("webpanim_offset_noblend.webp", [anmf(8, 2, 10, 6, 40, False, True, frame_bitstream(small, quality=50)),
                                              anmf(2, 2, 10, 6, 40, True, False, frame_bitstream(small_rgb))], True),
            ("webpanim_offset_opaque.webp", [anmf(6, 4, 10, 6, 40, False, False, frame_bitstream(small_rgb)),
                                             anmf(0, 0, 10, 6, 40, True, False, frame_bitstream(small_rgb))], False),
            ("webpanim_one_frame.webp", [anmf(0, 0, 10, 6, 40, True, False, frame_bitstream(small, lossless=True))], True)):
        anims.append(riff([vp8x(20, 14, alpha, True), anim_chunk] + frames))
        put(name, anims[-1])
    # damage
    for name, data in (("webp_lossy.webp", stills[0]), ("webp_alpha_lossy.webp", stills[2]),
                       ("webp_lossless.webp", stills[1]), ("webpanim_lossy.webp", anims[0]),
                       ("webpanim_offset_blend.webp", anims[5])):
        stem = name[:-5]
        cuts = [4, 8, 12, 16, 20]
        for pos, cid, n in riff_chunks(data):
            cuts += [pos, pos + 4, pos + 8, pos + 8 + n // 2, pos + 8 + n]
        truncations(name, data, cuts)
        for tag, size in (("riffbig", len(data)), ("riffsmall", len(data) - 20), ("riffodd", len(data) - 7),
                          ("riffzero", 0), ("riffhuge", 0xFFFFFFF0)):
            put("%s_%s.webp" % (stem, tag), data[:4] + struct.pack("<I", size) + data[8:])
        for k, (pos, cid, n) in enumerate(riff_chunks(data)):
            for tag, size in (("big", n + 100), ("small", max(n - 3, 0))):
                bad = data[:pos + 4] + struct.pack("<I", size) + data[pos + 8:]
                put("%s_chunk%d%s.webp" % (stem, k, tag), bad)
        put(stem + "_trailing.webp", data + b"trailing bytes")


# ---------------------------------------------------------------- TIFF

def packbits(row):
    out, i = bytearray(), 0
    while i < len(row):
        j = i
        while j + 1 < len(row) and row[j + 1] == row[i] and j - i < 127:
            j += 1
        if j > i:
            out += bytes([257 - (j - i + 1), row[i]])
            i = j + 1
        else:
            j = i
            while j < len(row) and j - i < 128 and not (j + 1 < len(row) and row[j + 1] == row[j]):
                j += 1
            j = max(j, i + 1)
            out += bytes([j - i - 1]) + row[i:j]
            i = j
    return bytes(out)


def write_tiff(w, h, spp, bps, photometric, pixels, endian="<", compression=1, rows_per_strip=None,
               tile=None, extra=None, colormap=None, pages=None, fillorder=None, sampleformat=None, planar=1,
               big=False):
    """A TIFF written byte by byte. pixels: the image's rows, each packed to
    whole bytes (samples interleaved; planar=2: one such array per plane).
    pages: further (w, h, spp, bps, photometric, pixels) pages."""
    if big:  # BigTIFF: 8-byte offsets and counts, 20-byte entries
        out = bytearray((b"II+\0" if endian == "<" else b"MM\0+") + struct.pack(endian + "HHQ", 8, 0, 0))
    else:
        out = bytearray(b"II*\0" if endian == "<" else b"MM\0*")
        out += struct.pack(endian + "I", 0)
    O, E, N = ("Q", 20, 8) if big else ("I", 12, 4)

    def one(w, h, spp, bps, photometric, pixels, link_at, **kw):
        bits_row = w * spp * bps if planar == 1 else w * bps
        rowb = (bits_row + 7) // 8
        planes = [pixels] if planar == 1 else pixels
        blocks = []
        for pl in planes:
            if tile:
                tw, th = tile
                for ty in range(0, h, th):
                    for tx in range(0, w, tw):
                        pxb = (spp if planar == 1 else 1) * bps // 8
                        t = bytearray()
                        for yy in range(ty, ty + th):
                            r = pl[yy * rowb + tx * pxb:yy * rowb + min(tx + tw, w) * pxb] if yy < h else b""
                            t += r + b"\0" * (tw * pxb - len(r))
                        blocks.append(bytes(t))
            else:
                rps = rows_per_strip or h
                for y in range(0, h, rps):
                    blocks.append(pl[y * rowb:min(y + rps, h) * rowb])
        if compression == 8:
            blocks = [zlib.compress(b) for b in blocks]
        elif compression == 32773:
            rb = (tile[0] * (spp if planar == 1 else 1) * bps + 7) // 8 if tile else rowb
            blocks = [b"".join(packbits(b[i:i + rb]) for i in range(0, len(b), rb)) for b in blocks]
        offs = []
        for b in blocks:
            offs.append(len(out))
            out.extend(b)
            if len(out) & 1:
                out.append(0)
        tags = {256: (4, [w]), 257: (4, [h]), 258: (3, [bps] * spp), 259: (3, [compression]),
                262: (3, [photometric]), 277: (3, [spp]), 284: (3, [planar])}
        if tile:
            tags.update({322: (3, [tile[0]]), 323: (3, [tile[1]]), 324: (4, offs), 325: (4, [len(b) for b in blocks])})
        else:
            tags.update({273: (4, offs), 278: (4, [rows_per_strip or h]), 279: (4, [len(b) for b in blocks])})
        if extra is not None:
            tags[338] = (3, extra)
        if colormap is not None:
            tags[320] = (3, colormap)
        if fillorder:
            tags[266] = (3, [fillorder])
        if sampleformat:
            tags[339] = (3, [sampleformat] * spp)
        ifd_at = len(out)
        struct.pack_into(endian + O, out, link_at, ifd_at)
        ents = sorted(tags.items())
        out.extend(struct.pack(endian + ("Q" if big else "H"), len(ents)))
        data_at = ifd_at + (8 if big else 2) + E * len(ents) + N
        tail = bytearray()
        for tag, (typ, vals) in ents:
            fmt = "H" if typ == 3 else "I"
            raw = struct.pack(endian + fmt * len(vals), *vals)
            if len(raw) <= N:
                out.extend(struct.pack(endian + "HH" + O, tag, typ, len(vals)) + raw + b"\0" * (N - len(raw)))
            else:
                out.extend(struct.pack(endian + "HH" + O + O, tag, typ, len(vals), data_at + len(tail)))
                tail += raw + (b"\0" if len(raw) & 1 else b"")
        next_at = len(out)
        out.extend(b"\0" * N)
        out.extend(tail)
        return next_at

    link = one(w, h, spp, bps, photometric, pixels, 8 if big else 4)
    for p in pages or []:
        link = one(*p, link)
    return bytes(out)


def tiff_variants():
    w, h = 23, 17
    rgb = pattern(w, h, 12)
    rgba = pattern(w, h, 13, alpha=True)
    grey = rgb.convert("L")
    # Pillow's own writer (uncompressed) and libtiff's (compressed), several strips
    TiffImagePlugin.STRIP_SIZE = 200
    modes = {"1": rgb.convert("1"), "L": grey, "P": rgb.convert("P", palette=Image.ADAPTIVE, colors=40),
             "RGB": rgb, "RGBA": rgba, "CMYK": rgb.convert("CMYK"), "LA": rgba.convert("LA"),
             "I16": grey.convert("I").point(lambda v: v * 300).convert("I;16"), "YCbCr": rgb.convert("YCbCr")}
    for mname, im in modes.items():
        for comp in (None, "packbits", "tiff_lzw", "tiff_adobe_deflate"):
            if mname == "YCbCr" and comp:
                continue
            save("tif_%s_%s.tif" % (mname, comp or "raw"), im, "TIFF", compression=comp)
    for mname in ("RGB", "L", "YCbCr"):
        save("tif_%s_jpeg.tif" % mname, modes[mname], "TIFF", compression="jpeg", quality=85)
    save("tif_1_group4.tif", modes["1"], "TIFF", compression="group4")
    save("tif_1_group3.tif", modes["1"], "TIFF", compression="group3")
    TiffImagePlugin.STRIP_SIZE = 65536
    save("tif_multipage.tif", rgb, "TIFF", save_all=True, append_images=[grey, rgba], compression="tiff_lzw")
    # byte by byte: endianness, tiles, alpha kinds, bit depths, palettes, fill order
    rb, ab, gb = rgb.tobytes(), rgba.tobytes(), grey.tobytes()
    pal = modes["P"]
    pp = pal.getpalette()[:768]
    pp += [0] * (768 - len(pp))
    cmap = [v * 257 for v in pp[0::3]] + [v * 257 for v in pp[1::3]] + [v * 257 for v in pp[2::3]]
    g16 = modes["I16"].tobytes()  # little endian
    g16be = b"".join(g16[i + 1:i + 2] + g16[i:i + 1] for i in range(0, len(g16), 2))
    prem = bytearray(ab)
    for i in range(0, len(prem), 4):
        a = prem[i + 3]
        for c in range(3):
            prem[i + c] = prem[i + c] * a // 255

    def bits(img_l, depth, invert=False):
        out = bytearray()
        px = img_l.tobytes()
        for y in range(h):
            acc, n, row = 0, 0, bytearray()
            for x in range(w):
                v = px[y * w + x] >> (8 - depth)
                if invert:
                    v = (1 << depth) - 1 - v
                acc = acc << depth | v
                n += depth
                if n == 8:
                    row.append(acc)
                    acc, n = 0, 0
            if n:
                row.append(acc << (8 - n))
            out += row
        return bytes(out)

    rgb16be = b"".join(struct.pack(">H", v * 256 + (i * 13) % 256) for i, v in enumerate(rb))
    cases = {
        "rgb_be": dict(spp=3, bps=8, photometric=2, pixels=rb, endian=">"),
        "rgb_le_strips": dict(spp=3, bps=8, photometric=2, pixels=rb, rows_per_strip=5),
        "rgb_be_tiles": dict(spp=3, bps=8, photometric=2, pixels=rb, endian=">", tile=(16, 16)),
        "rgb_le_tiles_deflate": dict(spp=3, bps=8, photometric=2, pixels=rb, tile=(16, 16), compression=8),
        "rgb_be_tiles_packbits": dict(spp=3, bps=8, photometric=2, pixels=rb, endian=">", tile=(16, 16),
                                      compression=32773),
        "rgba_unassoc_be": dict(spp=4, bps=8, photometric=2, pixels=ab, endian=">", extra=[2]),
        "rgba_assoc": dict(spp=4, bps=8, photometric=2, pixels=bytes(prem), extra=[1]),
        "rgba_assoc_tiles_deflate": dict(spp=4, bps=8, photometric=2, pixels=bytes(prem), extra=[1],
                                         tile=(16, 16), compression=8),
        "rgba_noextra": dict(spp=4, bps=8, photometric=2, pixels=ab),
        "rgbx_unspecified": dict(spp=4, bps=8, photometric=2, pixels=ab, extra=[0]),
        "rgb16_be": dict(spp=3, bps=16, photometric=2, pixels=rgb16be, endian=">"),
        "rgb16_le_deflate": dict(spp=3, bps=16, photometric=2, compression=8,
                                 pixels=b"".join(rgb16be[i + 1:i + 2] + rgb16be[i:i + 1]
                                                 for i in range(0, len(rgb16be), 2))),
        "grey_minisblack_be": dict(spp=1, bps=8, photometric=1, pixels=gb, endian=">"),
        "grey_miniswhite": dict(spp=1, bps=8, photometric=0, pixels=gb),
        "grey_tiles_deflate_be": dict(spp=1, bps=8, photometric=1, pixels=gb, endian=">", tile=(16, 16),
                                      compression=8),
        "grey16_be": dict(spp=1, bps=16, photometric=1, pixels=g16be, endian=">"),
        "grey16_le_tiles": dict(spp=1, bps=16, photometric=1, pixels=g16, tile=(16, 16)),
        "grey16_be_deflate": dict(spp=1, bps=16, photometric=1, pixels=g16be, endian=">", compression=8),
        "grey16_signed": dict(spp=1, bps=16, photometric=1, pixels=g16, sampleformat=2),
        "grey4": dict(spp=1, bps=4, photometric=1, pixels=bits(grey, 4)),
        "grey4_miniswhite_be": dict(spp=1, bps=4, photometric=0, pixels=bits(grey, 4), endian=">"),
        "grey2_deflate": dict(spp=1, bps=2, photometric=1, pixels=bits(grey, 2), compression=8),
        "bilevel_miniswhite": dict(spp=1, bps=1, photometric=0, pixels=bits(grey, 1)),
        "bilevel_minisblack_be_packbits": dict(spp=1, bps=1, photometric=1, pixels=bits(grey, 1), endian=">",
                                               compression=32773),
        "bilevel_fill2": dict(spp=1, bps=1, photometric=1, pixels=bits(grey, 1), fillorder=2),
        "pal8_be": dict(spp=1, bps=8, photometric=3, pixels=pal.tobytes(), endian=">", colormap=cmap),
        "pal8_tiles_deflate": dict(spp=1, bps=8, photometric=3, pixels=pal.tobytes(), colormap=cmap,
                                   tile=(16, 16), compression=8),
        "pal4": dict(spp=1, bps=4, photometric=3, pixels=bits(grey, 4), colormap=[(i * 4111) % 65536
                                                                                   for i in range(48)]),
        "cmyk_be_deflate": dict(spp=4, bps=8, photometric=5, pixels=modes["CMYK"].tobytes(), endian=">",
                                compression=8),
        "rgb_planar": dict(spp=3, bps=8, photometric=2, planar=2,
                           pixels=[bytes(rb[c::3]) for c in range(3)]),
        "bigtiff_rgb": dict(spp=3, bps=8, photometric=2, pixels=rb, rows_per_strip=5, big=True),
        "bigtiff_rgba_deflate_tiles": dict(spp=4, bps=8, photometric=2, pixels=ab, extra=[2], tile=(16, 16),
                                           compression=8, big=True),
        "bigtiff_be_grey": dict(spp=1, bps=8, photometric=1, pixels=gb, endian=">", big=True),
        "cmyk16_le": dict(spp=4, bps=16, photometric=5, pixels=b"".join(struct.pack("<H", v * 257)
                                                                         for v in modes["CMYK"].tobytes())),
        "rgba16_assoc_be_deflate": dict(spp=4, bps=16, photometric=2, extra=[1], endian=">", compression=8,
                                        pixels=b"".join(struct.pack(">H", v * 257) for v in bytes(prem))),
        "rgb_fill2": dict(spp=3, bps=8, photometric=2, pixels=rb, fillorder=2),
        "rgb_planar_deflate": dict(spp=3, bps=8, photometric=2, planar=2, compression=8,
                                   pixels=[bytes(rb[c::3]) for c in range(3)]),
        "rgba_planar_be": dict(spp=4, bps=8, photometric=2, planar=2, extra=[2], endian=">",
                               pixels=[bytes(ab[c::4]) for c in range(4)]),
        "grey_fill2_deflate": dict(spp=1, bps=8, photometric=1, pixels=gb, fillorder=2, compression=8),
        "lab_unsupported": dict(spp=3, bps=8, photometric=8, pixels=rb),
        "multipage_be": dict(spp=1, bps=8, photometric=1, pixels=gb, endian=">",
                             pages=[(w, h, 3, 8, 2, rb), (w, h, 1, 8, 1, gb)]),
    }
    made = {}
    for name, kw in cases.items():
        made[name] = write_tiff(w, h, **kw)
        put("tifw_%s.tif" % name, made[name])
    # damage: truncations, broken offsets and counts, bad magic, IFD loops
    for name in ("tif_RGB_raw.tif", "tif_RGB_tiff_lzw.tif", "tif_RGB_jpeg.tif", "tifw_rgb_be_tiles.tif",
                 "tifw_rgb_le_tiles_deflate.tif", "tifw_pal8_be.tif", "tifw_grey16_be.tif", "tif_L_packbits.tif",
                 "tif_1_group4.tif", "tifw_rgb_le_strips.tif", "tifw_bigtiff_rgb.tif",
                 "tifw_bigtiff_rgba_deflate_tiles.tif"):
        damage_tiff(name)


def damage_tiff(name):
    """Truncations, broken offsets and counts, bad magic, IFD loops of one
    TIFF already written."""
    data = FILES[name]
    e = "<" if data[:2] == b"II" else ">"
    stem = name[:-4]
    if data[2] == 0x2B:  # BigTIFF: cuts, a bad first offset, trailing bytes
        ifd = struct.unpack(e + "Q", data[8:16])[0]
        n = struct.unpack(e + "Q", data[ifd:ifd + 8])[0]
        truncations(name, data, [4, 8, 12, 16, ifd, ifd + 8, ifd + 8 + 20 * n // 2, ifd + 8 + 20 * n,
                                 ifd + 16 + 20 * n, len(data) // 2, len(data) - 1])
        put(stem + "_badifd.tif", data[:8] + struct.pack(e + "Q", len(data) + 100) + data[16:])
        put(stem + "_trailing.tif", data + b"trailing")
        return
    ifd = struct.unpack(e + "I", data[4:8])[0]
    n = struct.unpack(e + "H", data[ifd:ifd + 2])[0]
    cuts = [2, 4, 6, 8, ifd, ifd + 1, ifd + 2, ifd + 2 + 12 * n // 2, ifd + 2 + 12 * n, ifd + 6 + 12 * n,
            len(data) // 4, len(data) // 2, len(data) - 1]
    truncations(name, data, cuts)
    for k in range(n):
        at = ifd + 2 + 12 * k
        tag = struct.unpack(e + "H", data[at:at + 2])[0]
        if tag in (273, 279, 324, 325, 256, 257, 320):
            bad = bytearray(data)
            struct.pack_into(e + "I", bad, at + 8, 0x7FFFFFF0)
            put("%s_bad%d.tif" % (stem, tag), bytes(bad))
    bad = bytearray(data)
    struct.pack_into(e + "I", bad, 4, len(data) + 100)
    put(stem + "_badifd.tif", bytes(bad))
    bad = bytearray(data)
    struct.pack_into(e + "H", bad, ifd, 0xFFFF)
    put(stem + "_ifdcount.tif", bytes(bad))
    for k in range(n):
        at = ifd + 2 + 12 * k
        tag, typ, cnt = struct.unpack(e + "HHI", data[at:at + 8])
        edits = []
        if tag in (279, 325) and cnt == 1:
            edits.append(("small%d" % tag, lambda b, at=at: struct.pack_into(e + "I", b, at + 8, 10)))
        if tag == 256:
            edits.append(("asciiwidth", lambda b, at=at: struct.pack_into(e + "H", b, at + 2, 2)))
            edits.append(("zerowidth", lambda b, at=at, typ=typ: struct.pack_into(e + ("H" if typ == 3 else "I"), b, at + 8, 0)))
        if tag == 259:
            edits.append(("comp99", lambda b, at=at: struct.pack_into(e + "H", b, at + 8, 99)))
        if tag == 262:
            edits.append(("nophoto", lambda b, at=at: struct.pack_into(e + "H", b, at, 0x7FFF)))
            edits.append(("photo4", lambda b, at=at: struct.pack_into(e + "H", b, at + 8, 4)))
        if tag == 258 and cnt == 1:
            edits.append(("bps3", lambda b, at=at: struct.pack_into(e + "H", b, at + 8, 3)))
        if tag in (322, 323):
            edits.append(("huge%d" % tag, lambda b, at=at: struct.pack_into(e + "H", b, at + 8, 0xFFF0)))
        if tag in (273, 324) and cnt == 1:
            edits.append(("offset0", lambda b, at=at: struct.pack_into(e + "I", b, at + 8, 0)))
        if tag == 278:
            edits.append(("rps0", lambda b, at=at, typ=typ: struct.pack_into(e + ("H" if typ == 3 else "I"), b, at + 8, 0)))
            edits.append(("rps1", lambda b, at=at, typ=typ: struct.pack_into(e + ("H" if typ == 3 else "I"), b, at + 8, 1)))
        for tname, fn in edits:
            bad = bytearray(data)
            fn(bad)
            put("%s_%s.tif" % (stem, tname), bytes(bad))
    put(stem + "_trailing.tif", data + b"trailing")
    if name == "tifw_rgb_be_tiles.tif":  # 2000 more entries: the width, again and again
        ents = data[ifd + 2:ifd + 2 + 12 * n]
        width = next(ents[i:i + 12] for i in range(0, len(ents), 12) if ents[i:i + 2] == struct.pack(e + "H", 256))
        many = struct.pack(e + "H", n + 2000) + ents + width * 2000 + b"\0\0\0\0"
        put(stem + "_manyentries.tif", data[:4] + struct.pack(e + "I", len(data)) + data[8:] + many)


def tiff_sample_variants():
    """Samples beyond 8 bits a channel, CIELab and separate planes: Pillow's
    modes I;16 (12 and 16 bits, fill order 2, min-is-white), I (signed 16,
    32-bit integers), F (32-bit floats, with edge values: negative, past 255,
    fractions, NaN, infinities) and LAB, in both byte orders (where Pillow's
    table has them; the others are refused), raw and through libtiff, at
    several sizes."""
    def vals(w, h, seed, lo, hi):
        r = random.Random(seed)
        return [lo + (x * 7 + y * 13 + r.randrange(hi - lo + 1)) % (hi - lo + 1) for y in range(h) for x in range(w)]

    def pack(fmt, e, v):
        return b"".join(struct.pack(e + fmt, x) for x in v)

    def floats(w, h, seed):
        r = random.Random(seed)
        edge = [float("nan"), float("inf"), -float("inf"), -0.0, -0.5, 0.5, 0.99, 1.0, 254.5, 254.999, 255.0, 255.5,
                256.0, -1e30, 1e30, 1e-40, 3e9, -3e9, 127.5]
        v = [r.uniform(-80.0, 340.0) for _ in range(w * h)]
        for i, x in enumerate(edge):
            v[(i * 5) % len(v)] = x
        return v

    def pack12(w, h, v):
        out = bytearray()
        for y in range(h):
            bitsrow, n = 0, 0
            row = bytearray()
            for x in range(w):
                bitsrow = bitsrow << 12 | v[y * w + x]
                n += 12
                while n >= 8:
                    row.append((bitsrow >> (n - 8)) & 255)
                    n -= 8
            if n:
                row.append((bitsrow << (8 - n)) & 255)
            out += row
        return bytes(out)

    def planes(data, spp, nbytes):
        step = spp * nbytes
        return [b"".join(data[i + c * nbytes:i + (c + 1) * nbytes] for i in range(0, len(data), step))
                for c in range(spp)]

    cases = {}
    for (w, h) in ((23, 17), (5, 3), (64, 9)):
        sz = "%dx%d" % (w, h)
        f = floats(w, h, w)
        i32 = vals(w, h, w + 1, -70000, 70000)
        u32 = vals(w, h, w + 2, 0, 600)
        u16 = vals(w, h, w + 3, 0, 700) if w != 64 else vals(w, h, w + 3, 0, 65535)
        s16 = vals(w, h, w + 4, -400, 700)
        u12 = vals(w, h, w + 5, 0, 4095) if w != 5 else vals(w, h, w + 5, 0, 300)
        for e, en in (("<", "le"), (">", "be")):
            for comp, cn in ((1, ""), (8, "_deflate")):
                for ph in (1, 0):
                    pn = "" if ph == 1 else "_miniswhite"
                    cases["f32%s_%s%s_%s" % (pn, en, cn, sz)] = dict(w=w, h=h, spp=1, bps=32, photometric=ph,
                                                                    sampleformat=3, endian=e, compression=comp,
                                                                    pixels=pack("f", e, f))
                cases["i32s_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=1, bps=32, photometric=1, sampleformat=2,
                                                           endian=e, compression=comp, pixels=pack("i", e, i32))
                cases["u32_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=1, bps=32, photometric=1, endian=e,
                                                          compression=comp, pixels=pack("I", e, u32))
                cases["grey16s_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=1, bps=16, photometric=1,
                                                              sampleformat=2, endian=e, compression=comp,
                                                              pixels=pack("h", e, s16))
                cases["grey16_miniswhite_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=1, bps=16, photometric=0,
                                                                        endian=e, compression=comp,
                                                                        pixels=pack("H", e, u16))
                cases["grey16_fill2_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=1, bps=16, photometric=1,
                                                                   fillorder=2, endian=e, compression=comp,
                                                                   pixels=pack("H", e, u16))
                cases["grey12_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=1, bps=12, photometric=1, endian=e,
                                                             compression=comp, pixels=pack12(w, h, u12))
                cmyk = bytes(vals(w, h * 4, w + 6, 0, 255))
                cases["cmyk16_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=4, bps=16, photometric=5, endian=e,
                                                             compression=comp,
                                                             pixels=pack("H", e, [v * 256 + 3 for v in cmyk]))
                lab = bytes(vals(w, h * 3, w + 7, 0, 255))
                cases["lab_%s%s_%s" % (en, cn, sz)] = dict(w=w, h=h, spp=3, bps=8, photometric=8, endian=e,
                                                          compression=comp, pixels=lab)
    # every 8-bit CIELab value of L, a and b at least once, in tiles
    r = random.Random(99)
    lab = bytearray()
    for i in range(128 * 64):
        lab += bytes((i % 256, (i // 256 * 8 + r.randrange(8)) % 256, r.randrange(256)))
    cases["lab_all_tiles_deflate_128x64"] = dict(w=128, h=64, spp=3, bps=8, photometric=8, compression=8,
                                                 tile=(32, 32), pixels=bytes(lab))
    cases["f32_be_tiles_23x17"] = dict(w=23, h=17, spp=1, bps=32, photometric=1, sampleformat=3, endian=">",
                                       tile=(16, 16), pixels=pack("f", ">", floats(23, 17, 5)))
    cases["f32_le_tiles_deflate_23x17"] = dict(w=23, h=17, spp=1, bps=32, photometric=1, sampleformat=3,
                                               tile=(16, 16), compression=8, pixels=pack("f", "<", floats(23, 17, 6)))
    cases["i32s_be_strips_deflate_23x17"] = dict(w=23, h=17, spp=1, bps=32, photometric=1, sampleformat=2,
                                                 endian=">", rows_per_strip=4, compression=8,
                                                 pixels=pack("i", ">", vals(23, 17, 8, -1000, 1000)))
    # separate planes of every kind, raw and deflated, both byte orders
    w, h = 23, 17
    rgb = pattern(w, h, 21)
    rgba = pattern(w, h, 22, alpha=True)
    rb, ab = rgb.tobytes(), rgba.tobytes()
    gb = rgb.convert("L").tobytes()
    cmyk = rgb.convert("CMYK").tobytes()
    pal = rgb.convert("P", palette=Image.ADAPTIVE, colors=30)
    pp = pal.getpalette()[:768]
    pp += [0] * (768 - len(pp))
    cmap = [v * 257 for v in pp[0::3]] + [v * 257 for v in pp[1::3]] + [v * 257 for v in pp[2::3]]
    la = bytes(v for i in range(w * h) for v in (gb[i], ab[4 * i + 3]))
    pa = bytes(v for i in range(w * h) for v in (pal.tobytes()[i], ab[4 * i + 3]))
    rgb16 = pack("H", "<", [v * 256 + 77 for v in rb])
    rgba16 = pack("H", "<", [v * 256 + 5 for v in ab])
    for e, en in (("<", "le"), (">", "be")):
        def sw(b16):
            return b16 if e == "<" else b"".join(b16[i + 1:i + 2] + b16[i:i + 1] for i in range(0, len(b16), 2))
        for comp, cn in ((1, ""), (8, "_deflate")):
            k = dict(endian=e, compression=comp, planar=2, w=w, h=h)
            cases["planar_rgb16_%s%s" % (en, cn)] = dict(spp=3, bps=16, photometric=2, pixels=planes(sw(rgb16), 3, 2), **k)
            cases["planar_rgba16_%s%s" % (en, cn)] = dict(spp=4, bps=16, photometric=2, extra=[2],
                                                         pixels=planes(sw(rgba16), 4, 2), **k)
            cases["planar_rgba_assoc_%s%s" % (en, cn)] = dict(spp=4, bps=8, photometric=2, extra=[1],
                                                             pixels=planes(ab, 4, 1), **k)
            cases["planar_rgbx_%s%s" % (en, cn)] = dict(spp=4, bps=8, photometric=2, extra=[0],
                                                       pixels=planes(ab, 4, 1), **k)
            cases["planar_cmyk_%s%s" % (en, cn)] = dict(spp=4, bps=8, photometric=5, pixels=planes(cmyk, 4, 1), **k)
            cases["planar_la_%s%s" % (en, cn)] = dict(spp=2, bps=8, photometric=1, extra=[2], pixels=planes(la, 2, 1), **k)
            cases["planar_pa_%s%s" % (en, cn)] = dict(spp=2, bps=8, photometric=3, extra=[2], colormap=cmap,
                                                     pixels=planes(pa, 2, 1), **k)
            cases["planar_grey_miniswhite_%s%s" % (en, cn)] = dict(spp=1, bps=8, photometric=0, pixels=[gb], **k)
            cases["planar_grey16_%s%s" % (en, cn)] = dict(spp=1, bps=16, photometric=1,
                                                         pixels=[sw(pack("H", "<", [v * 3 for v in gb]))], **k)
            cases["planar_lab_%s%s" % (en, cn)] = dict(spp=3, bps=8, photometric=8, pixels=planes(rb, 3, 1), **k)
            cases["planar_ycbcr_%s%s" % (en, cn)] = dict(spp=3, bps=8, photometric=6, pixels=planes(rb, 3, 1), **k)
        cases["planar_rgb_tiles_%s" % en] = dict(spp=3, bps=8, photometric=2, planar=2, endian=e, tile=(16, 16),
                                                 w=w, h=h, pixels=planes(rb, 3, 1))
        cases["planar_cmyk_strips_deflate_%s" % en] = dict(spp=4, bps=8, photometric=5, planar=2, endian=e,
                                                           rows_per_strip=5, compression=8, w=w, h=h,
                                                           pixels=planes(cmyk, 4, 1))
    for name, kw in cases.items():
        kw = dict(kw)
        put("tifs_%s.tif" % name, write_tiff(kw.pop("w"), kw.pop("h"), **kw))
    for name in ("f32_be_23x17", "f32_le_deflate_23x17", "i32s_be_deflate_23x17", "grey12_le_23x17",
                 "lab_le_23x17", "lab_be_deflate_23x17", "planar_cmyk_le", "planar_rgba_assoc_be_deflate",
                 "planar_rgb16_be", "planar_cmyk_strips_deflate_le"):
        damage_tiff("tifs_%s.tif" % name)


png_variants()
jpeg_variants()
webp_variants()
tiff_variants()
tiff_sample_variants()

from heap_util import dirty_heap  # noqa: E402 (tests/gen, beside this script)


def pillow_result(path):
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        return dict(width=rgb.width, height=rgb.height, sha256=hashlib.sha256(rgb.tobytes()).hexdigest())
    except Exception as ex:  # what Pillow refuses, with its reason
        return {"refused": "%s: %s" % (type(ex).__name__, ex)}


entries = []
for name in sorted(FILES):
    e = {"file": name}
    e.update(pillow_result(os.path.join(OUT, name)))
    # Where libtiff leaves part of a damaged strip undecoded, Pillow's pixels
    # are whatever its reallocated strip buffer held (TiffDecode.c): decode
    # again with other heap contents, and record such pixels as undefined
    # (the test then checks the size and that the file is accepted).
    for k in range(3):
        dirty_heap(0xFF if k == 0 else 0x5A + k)
        again = pillow_result(os.path.join(OUT, name))
        if again != {kk: e[kk] for kk in again if kk in e} or set(again) != set(e) - {"file"}:
            assert "refused" not in again and "refused" not in e, name
            e.pop("sha256")
            e["pixels"] = "undefined: Pillow decodes uninitialised memory"
            break
    entries.append(e)
versions = {"pillow": PIL.__version__}
for lib in ("libjpeg_turbo", "zlib", "libtiff", "webp", "littlecms2"):
    versions[lib] = features.version(lib)
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"generator": "tests/gen/gen_images_tiff_webp.py", "versions": versions, "entries": entries},
              f, indent=0)
    f.write("\n")
print(len(entries), "files,", sum(len(v) for v in FILES.values()), "bytes,",
      sum("refused" in e for e in entries), "refused by Pillow")
