#!/usr/bin/env python3
"""make_corpus.py — regenerates the seed inputs of fuzz/corpus/safetensors,
image, tokenizer (Pillow >= 9; made with Pillow 13.0.0; the TIFF and
animated WebP seeds are copies of goldens, see below) and unpickler (the
data.pkl of each archive in tests/data/torchscript prefixed with 'P'; whole
archives prefixed with 'Z': views_sd.pt, and vit_jit.pt without its
storages over 512 bytes and its .debug_pkl files, to keep the seed small;
zip_bomb_views: a deflated storage of 4 MiB viewed by eight tensors;
pkl_training and zip_training: open_clip_train's checkpoint of two tensors
under DDP's "module.", with an optimizer state beside them).
The formats/ seeds are hand-written except the two cache files (cache_*), which are
neglabel's own cache files from scoring one CIFAR-10 image with the tiny
fixture model against the hand-written negatives seed (`neglabel score
--cache DIR --negatives ...`), prefixed with 'K' (cache_text_fixed: cache_text
prefixed with 'k', the harness's mode that recomputes the checksums).

  python3 fuzz/make_corpus.py        (from the repository root)
"""
import base64, io, json, os, struct, zipfile
from PIL import Image

D = "fuzz/corpus/"


def safetensors(path, tensors):
    hdr, data = {}, b""
    for name, (dt, shape, raw) in tensors.items():
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)


safetensors(D + "safetensors/f32", {"a": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                     "b": ("F32", [3], struct.pack("<3f", 0, -1, 2.5))})
safetensors(D + "safetensors/f16_bf16", {"h": ("F16", [2], struct.pack("<2H", 0x3c00, 0xc000)),
                                          "g": ("BF16", [2], struct.pack("<2H", 0x3f80, 0x4040))})
safetensors(D + "safetensors/meta", {})

im = Image.new("RGB", (7, 5))
for x in range(7):
    for y in range(5):
        im.putpixel((x, y), (x * 30, y * 50, (x * y) % 255))
for img, fmt, name, kw in [(im, "PNG", "rgb.png", {}), (im, "JPEG", "rgb.jpg", {"quality": 80}),
                           (im, "JPEG", "prog.jpg", {"progressive": True}),
                           (im, "WEBP", "rgb.webp", {"lossless": True}), (im, "WEBP", "lossy.webp", {"quality": 50}),
                           (im.convert("P"), "PNG", "palette.png", {}), (im.convert("LA"), "PNG", "gray_alpha.png", {}),
                           (im.convert("CMYK"), "JPEG", "cmyk.jpg", {})]:
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    open(D + "image/" + name, "wb").write(b.getvalue())

# GIF and BMP seeds: copies of a few goldens of tests/gen/gen_images_gif_bmp.py
# (its hand-written LZW streams and BMP headers reach what Pillow cannot write).
GB = "tests/data/images/gif_bmp/"
for name in ["pil_P_7x5.gif", "interlace_h9.gif", "offset_frame_trns.gif", "ext_netscape.gif", "codesize_0.gif",
             "literal_high_9.gif", "kwkwk.gif", "frame_w0_x0.gif", "pal1.bmp", "pal4_os2.bmp", "pal8_colors16.bmp",
             "rgb16_565_v5.bmp", "rgb24_topdown.bmp", "rgb32_bf3_v4.bmp", "rle8_37x23.bmp", "rle4.bmp",
             "modeL_4_quirk.bmp", "mode1.bmp", "dib_pal8.dib"]:
    open(D + "image/" + name, "wb").write(open(GB + name, "rb").read())

# TIFF (strips, tiles, each compression, BigTIFF, several pages), animated
# WebP and a PNG with chunks before and after the image data: copied from
# the goldens tests/gen/gen_images_tiff_webp.py writes (with Pillow 9.4 and
# by hand).
import shutil
G = "tests/data/images/tiff_webp/"
for name in ["tif_RGB_tiff_lzw.tif", "tif_L_packbits.tif", "tif_P_raw.tif", "tif_CMYK_tiff_adobe_deflate.tif",
             "tif_YCbCr_jpeg.tif", "tif_1_group4.tif", "tif_multipage.tif", "tifw_rgb_be_tiles_packbits.tif",
             "tifw_rgba_assoc_tiles_deflate.tif", "tifw_grey16_be.tif", "tifw_pal4.tif", "tifw_rgb_planar.tif",
             "tifw_bigtiff_rgba_deflate_tiles.tif", "tifw_rgb_planar_deflate.tif",
             "tifs_f32_be_23x17.tif", "tifs_f32_le_deflate_5x3.tif", "tifs_i32s_be_deflate_5x3.tif",
             "tifs_grey12_le_deflate_5x3.tif", "tifs_grey16_fill2_le_5x3.tif", "tifs_lab_le_5x3.tif",
             "tifs_lab_be_deflate_5x3.tif", "tifs_planar_cmyk_strips_deflate_le.tif",
             "tifs_planar_rgba_assoc_be_deflate.tif", "tifs_planar_rgb16_be.tif", "tifs_planar_la_le.tif",
             "webpanim_lossy.webp", "webpanim_alpha.webp", "webpanim_offset_blend.webp", "webp_alpha_lossless.webp"]:
    shutil.copy(G + name, D + "image/" + name)
