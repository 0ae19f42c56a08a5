#!/usr/bin/env python3
"""Write tests/data/spm/: SentencePiece Unigram models in SigLIP's folder
form (spiece.model, tokenizer_config.json, special_tokens_map.json, ...)
and the ids transformers 5's SiglipTokenizer gives for a set of texts,
for tests/test_spm.c (src/clip/spm*.c).

Models (each spiece.model is what sentencepiece writes or reads):

- t5/spiece.model: a Unigram of 1,500 pieces trained here with
  sentencepiece on the WordNet word lists of
  shared/neglabel-reference/txtfiles, NegLabel prompts and MULTILINGUAL
  (gen_unigram.py's lines and a few more),
  with T5's (and so SigLIP's) settings: pad 0 "<pad>", eos 1 "</s>",
  unk 2 "<unk>", no bos, nmt_nfkc, add_dummy_prefix, remove_extra_whitespaces;
- plain/spiece.model: 600 pieces, identity normalizer, user-defined
  symbols ("NegLabel", "a photo", "<sep>", "😀"), a control symbol;
- bytes/spiece.model: 500 pieces, byte_fallback (the 256 <0xXX> pieces),
  split_digits;
- synth/spiece.model: written piece by piece (sentencepiece_model_pb2):
  paths of exactly equal scores (the first found wins), user-defined
  pieces (sentencepiece 0.2.3 scores one of n bytes n * 0.1 - 0.1,
  whatever the NORMAL scores), UNUSED pieces, a CONTROL and a NORMAL
  piece with the same string; synth-float/spiece.model: scores exact in
  float where float and double sums of a path differ (0.2.3 sums in
  float).

golden.json holds versions, the texts (TEXTS: gen_wordpiece.py's texts
and SigLIP's own cases; prompts; random mixes), and
for each "folder" (FOLDERS: a model, bytes appended to its spiece.model
-- protobuf merges a repeated singular message, so appending
`normalizer_spec { add_dummy_prefix: false }` edits it -- and the other
files, byte for byte as transformers or hand-edited Hub files hold them)
the ids AutoTokenizer.from_pretrained(folder)(text)["input_ids"] gives:
a list per text, or null where it equals the folder named "ref". Each
folder's files are checked to load as SiglipTokenizer.

"refusals": folders neglabel refuses, each with what transformers does
with it: "loads" (then neglabel refuses a setting it does not run
exactly), or "fails: <exception>" at load, "loads, encoding fails: ..."
or "gives ids [..., None]" (neglabel refuses those as malformed).

"unicode": every code point (surrogates skipped) in chunks of 4,096,
each chunk as 64-bit FNV-1a hashes (hex) of: canonicalize_text's output
(do_lower_case true and false; each code point c is put in the patterns
"A c Σ|", "| c Σ|", "AΣ c|", "AΣ c A|", so Σ's final-sigma context sees c
on both sides), sentencepiece's normalize() of the code points one after
the other for the t5 and plain models, and the ids (int32 little-endian)
the "hub" folder gives for the chunk.

Rerunnable: the same bytes each run. With sentencepiece, protobuf and
transformers 5 importable:

  /path/to/venv/bin/python tests/gen/gen_spm.py ../shared tests/data/spm
  /path/to/venv/bin/python tests/gen/gen_spm.py --tables   (needs libutf8proc.so.2)
"""
import ctypes
import glob
import json
import os
import random
import shutil
import struct
import sys
import tempfile
import warnings

import google.protobuf
import sentencepiece as spm
import transformers
from sentencepiece import sentencepiece_model_pb2 as pb
from tokenizers import AddedToken

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
from transformers import AutoTokenizer, SiglipTokenizer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_unigram  # noqa: E402
import gen_wordpiece  # noqa: E402

# the other tokenizer goldens' corpus lines and texts, then SigLIP's own cases
MULTILINGUAL = gen_unigram.MULTILINGUAL + [
    "φωτογραφία ενός σκύλου και μιας γάτας, οδός, Σωκράτης, Οδυσσέας",
    "İstanbul'da bir köpek, ışık, ılık",
    "emoji 👍 🐶 🐱 ❤️",
]

