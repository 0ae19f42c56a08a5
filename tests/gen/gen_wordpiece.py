#!/usr/bin/env python3
"""Write tests/data/wordpiece/: BERT WordPiece tokenizers (ALIGN's text
tower uses bert-base-uncased's) in the forms a Hugging Face folder holds
them, and the ids transformers 5 and Hugging Face `tokenizers` give for a
set of texts, for tests/test_wordpiece.c.

Two WordPiece vocabularies of ~2,000 pieces are counted here (build_vocab:
frequent characters, words, beginnings and ##endings; deterministic, where
tokenizers' BertWordPieceTokenizer trainer is not) on the WordNet word
lists of shared/neglabel-reference/txtfiles and the lines of MULTILINGUAL,
and built with tokenizers as its BertWordPieceTokenizer builds them: an
uncased one (BertNormalizer lowercase, accents stripped, as
bert-base-uncased) and a cased one (lowercase false, strip_accents false,
as bert-base-cased). Each is saved as ALIGN's repository holds it
(kakaobrain/align-base: tokenizer.json with the TemplateProcessing
"[CLS] $A [SEP]" of bert-base-uncased's, vocab.txt, tokenizer_config.json
as transformers 4 wrote it, special_tokens_map.json) under uncased/ and
cased/.

golden.json holds versions, the texts (TEXTS, then random mixes), and for
every form the ids of every text:

- "folders": a folder the test writes from those files (FOLDERS: which
  files, and edits to tokenizer_config.json or tokenizer.json), loaded by
  transformers 5 as ALIGN's processor loads it,
  AutoTokenizer.from_pretrained(folder)(text)["input_ids"]: BertTokenizer,
  which rebuilds its pipeline from the vocabulary and the config (see
  docs/tokenizer.md), with or without tokenizer.json;
- "files": a tokenizer.json (the uncased one with the edits of FILES: other
  normalizers, post-processors, WordPiece settings) run as tokenizers
  runs it, Tokenizer.from_file(path).encode(text).ids;
- "unicode": for every code point, what tokenizers' normalizers do, as
  64-bit FNV-1a hashes of the normalized text of 4,096 consecutive code
  points (surrogates skipped) for each normalizer of NORMALIZERS, and the
  code points BertPreTokenizer splits off (punctuation) or drops
  (whitespace), as ranges. `tokenizers` builds its Unicode tables from
  crates of different Unicode versions (unicode_categories: Unicode 8.0's
  categories; the normalization crate, for NFD and StripAccents' marks:
  about Unicode 9; Rust's std lowercase: Unicode 17); neglabel uses utf8proc
  with the exceptions `--tables` prints (pasted into
  src/clip/wordpiece.c), and the test checks them on every code point.

Rerunnable: the same bytes each run. Run with transformers 5 and tokenizers
importable:

  /path/to/venv/bin/python tests/gen/gen_wordpiece.py ../shared tests/data/wordpiece
  /path/to/venv/bin/python tests/gen/gen_wordpiece.py --tables   (needs libutf8proc.so.2)
"""
import ctypes
import glob
import json
import os
import random
import shutil
import sys
import tempfile
import warnings

import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

MULTILINGUAL = [
    "a photo of a dog, a photo of a cat, a photo of a goldfish",
    "Ein Foto von einem Hund. Über Äpfel und Öl: schön, süß, groß.",
    "une photo d'un chien, à côté de l'église; œuvre, naïve, façade, café",
    "una foto de un perro pequeño junto al árbol, señor, niño",
    "фотография собаки, кошки и рыбы в аквариуме",
    "一张狗的照片，一只猫和一条金鱼。图片中的动物",
    "犬の写真、猫の写真、金魚の写真です。カメラで撮った",
    "개의 사진, 고양이의 사진, 금붕어의 사진입니다",
    "صورة كلب وصورة قطة وسمكة ذهبية",
    "कुत्ते की तस्वीर, बिल्ली की तस्वीर",
    "φωτογραφία ενός σκύλου και μιας γάτας",
    "İstanbul'da bir köpek, ışık",
]