shutil.copy(G + "png_pal.png", D + "image/png_pal_chunks.png")

for i, t in enumerate(["a photo of a dog", "The NICE caf\u00e9 \u2014 na\u00efve \u65e5\u672c \U0001F600",
                       "&amp; html &lt;tag&gt;", "  many   spaces\t\n", "don't stop's won't"]):
    open(D + "tokenizer/text%d" % i, "w", encoding="utf-8").write(t)
# ftfy.fix_text seeds: 'F' runs fix_text alone, others the whole tokenizer
# (mojibake in several codecs, C1 controls, ligatures, full-width, curly
# quotes, line breaks, controls incl. NUL, HTML entities, terminal escapes).
for name, t in [
        ("ftfy0", "F" + "The Mona Lisa doesn\u00e2\u20ac\u2122t have eyebrows. \u00c3 la carte\r\n\u00c2\xa0&amp;lt; "
                        "\x1b[31mred\x1b[0m"),
        ("ftfy1", "F" + "\u00d0\u00bf\u00d1\u20ac\u00d0\u00b8\u00d0\u00b2\u00d0\u00b5\u00d1\u201a \x80\x93 \ufb01sh "
                        "\uff26\uff55\uff4c\uff4c \u201cq\u201d e\u0301\xa0\ufeff\x00 <b>&eacute;</b>\n&EACUTE;"),
        ("ftfy2", "F" + "\u00e2\u20ac\u0153mixed\u00e2\u20ac\x9d caf\u00c3\u00a9 and caf\u00e9 \u2028 \u201a\u00c4\u00b6 "
                        "\u0432\u0402\u2122 \u00c3\xa0 &#x2019;&#128;&#0;"),
        ("ftfy3", "F" + b"\xed\xa0\xbd\xed\xb8\x80 \xc0\x80".decode("latin-1") + " \u00c3\u0083\u00c2\u00a9"),
        ("text5", "T" + "Grevy\u2019s zebra, \ufb01re truck, \uff34\uff41\uff42\uff42\uff59\u3000\uff43\uff41\uff54, "
                        "caf\u00c3\u00a9 au lait")]:
    open(D + "tokenizer/" + name, "w", encoding="utf-8", newline="").write(t)
open(D + "tokenizer/merges", "w").write("M#version: 0.2\nt h\nth e</w>\na n\n")
open(D + "tokenizer/vocab", "w").write('V{"!": 0, "\\"": 1, "t": 2, "h": 3, "th": 4, "the</w>": 5}')
# tokenizer.json seeds: a small BPE with "</w>" ends, merges in both forms
# ('J'; loads only when it holds the 512 byte symbols, which the fuzzer may
# add: the seeds exercise the parser up to that check)
tj = {"model": {"type": "BPE", "end_of_word_suffix": "</w>", "continuing_subword_prefix": "",
                "vocab": {"t": 0, "h": 1, "th": 2, "e</w>": 3, "the</w>": 4}, "merges": [["t", "h"], "th e</w>"]}}
open(D + "tokenizer/json", "w").write("J" + json.dumps(tj))


def bytes_to_unicode():  # GPT-2's, as simple_tokenizer.py
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


# one that loads (every byte symbol, a few merges, the special tokens), so
# mutations reach the encoder too
syms = bytes_to_unicode()
vocab = syms + [s + "</w>" for s in syms] + ["th", "the</w>", "ca", "cat</w>", "<|startoftext|>", "<|endoftext|>"]
tj = {"model": {"type": "BPE", "end_of_word_suffix": "</w>", "vocab": {v: i for i, v in enumerate(vocab)},
                "merges": [["t", "h"], "th e</w>", ["c", "a"], "ca t</w>"]}}
open(D + "tokenizer/json_full", "w", encoding="utf-8").write("J" + json.dumps(tj, ensure_ascii=False))
# the same with added tokens as transformers 5 saves them: LAION's pad_token
# "!" (a byte symbol's id), a new word (normalized), a single_word one
tj["added_tokens"] = [
    {"id": 0, "content": "!", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
     "special": True},
    {"id": len(vocab), "content": "<X>", "single_word": False, "lstrip": True, "rstrip": True, "normalized": True,
     "special": False},
    {"id": len(vocab) + 1, "content": "<x>", "single_word": True, "lstrip": False, "rstrip": False,
     "normalized": False, "special": False}]