TEXTS = gen_wordpiece.TEXTS + [
    "don't stop's won't U.S.A. 3.14 $100 50% a+b=c #tag @user ~tilde `back` ^caret |pipe \\slash _under_",
    "!!!",
    ".,;:",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "...a...",
    "a.b,c;d:e!f?g",
    "C++ and C# and F#",
    "e-mail e_mail e/mail e\\mail",
    "Äpfel café naïve Über ÉCOLE résumé façade crème brûlée Ångström",
    "\u0301 alone, n\u0303 tilde, q\u0323\u0307 two marks",
    "İstanbul İ i̇ ı I ǅ ǈ ǋ ß ẞ ﬁ ﬂ",
    "İSTANBUL",
    "Σ",
    "ΑΣ",
    "ΑΣ Σ",
    "ΟΔΟΣ ΣΩΚΡΑΤΗΣ.",
    "ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ",
    "AΣ'b AΣ\u0301 AΣ\u0301B aΣ ΣA Σ1 1Σ AΣ. AΣ,b",
    "ΌΣΟΣ ΚΑΙ ΟΣΑ",
    "KELVIN \u212a and OHM \u2126",
    "カタカナ ひらがな ｶﾀｶﾅ",
    "한국어 사진 ᄀ ㄱ",
    "фотография собаки",
    "Tiếng Việt có dấu",
    "emoji 👍🏽 family 👨\u200d👩\u200d👧 flag 🇫🇷 keycap 1\ufe0f\u20e3 🥰 🫠 ❤️",
    "👍",
    "🐶🐱",
    "\x00",
    "a\x00\x00b",
    "soft\u00adhyphen zero\u200bwidth \u200c non-joiner \u200d joiner \ufeff bom \u2060 wj \u180e mvs",
    "private use \ue000\uf8ff and \U000f0000 plane 15, \U0010fffd",
    "rare scripts 𓀀 ᚠᚢᚦ ꙮ 𐌰𐌱",
    "ligatures ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ",
    "circled ① ② ⑳ ㉑ Ⓐ ⓐ",
    "compat ㍿ ™ ½ x² Ⅻ ㈱ ﷺ … ‥ ℌ 𝐀𝐁 ǆ ﹰ",
    "a" * 300,
    "supercalifragilisticexpialidocious" * 8,
    "x " + "é" * 120 + " y",
    "漢" * 80,
    "a▁b",
    "▁",
    "▁▁",
    "▁ ▁",
    "x ▁y",
    "▁hello",
    "a▁b▁▁c",
    "</s>▁",
    "▁</s>",
    "a▁</s>",
    "a ▁ </s>",
    "</s>",
    "<unk>",
    "<pad>",
    "<s>",
    "a </s> b",
    " </s> ",
    "x</s>y",
    "a <pad> b",
    "a <unk> b",
    "x<unk>y",
    "< unk > </ s>",
    "</S> <UNK> <PAD>",
    "</s></s>",
    "<unk></s><unk>",
    "a</s>",
    "</s> ",
    " </s>",
    "</s>a",
    "</s>.",
    ".</s>",
    "</s>漢字",
    "漢 </s>",
    "a photo of a dog</s>",
    "a photo of a dog </s>",
    "a photo of a dog</s></s>",
    "</s> x",
    "  </s>",
    "x </s>",
    "<unk>x",
    "x<unk>",
    "<pad></s>",
    "</s><pad>",
    "</</s>s>",
    "<</s>",
    "</s>>",
    "<mask> <image> <extra_id_0> <extra_id_1>",
    "a <mask> b<mask>c",
    "<image>a photo",
    "<extra_id_0>x<extra_id_1>",
    "<extra_id_10><extra_id_1>0",
    "NegLabel negLabel neglabel NEGLABEL",
    "a photo of NegLabel",
    "photo of a photo of",
    "x<sep>y <sep> z",
    "xNegLabely",
    "NegLabel's",
    "ＮＥＧlabel ＮＥＧ ﬁx ﬁ e\u0301x e\u0301 \u00e9",
    "an image <image> <imag <image images",
    "😀😀 a😀b",
    "hot▁dog hot dog hotdog",
    "a photographic record, photography, Photo-graphic",
    "a photo of a cat.",
    "a photo of a CAT and a catalogue",
    "New York new york",
    "0123456789 12345 3.14159 1,000,000",
    "abc123def 42nd 1st",
    "tab\tseparated\tvalues",
    "line\nbreaks\n\nand\r\nmore",
    "\u3000ideographic\u3000space\u3000",
    "\u00a0nbsp\u00a0",
    "\u2028line\u2029para\u1680ogham\u202fnarrow\u205fmath\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a",
    "a\x1cb\x1dc\x1ed\x1fe\x85f",
    "the quick brown fox jumps over the lazy dog",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "The Quick Brown Fox",
    "mIxEd CaSe TeXt",
    "jj vvv ww jjj vvvv www wwww jjvvvww",
    "xyz xyzxyz dogcat dogcatdog",
    "ab abab cd cdcd abcd e ab",
]