TEXTS = [
    "a photo of a dog.",
    "a photo of a goldfish, a type of fish",
    "This is a photo of a rare anemone.",
    "A PHOTO OF A DOG!",
    "",
    " ",
    "x",
    "  leading and trailing spaces  ",
    "many     spaces\tand a tab\nand a newline\r\nand crlf",
    "non-ascii spaces:\u00a0nbsp\u2009thin\u3000ideographic\u2028line\u2029para\u1680ogham\u202fnarrow",
    "punctuation!!! runs??? ...and --- dashes; (brackets) [square] {curly} <angle> \"quotes\" 'single'",
    "don't stop's won't U.S.A. 3.14 $100 50% a+b=c #tag @user ~tilde `back` ^caret |pipe \\slash",
    "unicode punctuation: ¡hola! ¿qué? «guillemets» „quotes“ ‘curly’ – — … · • ※ 、。「」『』【】",
    "Äpfel café naïve Über ÉCOLE résumé façade crème brûlée",
    "e\u0301cole composed vs \u00e9cole precomposed, A\u030a and \u212b and \u00c5",
    "İstanbul İ i̇ ı I ǅ ǈ ǋ ß ẞ ﬁ ﬂ Σ ΟΔΟΣ ς",
    "Ein Foto von einem Hund über Äpfel und Öl",
    "一张狗的照片 and 犬の写真 and 개의 사진",
    "中文字符和English混合的text，标点。",
    "ideographs in every range: 㐀 一 鿿 豈 𠀀 𪜀 𫝀 𫠠 丽 〇 ㈠",
    "कुत्ते की तस्वीर क्षत्रिय श्री",
    "صورة كلب مُحَمَّد",
    "עִבְרִית שָׁלוֹם",
    "ภาพถ่ายของสุนัข",
    "emoji 👍🏽 family 👨\u200d👩\u200d👧 flag 🇫🇷 keycap 1\ufe0f\u20e3 🥰 🫠",
    "control \x01\x02\x7f chars \x0b vt \x0c ff \x1c\x1d\x1e\x1f seps \x85 nel",
    "nul\x00inside\x00text and \ufffd replacement \ufffdx",
    "soft\u00adhyphen zero\u200bwidth \u200c non-joiner \u200d joiner \ufeff bom \u2060 wj",
    "private use \ue000\uf8ff and \U000f0000 plane 15",
    "unassigned \u0378 \U000e0001 tag \U0001f8ff",
    "a" * 100,
    "a" * 101,
    "x " + "é" * 100 + " y",
    "x " + "é" * 101 + " y",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "qqqqzzzxxx jjjjvvv",
    "a [MASK] dog",
    "[CLS]x",
    "x[SEP]y",
    "[PAD][UNK][CLS][SEP][MASK]",
    "[mask] [Mask] [ MASK ] [MASK",
    "a [MASK][MASK] b[MASK]c",
    "NewWord newword NEWWORD <ent> <ENT> [TAG] x[TAG]y",
    "combining sequences: a\u0301\u0316 a\u0316\u0301 o\u0308\u0304 q\u0323\u0307",
    "marks that are not Mn: क\u0903 \u0488x \u20dd ab\u0345c",
    "newer characters: \u0890 \u08e2 \U000110cd \U00013430 \u1cf2\u1cf3 \u166d \U000111c9 \U00011938",
    "newer letters: \ua7cb \ua7dc \U00010d50 \U00016ea0 \u1c89",
    "hangul 한국어 사진 ᄀ ㄱ",
    "fullwidth ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ １２３ ！？",
    "math ∑ x² ½ ∞ ≠ ≤ → ⇒ ∀x∃y",
    "currency € £ ¥ ₹ ₿ and symbols © ® ™ ° ℃",
    "a " * 40,
    "tab\tseparated\tvalues\tand\ttrailing\t",
    "the quick brown fox jumps over the lazy dog; THE QUICK BROWN FOX",
    "photograph photography photographer photographic",
    "a photo of New York, NEW   YORK and newyork[MASK]",
]


