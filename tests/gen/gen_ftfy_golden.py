#!/usr/bin/env python3
"""Golden data for ftfy.fix_text and the CLIP tokenizer behind it:
tests/data/ftfy_golden.jsonl, read by tests/test_ftfy.c.

  python3 -m venv /tmp/venv-ftfy && /tmp/venv-ftfy/bin/pip install ftfy regex
  /tmp/venv-ftfy/bin/python tests/gen/gen_ftfy_golden.py \\
      --clip /work/.mirror/openai+CLIP/repo \\
      --bpe ../shared/clip-tokenizer/bpe_simple_vocab_16e6.txt.gz \\
      --mo /usr/share/locale > tests/data/ftfy_golden.jsonl

--clip is a git checkout or bare mirror of github.com/openai/CLIP; its
clip/simple_tokenizer.py (at HEAD) gives the reference ids, with the real
ftfy and regex. Nothing here comes from this project's code.

Each line: {"kind", "text", "fixed" (ftfy.fix_text), "ids" (SOT, encode,
EOT), "mark"}; long strings are {"kind", "repeat": [head, unit, count,
tail], "fixed_len", "fixed_fnv", "ids_n", "ids_fnv"} (FNV-1a 64 of the
UTF-8 of fixed, and of the ids as little-endian int32); strings with
surrogates are {"kind": "surrogates", "cps": [code points], "fixed"}.
"mark" is 1 when
the text holds a code point whose Unicode properties differ between the
versions involved (Python's unicodedata, which ftfy and str use; the regex
module's; utf8proc's, which our NFC and lowercase use); the first line
({"kind": "meta"}) records versions, the real-text source, and the
differing code points.

The lines of the tokenizer golden (../shared/fixtures/tokenizer/golden.jsonl,
made without ftfy) that ftfy changes are included (kind "shared-golden").

Real text: the country names of Debian's iso-codes package
(/usr/share/locale/*/LC_MESSAGES/iso_3166-1.mo, LGPL-2.1-or-later),
every translation, read with Python's gettext."""
import argparse
import ctypes
import ctypes.util
import gettext
import glob
import html
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

import ftfy
import regex
from ftfy import chardata

SOT, EOT = 49406, 49407