POOLS = ["abcdefghijklmnopqrstuvwxyz", "ABCXYZ ΣΑΟ", "     ", "äöüßéèêçñİı", "\u0301\u0308\u0327", "一狗猫照片图",
         "犬猫写真カメラ", "개고양이사진", "кошкасобака", "ＡＢＣ１２３", "ﬁﬂ①②", "👍🏽\u200d🇫", ".,;:!?'\"()-<>/",
         "\t\n\u00a0\u2009\u3000\x1c", "क्षत्रि", "\ufe0f\u20e3", "▁▁ ", ["</s>", "<unk>", "<pad>", "<mask>", "<image>",
                                                                    "<extra_id_0>", "NegLabel", "<sep>"],
         "\x00\x01\ufffd\ue000"]


def random_texts(seed, n):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        out.append("".join(parts))
    return out


def prompts(shared):
    ref = os.path.join(shared, "neglabel-reference")
    classes = [l.strip() for l in open(os.path.join(ref, "imagenet_classes.txt"), encoding="utf-8") if l.strip()]
    negs = [l.strip() for l in open(os.path.join(ref, "selected_neg_labels_in1k_10k.txt"), encoding="utf-8") if l.strip()]
    rng = random.Random(7)
    out = ["a photo of a %s." % w for w in rng.sample(classes, 30)]
    out += ["a photo of a %s." % w for w in rng.sample(negs, 20)]
    out += ["A Photo Of The %s!" % w.title() for w in rng.sample(classes, 5)]
    return out


# ------------------------------------------------------------------ models

def train(corpus, prefix, **kw):
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, model_type="unigram", num_threads=1,
                                   minloglevel=2, shuffle_input_sentence=False, **kw)
    m = pb.ModelProto.FromString(open(prefix + ".model", "rb").read())
    del m.trainer_spec.input[:]  # the temporary folder's name: the same bytes each run
    m.trainer_spec.input.append("corpus.txt")
    m.trainer_spec.model_prefix = os.path.basename(prefix)
    return m.SerializeToString()


def synth_model(t5_bytes):
    """Pieces chosen for the Viterbi's corner cases; no charsmap."""
    m = pb.ModelProto()
    S = pb.ModelProto.SentencePiece
    for p, s, t in [("<pad>", 0, S.CONTROL), ("</s>", 0, S.CONTROL), ("<unk>", 0, S.UNKNOWN)]:
        m.pieces.add(piece=p, score=s, type=t)
    pieces = [
        # ties: "▁ab"+"c" and "▁a"+"bc" both -3.0; "xy"+"z" and "x"+"yz" both -1.5
        ("▁ab", -2.0), ("c", -1.0), ("▁a", -1.0), ("bc", -2.0), ("▁", -1.0), ("a", -1.5), ("b", -1.5),
        ("x", -0.5), ("y", -0.5), ("z", -0.5), ("xy", -1.0), ("yz", -1.0),
        ("▁dog", -3.0), ("d", -2.5), ("o", -2.5), ("g", -2.5), ("▁d", -2.0), ("og", -2.0),
        ("▁cat", -2.0), ("t", -3.0), ("▁ca", -1.5), ("e", -2.0), ("s", -2.0), ("▁photo", -4.0),
        ("p", -3.0), ("h", -3.0), ("▁of", -2.0), ("f", -3.0), ("n", -3.0), ("i", -3.0), ("l", -3.0),
        ("u", -3.0), ("k", -3.0), ("r", -3.0), ("m", -3.0), ("w", 0.05), ("1", -3.0), ("2", -3.0),
        ("j", 0.04), ("v", 0.07),
        ("é", -3.5), ("漢", -4.0), ("σ", -4.0), ("ς", -4.0),
    ]
    for p, s in pieces:
        m.pieces.add(piece=p, score=s, type=S.NORMAL)
    m.pieces.add(piece="▁photograph", score=5.0, type=S.UNUSED)  # would win were it not skipped
    m.pieces.add(piece="q", score=1.0, type=S.UNUSED)            # q stays <unk>
    m.pieces.add(piece="▁cat", score=0.0, type=S.CONTROL)        # a CONTROL beside the NORMAL "▁cat"
    m.pieces.add(piece="dogcat", score=0.0, type=S.USER_DEFINED)  # ~ -0.1: beats d o g c a t
    m.pieces.add(piece="xyz", score=-100.0, type=S.USER_DEFINED)  # its score is not read
    # user-defined pieces of 2 and 3 bytes (0.1 and 0.2) against NORMAL ones summing close by:
    # "jj" wins over j j (0.08), v v v (0.21) over "vvv", "ww" ties with w w (0.05f twice): the first found stays
    m.pieces.add(piece="jj", score=0.0, type=S.USER_DEFINED)
    m.pieces.add(piece="vvv", score=0.0, type=S.USER_DEFINED)
    m.pieces.add(piece="ww", score=0.0, type=S.USER_DEFINED)
    m.pieces.add(piece="na", score=-1.0, type=S.NORMAL)
    m.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    m.trainer_spec.vocab_size = len(m.pieces)
    m.trainer_spec.unk_id, m.trainer_spec.eos_id, m.trainer_spec.pad_id, m.trainer_spec.bos_id = 2, 1, 0, -1
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = True
    m.normalizer_spec.remove_extra_whitespaces = True
    m.normalizer_spec.escape_whitespaces = True
    return m.SerializeToString()