def random_texts(seed, n):
    rng = random.Random(seed)
    pools = ["abcdefghijklmnopqrstuvwxyz", "ABCXYZ ", "     ", "äöüßéèêçñÄÖÜÉİı", "\u0301\u0308\u0327\u0316\u0345",
             "一狗猫照片图鿿㐀", "犬猫写真カメラ", "개고양이사진", "кошкасобака", "ＡＢＣ１２３", "ﬁﬂ①②", "👍🏽\u200d🇫🥰",
             ".,;:!?'\"()-[]{}", "\t\n\u00a0\u2009\u3000\u0085\x0b", "क्षत्रि\u0903", "\ufe0f\u20e3\u00ad\u200b",
             "\x00\x01\x7f\ufffd", "¡¿«»–—…", "ΣΟΔςσ", "[MASK]", "[CLS]", "dog cat photo "]
    out = []
    for _ in range(n):
        out.append("".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 40))))
    return out


CONFIG = {"cls_token": "[CLS]", "do_basic_tokenize": True, "do_lower_case": True, "mask_token": "[MASK]",
          "model_max_length": 64, "never_split": None, "pad_token": "[PAD]", "processor_class": "AlignProcessor",
          "sep_token": "[SEP]", "special_tokens_map_file": None, "strip_accents": None,
          "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"}
SPECIAL_MAP = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]",
               "unk_token": "[UNK]"}

# Folders the test writes: "from" (uncased or cased), the files taken, edits
# ("config": keys set in tokenizer_config.json, null removes; "json": keys
# set in tokenizer.json, "model.x" in its model; "added": tokens appended to
# its added_tokens; "write": other files, written whole; "vocab": vocab.txt
# rewritten: CRLF line ends, trailing whitespace after the piece "trail",
# an empty line inserted at "blank_at", the piece "append" listed again last).
FOLDERS = {
    "uncased": {"from": "uncased", "files": ["tokenizer.json", "vocab.txt", "tokenizer_config.json",
                                              "special_tokens_map.json"]},
    "uncased-vocab": {"from": "uncased", "files": ["vocab.txt", "tokenizer_config.json"]},
    "cased": {"from": "cased", "files": ["tokenizer.json", "vocab.txt", "tokenizer_config.json",
                                          "special_tokens_map.json"]},
    "cased-vocab": {"from": "cased", "files": ["vocab.txt", "tokenizer_config.json"]},
    # transformers 5's own save_pretrained: tokenizer.json and a config without vocab.txt
    "uncased-resave": {"from": "uncased", "files": ["tokenizer.json", "tokenizer_config.json"],
                       "config": {"backend": "tokenizers", "is_local": True, "local_files_only": False,
                                  "special_tokens_map_file": None}},
    # lowercase, accents kept (strip_accents false)
    "uncased-keep-accents": {"from": "uncased", "files": ["tokenizer.json", "vocab.txt", "tokenizer_config.json"],
                             "config": {"strip_accents": False}},
    # the config wins over tokenizer.json's normalizer and WordPiece settings
    "config-wins": {"from": "uncased", "files": ["tokenizer.json", "tokenizer_config.json"],
                    "json": {"normalizer": {"type": "BertNormalizer", "clean_text": False,
                                            "handle_chinese_chars": False, "strip_accents": False,
                                            "lowercase": False},
                             "model.max_input_chars_per_word": 5, "post_processor": None},
                    "config": {"tokenize_chinese_chars": False}},
    # transformers >= 4.34's tokenizer_config.json: added_tokens_decoder lists
    # every added token (special_tokens_map.json is then not read); a
    # normalized two-word token (its id filled in by main)
    "config-decoder": {"from": "uncased", "files": ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"],
                       "config": {"added_tokens_decoder": None}},
    # vocab.txt as tokenizers reads it: CRLF, trailing whitespace trimmed, an
    # empty line is an id, a piece listed twice keeps its last line's id
    "vocab-quirks": {"from": "uncased", "files": ["vocab.txt", "tokenizer_config.json"],
                     "vocab": {"trail": "dog", "blank_at": 50, "append": "photo"}},
    # no tokenizer_config.json: BertTokenizer's defaults (what ALIGN's model_type gives)
    "no-config": {"from": "uncased", "files": ["vocab.txt"], "write": {"config.json": {"model_type": "align"}}},
    # added tokens in tokenizer.json: a normalized word, a raw one, a special one with strip flags
    # (ids None: the vocabulary's size and on, filled in by main)
    "added": {"from": "uncased", "files": ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
              "added": [{"id": None, "content": "NewWord", "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": True, "special": False},
                        {"id": None, "content": "<ent>", "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": False, "special": False},
                        {"id": None, "content": "[TAG]", "single_word": False, "lstrip": True, "rstrip": True,
                         "normalized": False, "special": True}]},
}