open(D + "tokenizer/json_added", "w", encoding="utf-8").write("J" + json.dumps(tj, ensure_ascii=False))
# Unigram seeds: 'S' a precompiled charsmap (a darts double array mapping
# "A" to "a": root offset 0, unit 65 labelled 'A' with a leaf at 65 ^ 1,
# whose value 0 is the first replacement); 'U' a small Unigram
# tokenizer.json using it; 'u' text for tests/data/unigram's tokenizer
units = [0] * 66
units[65] = 65 | 1 << 8 | 1 << 10
charsmap = struct.pack("<I", 4 * len(units)) + struct.pack("<%dI" % len(units), *units) + b"a\0"
open(D + "tokenizer/charsmap", "wb").write(b"S" + charsmap)
uj = {"version": "1.0", "added_tokens": [
          {"id": 0, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
          {"id": 8, "content": "<mask>", "single_word": False, "lstrip": True, "rstrip": False, "normalized": False, "special": True}],
      "normalizer": {"type": "Sequence", "normalizers": [
          {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(charsmap).decode()},
          {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}, {"type": "Strip", "strip_left": False, "strip_right": True}]},
      "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
      "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
          {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [],
          "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
      "decoder": None,
      "model": {"type": "Unigram", "unk_id": 3, "byte_fallback": False, "vocab": [
          ["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -2.0], ["\u2581a", -3.0], ["a", -4.0],
          ["photo", -5.0], ["<mask>", 0.0]]}}
open(D + "tokenizer/unigram_json", "w", encoding="utf-8").write("U" + json.dumps(uj, ensure_ascii=False))
open(D + "tokenizer/unigram_text", "w", encoding="utf-8").write("u  a photo of a <mask> ＦＵＬＬ ﬁ e\u0301 犬 \r\n")
# WordPiece seeds: 'W' a small BERT tokenizer.json (BertNormalizer,
# BertPreTokenizer, TemplateProcessing, the specials and a normalized added
# token) and a vocab.txt (CRLF, a blank line, a piece listed twice); 'w'
# text for tests/data/wordpiece/uncased's tokenizer
wp_vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "dog", "d", "##o", "##g", ".", "!",
            "caf", "##e", "\u4e00", "i", "##\u0307"]
wj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [
          {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
           "special": True} for i, c in enumerate(wp_vocab[:5])] + [
          {"id": len(wp_vocab), "content": "New Word", "single_word": False, "lstrip": False, "rstrip": False,
           "normalized": True, "special": False}],
      "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
                     "lowercase": True},
      "pre_tokenizer": {"type": "BertPreTokenizer"},
      "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
          {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}], "pair": [],
          "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                             "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
      "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
      "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": {c: i for i, c in enumerate(wp_vocab)}}}
open(D + "tokenizer/wordpiece_json", "w", encoding="utf-8").write("W" + json.dumps(wj, ensure_ascii=False))
open(D + "tokenizer/wordpiece_vocab", "w", encoding="utf-8", newline="").write(
    "W" + "\r\n".join(wp_vocab[:10] + [""] + wp_vocab[10:] + ["dog  "]) + "\n")
open(D + "tokenizer/wordpiece_text", "w", encoding="utf-8", newline="").write(
    "w A Photo of a DOG! caf\u00e9 [MASK]x \u4e00\u4e8c \u0130 \x00\ufffd\t" + "a" * 120 + " e\u0301\u0316")

# SentencePiece (SigLIP) seeds: 'P' a small model (a copy of the golden
# tests/data/spm/synth/spiece.model: CONTROL, UNKNOWN, NORMAL, UNUSED and
# USER_DEFINED pieces), and a tokenizer_config.json as the Hub's SigLIP
# folders hold it with added tokens of each kind (the harness reads it
# beside tests/data/spm/t5's model); 'p' text for that model
open(D + "tokenizer/spm_model", "wb").write(b"P" + open("tests/data/spm/synth/spiece.model", "rb").read())
spc = {"added_tokens_decoder": {
           "1": {"content": "</s>", "lstrip": True, "normalized": False, "rstrip": True, "single_word": False,
                 "special": True},
           "2": {"content": "<unk>", "lstrip": True, "normalized": False, "rstrip": True, "single_word": False,
                 "special": True},
           "1500": {"content": "<image>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": True,
                    "special": True}},
       "additional_special_tokens": ["<image>", "<x>"], "do_lower_case": True, "eos_token": "</s>",
       "model_max_length": 64, "pad_token": "</s>", "sp_model_kwargs": {}, "tokenizer_class": "SiglipTokenizer",
       "unk_token": "<unk>", "legacy": False, "mask_token": {"__type": "AddedToken", "content": "<mask>"}}