def synth_float():
    """Scores that are exact in float around the running sum (<unk> is -12, "▁" -2): "ab" ties with
    "a" + "b" in float arithmetic (sentencepiece 0.2.3 sums in float), not in double."""
    m = pb.ModelProto()
    S = pb.ModelProto.SentencePiece
    for p, s, t in [("<pad>", 0, S.CONTROL), ("</s>", 0, S.CONTROL), ("<unk>", 0, S.UNKNOWN)]:
        m.pieces.add(piece=p, score=s, type=t)
    for p, s in [("▁", -2.0), ("ab", 1.0), ("a", 1.0), ("b", 2.0 ** -25), ("cd", 1.0), ("c", 1.0 + 2.0 ** -23),
                 ("d", -2.0 ** -25), ("e", -1.0)]:
        m.pieces.add(piece=p, score=s, type=S.NORMAL)
    m.normalizer_spec.name = "identity"
    return m.SerializeToString()


def synth_positive():
    """A NORMAL piece scores above 0 (before sentencepiece 0.2.3 user-defined pieces then scored length * it - 0.1)."""
    m = pb.ModelProto.FromString(synth_model(None))
    for p in m.pieces:
        if p.piece == "▁dog":
            p.score = 0.75
    return m.SerializeToString()


# protobuf fields appended to a spiece.model (merged into what is there)
def varint(n):
    out = b""
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wire, payload):
    tag = varint(num << 3 | wire)
    if wire == 0:
        return tag + varint(payload)
    if wire == 2:
        return tag + varint(len(payload)) + payload
    if wire == 5:
        return tag + payload
    raise ValueError(wire)


def normalizer(**kw):
    nums = {"precompiled_charsmap": 2, "add_dummy_prefix": 3, "remove_extra_whitespaces": 4, "escape_whitespaces": 5}
    body = b""
    for k, v in kw.items():
        body += field(nums[k], 2, v) if isinstance(v, bytes) else field(nums[k], 0, int(v))
    return field(3, 2, body)


def trainer(**kw):
    nums = {"model_type": 3, "treat_whitespace_as_suffix": 24, "byte_fallback": 35}
    return field(2, 2, b"".join(field(nums[k], 0, v) for k, v in kw.items()))


def piece(p, score, kind):
    return field(1, 2, field(1, 2, p.encode()) + field(2, 5, struct.pack("<f", score)) + field(3, 0, kind))


NORMAL, UNKNOWN, CONTROL, USER, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# ------------------------------------------------------------------ folders

HUB_CONFIG = """{
  "added_tokens_decoder": {
    "1": {
      "content": "</s>",
      "lstrip": true,
      "normalized": false,
      "rstrip": true,
      "single_word": false,
      "special": true
    },
    "2": {
      "content": "<unk>",
      "lstrip": true,
      "normalized": false,
      "rstrip": true,
      "single_word": false,
      "special": true
    }
  },
  "additional_special_tokens": [],
  "clean_up_tokenization_spaces": true,
  "do_lower_case": true,
  "eos_token": "</s>",
  "model_input_names": [
    "input_ids"
  ],
  "model_max_length": 64,
  "pad_token": "</s>",
  "processor_class": "SiglipProcessor",
  "sp_model_kwargs": {},
  "tokenizer_class": "SiglipTokenizer",
  "unk_token": "<unk>"
}
"""

HUB_MAP = """{
  "eos_token": {
    "content": "</s>",
    "lstrip": true,
    "normalized": false,
    "rstrip": true,
    "single_word": false
  },
  "pad_token": {
    "content": "</s>",
    "lstrip": true,
    "normalized": false,
    "rstrip": true,
    "single_word": false
  },
  "unk_token": {
    "content": "<unk>",
    "lstrip": true,
    "normalized": false,
    "rstrip": true,
    "single_word": false
  }
}
"""