# tokenizer.json variants run by tokenizers itself (the uncased file edited)
FILES = {
    "file-uncased": {},
    "file-cased": {"from": "cased"},
    "file-sequence": {"normalizer": {"type": "Sequence", "normalizers": [
        {"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}},
    "file-lowercase-only": {"normalizer": {"type": "Lowercase"}},
    "file-no-normalizer": {"normalizer": None},
    "file-bert-processing": {"post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}},
    "file-no-post": {"post_processor": None},
    "file-max8": {"model.max_input_chars_per_word": 8},
    "file-no-chinese": {"normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False,
                                       "strip_accents": True, "lowercase": True}},
    "file-no-clean": {"normalizer": {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": True,
                                     "strip_accents": None, "lowercase": True}},
}

# normalizers checked on every code point
NORMALIZERS = {
    "clean": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": False, "strip_accents": False,
              "lowercase": False},
    "chinese": {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": True, "strip_accents": False,
                "lowercase": False},
    "strip": {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": False, "strip_accents": True,
              "lowercase": False},
    "lower": {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": False, "strip_accents": False,
              "lowercase": True},
    "nfd": {"type": "NFD"},
    "strip-accents": {"type": "StripAccents"},
    "bert-uncased": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                     "strip_accents": None, "lowercase": True},
}
CHUNK = 4096


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def chunks():
    cps = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    return ["".join(map(chr, cps[i:i + CHUNK])) for i in range(0, len(cps), CHUNK)]


def ranges(xs):
    out = []
    for x in sorted(xs):
        if out and out[-1][1] == x - 1:
            out[-1][1] = x
        else:
            out.append([x, x])
    return out


def pre_classes():
    """Code points BertPreTokenizer isolates (punctuation) and removes (whitespace)."""
    pre = pre_tokenizers.BertPreTokenizer()
    punct, ws = [], []
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        toks = [t for t, _ in pre.pre_tokenize_str("a" + chr(c) + "b")]
        if toks == ["a", chr(c), "b"]:
            punct.append(c)
        elif toks == ["a", "b"]:
            ws.append(c)
        elif toks != ["a" + chr(c) + "b"]:
            raise ValueError("unexpected split of U+%04X: %r" % (c, toks))
    return ranges(punct), ranges(ws)


def unicode_golden():
    out = {"chunk": CHUNK, "normalizers": NORMALIZERS, "hashes": {}}
    parts = chunks()
    for name, spec in NORMALIZERS.items():
        n = Tokenizer.from_str(json.dumps({"version": "1.0", "normalizer": spec, "model": {
            "type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100}})).normalizer
        out["hashes"][name] = [fnv1a(n.normalize_str(p).encode("utf-8")) for p in parts]
    out["punct"], out["whitespace"] = pre_classes()
    return out


SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_vocab(lines, lowercase):
    """A WordPiece vocabulary of ~2,000 pieces, chosen deterministically
    (tokenizers' trainer keeps other pieces from run to run: equal counts
    come out of a Rust HashMap): the specials, printable ASCII and the 300
    most frequent characters alone and as ##c, then by count (ties by the string) 800
    words, 500 word beginnings of 2 to 6 characters and 400 ##endings of 2
    to 5, counted on the corpus as the tokenizer normalizes and splits it."""
    norm = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=None if lowercase else False)
    pre = pre_tokenizers.BertPreTokenizer()
    chars, words, heads, tails = {}, {}, {}, {}

    def bump(d, k):
        d[k] = d.get(k, 0) + 1
    for line in lines:
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(line)):
            bump(words, w)
            for c in w:
                bump(chars, c)
            for k in range(2, min(6, len(w) - 1) + 1):
                bump(heads, w[:k])
            for k in range(2, min(5, len(w) - 1) + 1):
                bump(tails, "##" + w[-k:])

    def top(d, n):
        return [k for k, _ in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
    ascii_ = set(norm.normalize_str("".join(map(chr, range(33, 127)))))
    alphabet = sorted(ascii_ | set(top(chars, 300)))
    pieces = alphabet + ["##" + c for c in alphabet]
    for extra, n in ((words, 800), (heads, 500), (tails, 400)):
        pieces += [p for p in top({k: v for k, v in extra.items() if k not in pieces}, n)]
    return {p: i for i, p in enumerate(SPECIALS + pieces)}


def build(vocab, lowercase):
    """tokenizers' BertWordPieceTokenizer's pipeline over vocab, with the
    post-processor of bert-base-uncased's tokenizer.json."""
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None if lowercase else False, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(SPECIALS)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return tok


def save_form(tok, out, lowercase):
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t, _ in vocab))
    cfg = dict(CONFIG)
    if not lowercase:
        cfg["do_lower_case"] = False
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(SPECIAL_MAP, f)


def edit_json(doc, edits):
    for k, v in edits.items():
        if k == "from":
            continue
        if k.startswith("model."):
            doc["model"][k[6:]] = v
        else:
            doc[k] = v
    return doc


def write_folder(data, spec, d):
    """The folder FOLDERS[...] describes (the test does the same)."""
    os.makedirs(d)
    src = os.path.join(data, spec["from"])
    for name in spec["files"]:
        shutil.copy(os.path.join(src, name), d)
    if "vocab" in spec:
        v = spec["vocab"]
        p = os.path.join(d, "vocab.txt")
        lines = open(p, encoding="utf-8").read().split("\n")[:-1]
        lines[lines.index(v["trail"])] += " \t\u3000"
        lines.insert(v["blank_at"], "")
        lines.append(v["append"])
        open(p, "wb").write("".join(x + "\r\n" for x in lines).encode("utf-8"))
    for name, doc in spec.get("write", {}).items():
        json.dump(doc, open(os.path.join(d, name), "w", encoding="utf-8"))
    if "config" in spec:
        p = os.path.join(d, "tokenizer_config.json")
        cfg = json.load(open(p, encoding="utf-8"))
        for k, v in spec["config"].items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = v
        json.dump(cfg, open(p, "w", encoding="utf-8"), indent=2)
    if "json" in spec or "added" in spec:
        p = os.path.join(d, "tokenizer.json")
        doc = edit_json(json.load(open(p, encoding="utf-8")), spec.get("json", {}))
        doc["added_tokens"] += spec.get("added", [])
        json.dump(doc, open(p, "w", encoding="utf-8"), ensure_ascii=False)


def print_tables():
    """Where tokenizers' Unicode tables differ from utf8proc's, as C arrays
    for src/clip/wordpiece.c."""
    class Prop(ctypes.Structure):
        _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]
    u8 = ctypes.CDLL("libutf8proc.so.2")
    u8.utf8proc_get_property.restype = ctypes.POINTER(Prop)
    u8.utf8proc_tolower.restype = ctypes.c_int32
    cat = lambda c: u8.utf8proc_get_property(c).contents.category  # noqa: E731

    def bert(**kw):
        flags = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
        flags.update(kw)
        return normalizers.BertNormalizer(**flags)
    clean, bert_strip = bert(clean_text=True), bert(strip_accents=True)
    strip, low, nfd = normalizers.StripAccents(), normalizers.Lowercase(), normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()
    out = {k: [] for k in ("CTRL_NEW", "PUNCT_NEW", "PUNCT_OLD", "MN_NEW", "MN_OLD", "MARK_NEW", "MARK_OLD")}
    lower = []
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        s, k = chr(c), cat(c)
        u_ctrl = c not in (9, 10, 13) and k in (26, 27, 29)  # Cc Cf Co
        if c not in (0, 0xFFFD) and u_ctrl and clean.normalize_str(s) != "":
            out["CTRL_NEW"].append(c)
        u_p = (c < 128 and s in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") or 12 <= k <= 18
        t_p = [t for t, _ in pre.pre_tokenize_str("a" + s + "b")] == ["a", s, "b"]
        if u_p != t_p:
            out["PUNCT_NEW" if u_p else "PUNCT_OLD"].append(c)
        if nfd.normalize_str(s) == s:  # BertNormalizer's strip sees characters after NFD
            u_mn, t_mn = k == 6, bert_strip.normalize_str(s) == ""
            if u_mn != t_mn:
                out["MN_NEW" if u_mn else "MN_OLD"].append(c)
        u_m, t_m = k in (6, 7, 8), strip.normalize_str(s) == ""
        if u_m != t_m:
            out["MARK_NEW" if u_m else "MARK_OLD"].append(c)
        lo = low.normalize_str(s)
        if lo != chr(u8.utf8proc_tolower(c)) and len(lo) == 1:
            lower.append((c, ord(lo)))
        elif lo != chr(u8.utf8proc_tolower(c)):
            print("/* U+%04X lowercases to %s */" % (c, " ".join("U+%04X" % ord(x) for x in lo)))
    for name, xs in out.items():
        items = ["{0x%04X, 0x%04X}" % (a, b) for a, b in ranges(xs)]
        print("static const uint32_t %s[][2] = {" % name)
        for i in range(0, len(items), 6):
            print("    " + ", ".join(items[i:i + 6]) + ",")
        print("};")
    runs = []
    for c, lo in lower:
        if runs and runs[-1][1] == c - 1 and runs[-1][2] + (c - runs[-1][0]) == lo:
            runs[-1][1] = c
        else:
            runs.append([c, c, lo])
    print("static const uint32_t LOWER_NEW[][3] = {")
    items = ["{0x%04X, 0x%04X, 0x%04X}" % tuple(r) for r in runs]
    for i in range(0, len(items), 4):
        print("    " + ", ".join(items[i:i + 4]) + ",")
    print("};")


def main():
    if sys.argv[1:] == ["--tables"]:
        print_tables()
        return
    shared, out = sys.argv[1], sys.argv[2]
    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()
    lines = []
    for path in sorted(glob.glob(os.path.join(shared, "neglabel-reference", "txtfiles", "*.txt"))):
        for line in open(path, encoding="utf-8"):
            lines.append(line.strip().replace("_", " "))
    lines += MULTILINGUAL * 50
    os.makedirs(out, exist_ok=True)
    for name, lowercase in (("uncased", True), ("cased", False)):
        vocab = build_vocab(lines, lowercase)
        save_form(build(vocab, lowercase), os.path.join(out, name), lowercase)
        if lowercase:
            for k, tok in enumerate(FOLDERS["added"]["added"]):
                tok["id"] = len(vocab) + k
            dec = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "special": True} for i, c in enumerate(SPECIALS)}
            dec[str(len(vocab))] = {"content": "New York", "lstrip": False, "normalized": True, "rstrip": False,
                                    "single_word": False, "special": False}
            FOLDERS["config-decoder"]["config"]["added_tokens_decoder"] = dec
    texts = TEXTS + random_texts(1, 250)
    golden = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
              "texts": texts, "folders": FOLDERS, "files": FILES, "ids": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in FOLDERS.items():
            d = os.path.join(tmp, name)
            write_folder(out, spec, d)
            at = transformers.AutoTokenizer.from_pretrained(d)
            assert type(at).__name__ == "BertTokenizer", type(at)
            golden["ids"][name] = [at(t)["input_ids"] for t in texts]
        for name, edits in FILES.items():
            src = os.path.join(out, edits.get("from", "uncased"), "tokenizer.json")
            doc = edit_json(json.load(open(src, encoding="utf-8")), edits)
            tok = Tokenizer.from_str(json.dumps(doc))
            golden["ids"][name] = [tok.encode(t).ids for t in texts]
    golden["unicode"] = unicode_golden()
    with open(os.path.join(out, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))


if __name__ == "__main__":
    main()