def fnv1a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def load_simple_tokenizer(clip):
    if os.path.isdir(os.path.join(clip, "clip")):
        src = open(os.path.join(clip, "clip", "simple_tokenizer.py")).read()
        rev = subprocess.run(["git", "-C", clip, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    else:
        src = subprocess.run(["git", "--git-dir", clip, "show", "HEAD:clip/simple_tokenizer.py"],
                             capture_output=True, text=True, check=True).stdout
        rev = subprocess.run(["git", "--git-dir", clip, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    d = tempfile.mkdtemp()
    path = os.path.join(d, "simple_tokenizer.py")
    open(path, "w").write(src)
    spec = importlib.util.spec_from_file_location("simple_tokenizer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, rev


def differing_code_points():
    """Code points whose properties our tables (PCRE2's \\p{L}/\\p{N},
    utf8proc's assignment, case and NFC) may see differently from the
    reference (Python's unicodedata, the regex module)."""
    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_tolower.restype = ctypes.c_int32
    lib.utf8proc_unicode_version.restype = ctypes.c_char_p
    rx_ln = regex.compile(r"[\p{L}\p{N}]")
    rx_cn = regex.compile(r"\p{Cn}")
    out = set()
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        cat = unicodedata.category(ch)
        py_ln = cat[0] in "LN"
        if bool(rx_ln.match(ch)) != py_ln or (cat == "Cn") != bool(rx_cn.match(ch)):
            out.add(c)
        if (lib.utf8proc_category(c) == 0) != (cat == "Cn"):
            out.add(c)
        lo = ch.lower()
        if len(lo) == 1 and lib.utf8proc_tolower(c) != ord(lo) and c != 0x130:
            out.add(c)
    return out, lib.utf8proc_unicode_version().decode()


def real_text(mo_root):
    lines = []
    for path in sorted(glob.glob(os.path.join(mo_root, "*", "LC_MESSAGES", "iso_3166-1.mo"))):
        with open(path, "rb") as f:
            t = gettext.GNUTranslations(f)
        for k, v in sorted(t._catalog.items()):
            if isinstance(k, str) and k and v and v != k:
                lines.append(v)
    return lines


WORDS = ["café", "naïve", "Grevy’s zebra", "crème brûlée", "Ærøskøbing", "Straße", "Zürich", "façade", "jalapeño",
         "Ελληνικά", "русский язык", "українська", "български", "Türkçe", "Łódź", "čeština", "Ø", "œuvre",
         "“quoted”", "it’s", "— dash –", "…", "€5", "½ × ¾", "™", "à la carte", "São Paulo", "niño",
         "日本語", "中文", "한국어", "العربية", "עברית", "हिन्दी", "ไทย", "emoji 😀👍", "ﬁsh ﬂour",
         "Ａｂｃ１２３", "pi π σ", "№ 5", "°C", "smörgåsbord", "Ἀθῆναι", "ąčęėįšųūž", "đông", "ğış"]


def mojibake_cases(rng):
    out = []
    encs = chardata.CHARMAP_ENCODINGS + ["windows-1252", "windows-1251", "cp850", "iso-8859-15"]
    for w in WORDS:
        for enc in encs:
            for wrap in ("%s", "The %s is here", "%s\n", "«%s»", "x %s y %s"):
                s = wrap.replace("%s", w)
                try:
                    m = s.encode("utf-8").decode(enc)
                except (UnicodeDecodeError, LookupError):
                    continue
                out.append(("mojibake-" + enc, m))
                out.append(("mojibake-a0-" + enc, m.replace("\xa0", " ")))
                try:
                    out.append(("mojibake2-" + enc, m.encode("utf-8").decode(enc)))
                except UnicodeDecodeError:
                    pass
                out.append(("inconsistent-" + enc, w + " and " + m + " " + w))
                lossy = m.encode(enc, "replace").decode(enc, "replace")
                out.append(("lossy-" + enc, lossy.replace("\x9d", "?").replace("\x81", "\ufffd")))
    # CESU-8, Java NUL, lone surrogate bytes, through the sloppy codecs
    for b in (b"\xed\xa0\xbd\xed\xb8\x80", b"\xc0\x80", b"\xed\xa0\x80", b"caf\xc3\xa9 \xed\xa0\xbd\xed\xb8\x8d",
              b"\xc3\xa0 quelque", b"\xc3 la", b"\xe2\x80 \x9c", b"\xf0\x9f\x98 ", b"\xc0\n", b"\xed\xa0\xbd\xed\xb8\n"):
        for enc in ("sloppy-windows-1252", "latin-1", "sloppy-windows-1251", "macroman", "cp437"):
            out.append(("variants-" + enc, b.decode(enc)))
            out.append(("variants-" + enc, "Ã©t " + b.decode(enc) + " Ã©"))
    for _ in range(300):
        w = rng.choice(WORDS)
        enc = rng.choice(chardata.CHARMAP_ENCODINGS)
        try:
            m = w.encode("utf-8").decode(enc)
        except UnicodeDecodeError:
            continue
        cut = rng.randrange(len(m) + 1)
        out.append(("mojibake-cut", m[:cut] + rng.choice(["", "?", "\ufffd", "\x1a", " "]) + m[cut + 1:]))
    return out


def fixer_cases():
    out = []
    for c in list(range(0x80, 0xA0)):
        out.append(("c1", "a%cb" % c))
        out.append(("c1", "caf\u00c3%c" % c))
    for c in (0x132, 0x133, 0x149, 0x1C4, 0x1C5, 0x1C6, 0x1C7, 0x1C8, 0x1C9, 0x1CA, 0x1CB, 0x1CC, 0x1F1, 0x1F2,
              0x1F3, 0xFB00, 0xFB01, 0xFB02, 0xFB03, 0xFB04, 0xFB05, 0xFB06):
        out.append(("ligature", "o%cce" % c))
    for c in list(range(0xFF01, 0xFFF0)) + [0x3000]:
        out.append(("width", "x%cy" % c))
    for c in (0x2BC, 0x2018, 0x2019, 0x201A, 0x201B, 0x201C, 0x201D, 0x201E, 0x201F, 0x2039, 0x2032):
        out.append(("quote", "Grevy%cs zebra" % c))
    for s in ("a\r\nb", "a\rb", "a\r\r\nb", "a\u2028b", "a\u2029b", "a\x85b", "\r", "\n\n\r\n", "x\r\n<y\r\n&amp;"):
        out.append(("linebreak", s))
    for c in list(range(0, 0x20)) + [0x7F] + list(range(0x206A, 0x2070)) + [0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB, 0xFFFC, 0xFFFD]:
        out.append(("control", "a%cb" % c))
    out.append(("control", "\x00"))
    out.append(("control", "nul\x00in\x00the\x00middle"))
    for s in ("e\u0301", "A\u030a", "\u1100\u1161\u11a8", "a\u0328\u0301", "a\u0301\u0328", "\u212b", "\u2126",
              "q\u0307\u0323", "\u0344", "\u0958", "\uf900", "\u00c5\u0301", "Ä\u0308", "\u1e9b\u0323"):
        out.append(("nfc", s))
        out.append(("nfc", unicodedata.normalize("NFD", "café " + s)))
    for s in ("\x1b[31mred\x1b[0m", "\x1b[1;32;40mx", "\x1b[m", "\x1b[12", "\x1b[\u0661\u0662m", "\x1b[1;2;3Z",
              "\x1bX", "\x1b[1;é", "a\x1b[4mb\x1b[24m c", "\x1b[\uff11m"):
        out.append(("escape", s))
    ents = sorted(chardata.HTML_ENTITIES)
    for i, e in enumerate(ents):
        out.append(("entity", "x%sy" % e if i % 2 else e))
    for name in list(html.entities.html5)[::7]:
        out.append(("entity-html5", "&%s and &%s" % (name, name.upper())))
    for s in ("&#38;", "&#x26;", "&#0;", "&#128;", "&#x80;", "&#65;bc", "&#12ab;", "&#x;", "&#xD800;", "&#1114112;",
              "&#x110000;", "&#59;", "&#x3B;", "&#1;", "&#13;", "&#xFFFE;", "&amp;amp;", "&amp;amp;amp;lt;",
              "&lt;b&gt;", "<b>&amp;</b>", "&amp;\n<b>\n&amp;", "&amp;\n&lt;\n<\n&amp;", "AT&T", "&AMP;", "&EACUTE;",
              "&Eacute;", "&eacute", "&aaaaaaaaaaaaaaaaaaaaaaaaa;", "&aaaaaaaaaaaaaaaaaaaaaaaa;", "&;", "&#;",
              "&nbsp;x", "&NBSP;", "&quot;hi&quot;", "&#8217;s", "Grevy&rsquo;s zebra", "&Amp;"):
        out.append(("html", s))
    # found by fuzz/fuzz_tokenizer.c (target 'F')
    for s in ("â€œmixedâ€  p eacss\t\x9d cafÃ\xa0 &#x2019;&#128;&#0;",
              "â€ \u2028 ‚Ä¶ вЂ™ Ã\xa0 &#x2019;&#128;&#0;"):
        out.append(("fuzz", s))
    for s in ("Grevy’s zebra", "king’s cross", "“tabby” cat", "Chihuahua", "Ｔａｂｂｙ　ｃａｔ", "ﬁre truck",
              "Rhodesian ridgeback", "Shih-Tzu", "jack-o’-lantern", "loupe, jeweler’s loupe", "potter’s wheel",
              "carpenter’s kit", "plate rack", "ballplayer", "café au lait", "crème caramel"):
        out.append(("classname", s))
        out.append(("classname", "a photo of a %s." % s))
    return out


def newer_unicode_cases():
    """Letters and symbols newer than Python 3.11's Unicode 14 (marked)."""
    out = []
    for c in (0x1FAE8, 0x11F04, 0x1E030, 0x1DF25, 0x10D50, 0x1E5D0, 0x0CF3, 0x31350, 0x2FFC, 0x1CC00):
        out.append(("newer-unicode", "x%cy z" % c))
        out.append(("newer-unicode", "caf\u00c3\u00a9 %c\u0301" % c))
    return out


def random_cases(rng, n):
    pools = [
        [chr(c) for c in range(0x20, 0x7F)],
        [chr(c) for c in range(0xA0, 0x100)],
        [chr(c) for c in range(0x80, 0xA0)],
        list("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"),
        list("ÃÂÐÑâ€™œ¦¤¨¬¯¸ˆ˘˛˜†‡‰⌐◊�ªºвЂГўВ"),
        [chr(c) for c in range(0x300, 0x370)],
        [chr(c) for c in range(0x391, 0x3CA)] + [chr(c) for c in range(0x410, 0x450)],
        list("ﬀﬁﬂﬃﬄﬅﬆĳĲǄǅǆ") + [chr(c) for c in range(0xFF01, 0xFF5F)],
        list("&&&;;;#<>\r\n\t\x1b[0m\x00\x7f\u2028\u2029\ufeff"),
        ["&amp;", "&lt;", "&eacute;", "&#233;", "&#x2019;", "&EACUTE;", "\r\n"],
        list("日本語中文한국어ไทยहिन्दीעבריתالعربية😀👍"),
    ]
    out = []
    for _ in range(n):
        k = rng.randrange(1, 30)
        s = "".join(rng.choice(rng.choice(pools)) for _ in range(k))
        if rng.random() < 0.3:
            enc = rng.choice(chardata.CHARMAP_ENCODINGS)
            try:
                s = s.encode("utf-8").decode(enc)
            except (UnicodeDecodeError, UnicodeEncodeError):
                pass
        out.append(("random", s))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", required=True)
    ap.add_argument("--bpe", required=True)
    ap.add_argument("--mo", default="/usr/share/locale")
    ap.add_argument("--shared-golden", default="../shared/fixtures/tokenizer/golden.jsonl",
                    help="the tokenizer golden: its lines that ftfy changes are added")
    ap.add_argument("--real", type=int, default=4000, help="real-text lines kept (evenly spaced)")
    ap.add_argument("--random", type=int, default=3000)
    a = ap.parse_args()
    st, rev = load_simple_tokenizer(a.clip)
    tok = st.SimpleTokenizer(a.bpe)
    diff, u8p_version = differing_code_points()
    rng = random.Random(20261129)

    cases = fixer_cases() + mojibake_cases(rng) + newer_unicode_cases()
    for line in open(a.shared_golden, encoding="utf-8"):
        t = json.loads(line)["text"]
        if ftfy.fix_text(t) != t:
            cases.append(("shared-golden", t))
    real = real_text(a.mo)
    step = max(1, len(real) // a.real)
    cases += [("real-iso3166", s) for s in real[::step]]
    cases += random_cases(rng, a.random)
    seen, uniq = set(), []
    for kind, s in cases:
        if s not in seen:
            seen.add(s)
            uniq.append((kind, s))

    w = sys.stdout.write
    meta = {"kind": "meta", "ftfy": ftfy.__version__, "regex": regex.__version__, "python": sys.version.split()[0],
            "unicodedata": unicodedata.unidata_version, "utf8proc": u8p_version, "clip_commit": rev,
            "real_text": "Debian iso-codes iso_3166-1.mo translations (LGPL-2.1-or-later), %d of %d lines"
                         % (len(real[::step]), len(real)),
            "differing": len(diff)}
    w(json.dumps(meta, ensure_ascii=False) + "\n")
    marked = 0
    for kind, s in uniq:
        fixed = ftfy.fix_text(s)
        ids = [SOT] + tok.encode(s) + [EOT]
        mark = int(any(ord(c) in diff for c in s + fixed))
        marked += mark
        w(json.dumps({"kind": kind, "text": s, "fixed": fixed, "ids": ids, "mark": mark}, ensure_ascii=False) + "\n")
    # Lone and paired surrogates (a Python str may hold them, UTF-8 cannot):
    # given as code points, fix_text only (test_ftfy calls it on code points).
    for t in ("a\ud83d\ude00b", "x\ud800y", "\udc00\ud800", "caf\u00c3\u00a9 \ud83d\ude00 \ud83d",
              "\ud83d\ude00\r\n\ud83d", "\u00e2\u20ac\ud83d\ude00\u0153", "\ud83d\n<\udfff&amp;"):
        w(json.dumps({"kind": "surrogates", "cps": [ord(c) for c in t], "fixed": ftfy.fix_text(t), "mark": 0},
                     ensure_ascii=False) + "\n")
    # Long strings: past max_decode_length (1,000,000 code points) in one
    # segment, and many segments.
    for head, unit, count, tail in (("Ã©", "abc Ã© ", 200000, "&amp;"), ("", "x ", 500002, "Ã©\n&lt;"),
                                    ("&lt;", "line ‘q’\r\n", 50000, "<"), ("", "é ", 500001, "\u0301")):
        s = head + unit * count + tail
        fixed = ftfy.fix_text(s)
        ids = [SOT] + tok.encode(s) + [EOT]
        w(json.dumps({"kind": "long", "repeat": [head, unit, count, tail], "fixed_len": len(fixed.encode()),
                      "fixed_fnv": fnv1a(fixed.encode()), "ids_n": len(ids),
                      "ids_fnv": fnv1a(b"".join(i.to_bytes(4, "little") for i in ids)),
                      "mark": 0}, ensure_ascii=False) + "\n")
    print("%d strings, %d marked" % (len(uniq), marked), file=sys.stderr)


if __name__ == "__main__":
    main()