def hub_config(**edits):
    c = json.loads(HUB_CONFIG)
    for k, v in edits.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=2, ensure_ascii=False) + "\n"


def saved_files(model_path, **kw):
    """What SiglipTokenizer(...).save_pretrained writes (transformers 5)."""
    with tempfile.TemporaryDirectory() as d:
        tok = SiglipTokenizer(vocab_file=model_path, **{k: v for k, v in kw.items() if k != "add"})
        if "add" in kw:
            tok.add_tokens(kw["add"])
        tok.save_pretrained(d)
        return {f: open(os.path.join(d, f), encoding="utf-8").read() for f in sorted(os.listdir(d))
                if f != "spiece.model"}


def folders(models):
    t5 = os.path.join(models, "t5", "spiece.model")
    sp = spm.SentencePieceProcessor(model_file=t5)

    def absent(*ps):  # pieces appended must not be there (sentencepiece refuses a repeated one)
        for p in ps:
            assert sp.piece_to_id(p) == sp.unk_id() and p != "<unk>", p
        return b""

    def dec_id(content, fresh):  # the id transformers gives an added token: the piece's, else a new one
        i = sp.piece_to_id(content)
        return i if sp.id_to_piece(i) == content else fresh

    v5 = saved_files(t5)
    specials = saved_files(t5, additional_special_tokens=["<extra_id_0>", "<extra_id_1>", "<extra_id_10>", "<image>"],
                           mask_token="<mask>", bos_token="<s>",
                           add=[AddedToken("NegLabel", single_word=True, normalized=True),
                                AddedToken("New York", lstrip=True, rstrip=True), "▁dog",
                                AddedToken("image")])  # inside <image>: Trie.split's lookahead
    cfg_specials = json.loads(specials["tokenizer_config.json"])
    legacy_cfg = {k: v for k, v in cfg_specials.items() if k not in ("added_tokens_decoder", "extra_special_tokens")}
    legacy_cfg["additional_special_tokens"] = ["<extra_id_0>", "<image>"]
    F = {
        "hub": {"model": "t5", "files": {"tokenizer_config.json": HUB_CONFIG, "special_tokens_map.json": HUB_MAP}},
        "v5": {"model": "t5", "files": v5},
        "bare": {"model": "t5", "files": {}},
        "map-only": {"model": "t5", "files": {"special_tokens_map.json": HUB_MAP}},
        "no-lower": {"model": "t5", "files": {"tokenizer_config.json": hub_config(do_lower_case=False)}},
        "legacy-false": {"model": "t5", "files": {"tokenizer_config.json": hub_config(legacy=False)}},
        "split-special": {"model": "t5", "files": {"tokenizer_config.json": hub_config(split_special_tokens=True)}},
        "specials": {"model": "t5", "files": specials},
        "specials-legacy": {"model": "t5", "files": {
            "tokenizer_config.json": json.dumps(legacy_cfg, indent=2) + "\n",
            "added_tokens.json": json.dumps({"NegLabel": 1510, "<mask>": 1502, "<s>": 1500}) + "\n",
            "special_tokens_map.json": json.dumps({
                "extra_special_tokens": [{"content": "<extra_id_1>", "lstrip": False, "rstrip": False,
                                          "normalized": False, "single_word": False}],
                "image_token": "<image>", "mask_token": {"content": "<mask>", "lstrip": True, "rstrip": False,
                                                         "normalized": False, "single_word": False}}) + "\n"}},
        "tokenizer-json": {"model": "t5", "files": {
            "tokenizer_config.json": hub_config(added_tokens_decoder=None, additional_special_tokens=["<image>"]),
            "tokenizer.json": json.dumps({"version": "1.0", "added_tokens": [
                {"id": 1, "content": "</s>", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True},
                {"id": 1500, "content": "<image>", "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True},
                {"id": 1501, "content": "Photo", "single_word": True, "lstrip": False, "rstrip": False,
                 "normalized": True, "special": False}]}) + "\n"}},
        "single-word": {"model": "t5", "files": {"tokenizer_config.json": hub_config(added_tokens_decoder={
            "1": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": True,
                  "special": True},
            "2": {"content": "<unk>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False,
                  "special": True},
            "1500": {"content": "<mask>", "lstrip": False, "normalized": False, "rstrip": True, "single_word": True,
                     "special": True},
            str(dec_id("photo", 1501)): {"content": "photo", "lstrip": False, "normalized": True, "rstrip": False, "single_word": True,
                     "special": False}}, mask_token="<mask>")}},
        "no-dummy": {"model": "t5", "append": normalizer(add_dummy_prefix=False), "ref": "hub",
                     "files": {"tokenizer_config.json": HUB_CONFIG}},
        "keep-spaces": {"model": "t5", "append": normalizer(remove_extra_whitespaces=False),
                        "files": {"tokenizer_config.json": HUB_CONFIG}},
        "keep-spaces-no-lower": {"model": "t5", "append": normalizer(remove_extra_whitespaces=False),
                                 "files": {"tokenizer_config.json": hub_config(do_lower_case=False)}},
        "no-escape": {"model": "t5", "append": normalizer(escape_whitespaces=False),
                      "files": {"tokenizer_config.json": HUB_CONFIG}},
        "suffix": {"model": "t5", "append": trainer(treat_whitespace_as_suffix=1),
                   "files": {"tokenizer_config.json": HUB_CONFIG}},
        "identity": {"model": "t5", "append": normalizer(precompiled_charsmap=b""),
                     "files": {"tokenizer_config.json": HUB_CONFIG}},
        "old-self-test": {"model": "t5", "append": field(4, 2, b"\xff\xff\xff\x07"),
                          "files": {"tokenizer_config.json": HUB_CONFIG}},
        "merged-specs": {"model": "t5", "append": normalizer(add_dummy_prefix=False) + trainer(model_type=99) +
                         normalizer(add_dummy_prefix=True, remove_extra_whitespaces=False),
                         "files": {"tokenizer_config.json": HUB_CONFIG}},
        "user-defined": {"model": "t5", "append": absent("photo of", "NegLabel", "▁zq", "😀", "qz", "ＮＥＧ", "ﬁ",
                                                         "e\u0301") +
                         piece("photo of", 0.0, USER) + piece("NegLabel", 0.0, USER) +
                         piece("▁zq", 0.0, USER) + piece("😀", -50.0, USER) + piece("qz", 0.0, USER) +
                         # kept whole by the normalizer, which would change them (NFKC)
                         piece("ＮＥＧ", 0.0, USER) + piece("ﬁ", 0.0, USER) + piece("e\u0301", 0.0, USER),
                         "files": {"tokenizer_config.json": hub_config(do_lower_case=False)}},
        "unused-control": {"model": "t5", "append": absent("▁photographic", "ᚠ") +
                           piece("▁photographic", 10.0, UNUSED) + piece("▁cat", 0.0, CONTROL) +
                           piece("ᚠ", 5.0, UNUSED) + piece("</s>", -1.0, NORMAL),
                           # <mask> takes len(tokenizer): the 1,502 pieces hold 1,500 strings
                           "files": {"tokenizer_config.json": hub_config(mask_token="<mask>")}},
        "plain": {"model": "plain", "files": {"tokenizer_config.json": hub_config(do_lower_case=False)}},
        "plain-lower": {"model": "plain", "files": {}},
        "bytes": {"model": "bytes", "files": {"tokenizer_config.json": HUB_CONFIG}},
        "synth": {"model": "synth", "files": {"tokenizer_config.json": HUB_CONFIG}},
        "synth-positive": {"model": "synth-positive", "files": {"tokenizer_config.json": HUB_CONFIG}},
        "synth-float": {"model": "synth-float", "files": {"tokenizer_config.json": HUB_CONFIG}},
        "synth-keep": {"model": "synth", "append": normalizer(remove_extra_whitespaces=False, add_dummy_prefix=False),
                       "files": {"tokenizer_config.json": hub_config(legacy=False, do_lower_case=False)}},
    }
    for name, spec in F.items():
        spec.setdefault("ref", "hub" if name != "hub" and spec["model"] == "t5" else None)
    return F