open(D + "tokenizer/spm_config", "w", encoding="utf-8").write("P" + json.dumps(spc, ensure_ascii=False))
open(D + "tokenizer/spm_text", "w", encoding="utf-8", newline="").write(
    "p A Photo of a DOG! caf\u00e9 </s>x <unk> \u2581\u2581 \u0130\u03a3A\u03a3 \uff26\uff35\uff2c\uff2c \ufb01 e\u0301 "
    "\u72ac \x00\t\u3000" + "a" * 120)

os.makedirs(D + "unpickler", exist_ok=True)
T = "tests/data/torchscript/"
for name in ["vit_jit", "rn_jit", "vit_sd", "views_sd"]:
    with zipfile.ZipFile(T + name + ".pt") as z:
        open(D + "unpickler/pkl_" + name, "wb").write(b"P" + z.read(name + "/data.pkl"))
open(D + "unpickler/zip_views_sd", "wb").write(b"Z" + open(T + "views_sd.pt", "rb").read())
buf = io.BytesIO()
with zipfile.ZipFile(T + "vit_jit.pt") as z, zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
    for info in z.infolist():
        if info.filename.endswith(".debug_pkl") or ("/data/" in info.filename and info.file_size > 512):
            continue
        out.writestr(info.filename, z.read(info.filename))
open(D + "unpickler/zip_vit_jit_small", "wb").write(b"Z" + buf.getvalue())

# A memory bomb (its old cost: 4 MiB inflated from 4 KiB, then a copy per
# view): eight tensors viewing one deflated storage of 2^20 float zeros.
def pk_str(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b
def pk_int(v):
    return b"K" + bytes([v]) if 0 <= v < 256 else b"\x8a\x08" + struct.pack("<q", v)
N = 1 << 20
view = (b"ctorch._utils\n_rebuild_tensor_v2\n((" + pk_str("storage") + b"ctorch\nFloatStorage\n" + pk_str("0") +
        pk_str("cpu") + pk_int(N) + b"tQ" + pk_int(0) + b"(" + pk_int(N) + b"t(" + pk_int(1) + b"t\x89" +
        b"ccollections\nOrderedDict\n)RtR")
pkl = b"\x80\x02}(" + b"".join(pk_str("t%d" % k) + view for k in range(8)) + b"u."
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as out:
    out.writestr("a/data.pkl", pkl)
    out.writestr("a/data/0", bytes(4 * N), compress_type=zipfile.ZIP_DEFLATED)
open(D + "unpickler/zip_bomb_views", "wb").write(b"Z" + buf.getvalue())

# A training checkpoint as open_clip_train saves it ({"epoch", "name",
# "state_dict", "optimizer"}), the weights under DDP's "module.": the
# optimizer's int keys, floats, tuple, None, bool and tensors are unpickled
# and left, their storages never read.
def pk_tensor(key, n):
    return (b"ctorch._utils\n_rebuild_tensor_v2\n((" + pk_str("storage") + b"ctorch\nFloatStorage\n" + pk_str(key) +
            pk_str("cpu") + pk_int(n) + b"tQ" + pk_int(0) + b"(" + pk_int(n) + b"t(" + pk_int(1) + b"t\x89" +
            b"ccollections\nOrderedDict\n)RtR")
def pk_float(v):
    return b"G" + struct.pack(">d", v)
pkl = (b"\x80\x02}(" + pk_str("epoch") + pk_int(3) + pk_str("name") + pk_str("run") + pk_str("state_dict") +
       b"ccollections\nOrderedDict\n)R(" + pk_str("module.w") + pk_tensor("0", 4) + pk_str("module.b") +
       pk_tensor("1", 2) + b"u" + pk_str("optimizer") + b"}(" + pk_str("state") + b"}" + pk_int(0) + b"}(" +
       pk_str("step") + pk_tensor("2", 1) + pk_str("exp_avg") + pk_tensor("3", 4) + b"us" + pk_str("param_groups") +
       b"]}(" + pk_str("lr") + pk_float(1e-3) + pk_str("betas") + pk_float(0.9) + pk_float(0.98) + b"\x86" +
       pk_str("foreach") + b"N" + pk_str("amsgrad") + b"\x89" + pk_str("params") + b"](" + pk_int(0) + pk_int(1) +
       b"euauu.")
open(D + "unpickler/pkl_training", "wb").write(b"P" + pkl)
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
    out.writestr("epoch_3/data.pkl", pkl)
    for key, n in (("0", 4), ("1", 2), ("2", 1), ("3", 4)):
        out.writestr("epoch_3/data/" + key, struct.pack("<%df" % n, *range(n)))
open(D + "unpickler/zip_training", "wb").write(b"Z" + buf.getvalue())