# refused folders: what transformers does with each
REFUSALS = {
    "bpe": {"model": "t5", "append": trainer(model_type=2), "files": {"tokenizer_config.json": HUB_CONFIG}},
    "char": {"model": "t5", "append": trainer(model_type=4), "files": {}},
    "byte-fallback-no-bytes": {"model": "t5", "append": trainer(byte_fallback=1), "files": {}},
    "byte-piece-no-fallback": {"model": "t5", "append": piece("<0x41>", 0.0, BYTE), "files": {}},
    "two-unk": {"model": "t5", "append": piece("<unk2>", 0.0, UNKNOWN), "files": {}},
    "duplicate-piece": {"model": "t5", "append": piece("▁cat", 0.0, NORMAL), "files": {}},
    "empty-piece": {"model": "t5", "append": piece("", 0.0, NORMAL), "files": {}},
    "truncated": {"model": "t5", "truncate": 1000, "files": {}},
    "garbage": {"model": "t5", "replace": "this is not a protobuf\n", "files": {}},
    "broken-charsmap": {"model": "t5", "append": normalizer(precompiled_charsmap=b"\x10\x00\x00\x00abc"), "files": {}},
    "class": {"model": "t5", "files": {"tokenizer_config.json": hub_config(tokenizer_class="T5Tokenizer")}},
    "sp-kwargs": {"model": "t5", "files": {"tokenizer_config.json": hub_config(sp_model_kwargs={"enable_sampling": True,
                                                                                               "alpha": 0.1,
                                                                                               "nbest_size": -1})}},
    "tokenizer-model": {"model": "t5", "files": {"tokenizer_config.json": HUB_CONFIG}, "copy": "tokenizer.model"},
    "bad-config": {"model": "t5", "files": {"tokenizer_config.json": "{\"do_lower_case\": tru"}},
    "decoder-string": {"model": "t5", "files": {"tokenizer_config.json": hub_config(added_tokens_decoder={"1": "</s>"})}},
    "decoder-wrong-id": {"model": "t5", "files": {"tokenizer_config.json": hub_config(added_tokens_decoder={
        "5": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
              "special": True}})}},
    "unk-null": {"model": "t5", "files": {"tokenizer_config.json": hub_config(unk_token=None) .replace(
        '"sp_model_kwargs"', '"unk_token": null,\n  "sp_model_kwargs"')}},
    "eos-null": {"model": "t5", "files": {"tokenizer_config.json": hub_config(eos_token=None).replace(
        '"sp_model_kwargs"', '"eos_token": null,\n  "sp_model_kwargs"')}},
    "nan-score": {"model": "t5", "append": piece("nan", float("nan"), NORMAL), "files": {}},
    "eos-number": {"model": "t5", "files": {"tokenizer_config.json": hub_config(eos_token=5)}},
}


# the model's config.json, for AutoTokenizer to pick SiglipTokenizer (neglabel reads it elsewhere)
CONFIG_JSON = '{"model_type": "siglip"}\n'


def write_folder(spec, models, d):
    os.makedirs(d, exist_ok=True)
    data = open(os.path.join(models, spec["model"], "spiece.model"), "rb").read()
    if "truncate" in spec:
        data = data[:spec["truncate"]]
    if "replace" in spec:
        data = spec["replace"].encode()
    data += spec.get("append", b"")
    open(os.path.join(d, "spiece.model"), "wb").write(data)
    for name, text in {"config.json": CONFIG_JSON, **spec["files"]}.items():
        open(os.path.join(d, name), "w", encoding="utf-8").write(text)
    if spec.get("copy"):
        open(os.path.join(d, spec["copy"]), "wb").write(data)


def sigma_patterns(chunk):
    return "".join("A%sΣ|" % chr(c) + "|%sΣ|" % chr(c) + "AΣ%s|" % chr(c) + "AΣ%sA|" % chr(c) for c in chunk)


def unicode_section(models, hub_dir):
    chunks = [list(map(ord, c)) for c in gen_wordpiece.chunks()]
    sp_t5 = spm.SentencePieceProcessor(model_file=os.path.join(models, "t5", "spiece.model"))
    sp_plain = spm.SentencePieceProcessor(model_file=os.path.join(models, "plain", "spiece.model"))
    tok = AutoTokenizer.from_pretrained(hub_dir)
    fnv = gen_wordpiece.fnv1a
    out = {"chunk": gen_wordpiece.CHUNK, "canon_lower": [], "canon": [], "normalize_t5": [], "normalize_plain": [], "ids_hub": []}
    for ch in chunks:
        text = "".join(map(chr, ch))
        pat = sigma_patterns(ch)
        tok.do_lower_case = True
        out["canon_lower"].append(fnv(tok.canonicalize_text(pat).encode()))
        tok.do_lower_case = False
        out["canon"].append(fnv(tok.canonicalize_text(pat).encode()))
        tok.do_lower_case = True
        out["normalize_t5"].append(fnv(sp_t5.normalize(text).encode()))
        out["normalize_plain"].append(fnv(sp_plain.normalize(text).encode()))
        ids = tok(text)["input_ids"]
        out["ids_hub"].append(fnv(struct.pack("<%di" % len(ids), *ids)))
    return out


def tables():
    """Where Python's Case_Ignorable and Cased (for final sigma) differ from
    utf8proc's categories as spm_text.c reads them: C arrays to paste."""
    u = ctypes.CDLL("libutf8proc.so.2")
    u.utf8proc_category.restype = ctypes.c_int
    u.utf8proc_tolower.restype = ctypes.c_int32
    mid = {0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55,
           0xFF07, 0xFF0E, 0xFF1A}
    ign_flip, cased_flip, lower_diff = [], [], []
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        ch = chr(c)
        p1 = ("A" + ch + "Σ|").lower()[-2] == "ς"
        p2 = ("|" + ch + "Σ|").lower()[-2] == "ς"
        ign, cased = p1 and not p2, p2
        cat = u.utf8proc_category(c)
        if ign != (cat in (6, 8, 27, 4, 21) or c in mid):  # Mn Me Cf Lm Sk
            ign_flip.append(c)
        if not ign and cased != (cat in (1, 2, 3)):  # Lu Ll Lt
            cased_flip.append(c)
        if c not in (0x130,) and ch.lower() != chr(u.utf8proc_tolower(c)):
            lower_diff.append(c)

    def ranges(cs):
        return ", ".join("{0x%04X, 0x%04X}" % tuple(r) for r in gen_wordpiece.ranges(cs))

    print("static const uint32_t IGNORABLE_FLIP[][2] = {%s};" % ranges(ign_flip))
    print("static const uint32_t CASED_FLIP[][2] = {%s};" % ranges(cased_flip))
    print("/* lowercase mappings that differ from utf8proc_tolower (besides U+0130): %d */" % len(lower_diff))
    spaces = [c for c in range(0x110000) if chr(c).isspace()]
    print("/* str.isspace(): %s */" % " ".join("%X" % c for c in spaces))


def main():
    if sys.argv[1:] == ["--tables"]:
        tables()
        return
    shared, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for path in sorted(glob.glob(os.path.join(shared, "neglabel-reference", "txtfiles", "*.txt"))):
                for line in open(path, encoding="utf-8"):
                    f.write(line.strip().replace("_", " ") + "\n")
            for p in prompts(shared):
                f.write(p + "\n")
            for _ in range(30):
                for line in MULTILINGUAL:
                    f.write(line + "\n")
        common = dict(pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.9995)
        built = {
            "t5": train(corpus, os.path.join(tmp, "t5"), vocab_size=1500, normalization_rule_name="nmt_nfkc", **common),
            "plain": train(corpus, os.path.join(tmp, "plain"), vocab_size=600, normalization_rule_name="identity",
                           user_defined_symbols=["NegLabel", "a photo", "<sep>", "😀"], control_symbols=["<ctl>"],
                           **common),
            "bytes": train(corpus, os.path.join(tmp, "bytes"), vocab_size=500, normalization_rule_name="identity",
                           byte_fallback=True, split_digits=True, **common),
        }
    built["synth"] = synth_model(None)
    built["synth-positive"] = synth_positive()
    built["synth-float"] = synth_float()
    for name, data in built.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        open(os.path.join(out, name, "spiece.model"), "wb").write(data)
    texts = TEXTS + prompts(shared) + random_texts(1, 120)
    F = folders(out)
    golden = {"config.json": CONFIG_JSON, "transformers": transformers.__version__, "sentencepiece": spm.__version__,
              "protobuf": google.protobuf.__version__, "python": sys.version.split()[0], "texts": texts,
              "folders": {}, "ids": {}, "refusals": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in F.items():
            d = os.path.join(tmp, name)
            write_folder(spec, out, d)
            tok = AutoTokenizer.from_pretrained(d)
            assert type(tok).__name__ == "SiglipTokenizer", (name, type(tok))
            ids = [tok(t)["input_ids"] for t in texts]
            if spec["ref"]:
                ids = [None if a == b else a for a, b in zip(ids, golden["ids"][spec["ref"]])]
            golden["ids"][name] = ids
            golden["folders"][name] = {"model": spec["model"], "append": spec.get("append", b"").hex(),
                                       "files": spec["files"], "ref": spec["ref"],
                                       "vocab": max([tok.vocab_size - 1] + list(tok.added_tokens_decoder)) + 1,
                                       "eos": tok.eos_token_id, "pad": tok.pad_token_id}
        for name, spec in REFUSALS.items():
            d = os.path.join(tmp, "refused-" + name)
            write_folder(spec, out, d)
            try:
                tok = AutoTokenizer.from_pretrained(d)
            except Exception as e:  # noqa: BLE001 - any failure is what we record
                what = "fails: %s" % type(e).__name__
            else:
                try:
                    ids = tok("a photo of a dog")["input_ids"]
                    what = "loads" if all(isinstance(i, int) for i in ids) else "gives ids %r" % ids
                except Exception as e:  # noqa: BLE001
                    what = "loads, encoding fails: %s" % type(e).__name__
            golden["refusals"][name] = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in spec.items()}
            golden["refusals"][name]["transformers"] = what
        hub = os.path.join(tmp, "hub")
        golden["unicode"] = unicode_section(out, hub)
    with open(os.path.join(out, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
