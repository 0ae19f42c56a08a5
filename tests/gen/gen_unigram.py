#!/usr/bin/env python3
"""Write tests/data/unigram/: SentencePiece Unigram tokenizers in Hugging
Face's tokenizer.json form (the tokenizers of XLM-R, and so of AltCLIP, and
of T5/SigLIP) and the ids Hugging Face `tokenizers` gives for a set of
texts, for tests/test_unigram.c.

A Unigram model of 3,000 pieces is trained here with `sentencepiece` on the
WordNet word lists of shared/neglabel-reference/txtfiles and the lines of
MULTILINGUAL below (normalization rule nmt_nfkc, as XLM-R's: its
precompiled charsmap is the normalizer's table), then built in three
forms with the `tokenizers` Python API, the model laid out
as transformers' XLM-R converter lays it (<s> <pad> </s> <unk>, the pieces,
<mask>; unk_id 3):

- xlmr-2022: what the converter wrote for AltCLIP and XLM-R (normalizer
  Precompiled then Replace(Regex " {2,}", " "); pre-tokenizer Metaspace,
  prepend "always"; TemplateProcessing "<s> $A </s>");
- xlmr-2025: what transformers 5's XLMRobertaTokenizer builds
  (Precompiled alone; WhitespaceSplit then Metaspace "always");
- t5: a T5/SigLIP-style one (Precompiled, Strip right, Replace(Regex
  " {2,}", "▁"); Metaspace prepend "first"; "$A </s>").

tokenizer.json: the xlmr-2022 form (the charsmap makes it 0.5 MB);
golden.json: versions, the texts (TEXTS, then 300 random ones), each
form's normalizer, pre_tokenizer and post_processor (the test writes the
other forms from them; "(tokenizer.json's)" stands for the charsmap) and its ids for every text (special tokens added,
as encode() does by default). Run with sentencepiece, protobuf and tokenizers
importable:

  /path/to/venv/bin/python tests/gen/gen_unigram.py ../shared tests/data/unigram
"""
import glob
import json
import os
import random
import sys
import tempfile

import sentencepiece as spm
import tokenizers
from sentencepiece import sentencepiece_model_pb2 as pb
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

MULTILINGUAL = [
    "a photo of a dog, a photo of a cat, a photo of a goldfish",
    "Ein Foto von einem Hund. Über Äpfel und Öl: schön, süß, groß.",
    "une photo d'un chien, à côté de l'église; œuvre, naïve, façade",
    "una foto de un perro pequeño junto al árbol, señor, niño",
    "фотография собаки, кошки и рыбы в аквариуме",
    "一张狗的照片，一只猫和一条金鱼。图片中的动物",
    "犬の写真、猫の写真、金魚の写真です。カメラで撮った",
    "개의 사진, 고양이의 사진, 금붕어의 사진입니다",
    "صورة كلب وصورة قطة وسمكة ذهبية",
    "कुत्ते की तस्वीर, बिल्ली की तस्वीर, क्षत्रिय, श्री",
    "φωτογραφία ενός σκύλου και μιας γάτας",
    "תמונה של כלב ושל חתול",
    "ภาพถ่ายของสุนัขและแมว",
]

TEXTS = [
    "a photo of a dog.",
    "a photo of a goldfish, a type of fish",
    "This is a photo of a rare anemone.",
    "",
    " ",
    "x",
    "  leading and trailing spaces  ",
    "many     spaces\tand a tab\nand a newline",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ and ﬁ ligatures ① ㍿ ｶﾀｶﾅ",
    "e\u0301cole composed vs \u00e9cole precomposed, A\u030a and \u212b",
    "Ein Foto von einem Hund über Äpfel",
    "一张狗的照片 and 犬の写真 and 개의 사진",
    "कुत्ते की तस्वीर क्षत्रिय",
    "emoji 👍🏽 family 👨\u200d👩\u200d👧 flag 🇫🇷 keycap 1\ufe0f\u20e3",
    "unknown 齉龘靐 龘 and 𠜎𠜱",
    "<s> a photo </s> of a <mask> dog <pad> <unk>",
    "a<mask>b <mask> c",
    "soft\u00adhyphen zero\u200bwidth \u200d joiner",
    "control \x01\x7f chars and \u0085 next line and \u3000 ideographic space",
    "a " * 40,
]


def random_texts(seed, n):
    rng = random.Random(seed)
    pools = ["abcdefghijklmnopqrstuvwxyz", "ABCXYZ ", "     ", "äöüßéèêçñ", "\u0301\u0308\u0327", "一狗猫照片图",
             "犬猫写真カメラ", "개고양이사진", "кошкасобака", "ＡＢＣ１２３", "ﬁﬂ①②", "👍🏽\u200d🇫", ".,;:!?'\"()-",
             "\t\n\u00a0\u2009", "क्षत्रि", "\ufe0f\u20e3"]
    out = []
    for _ in range(n):
        s = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 40)))
        out.append(s)
    return out


def xlmr_vocab(proto):
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p.piece, p.score) for p in proto.pieces[3:]]
    vocab += [("<mask>", 0.0)]
    return vocab


def build(vocab, charsmap, kind):
    tok = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    pre = normalizers.Precompiled(charsmap)
    if kind == "xlmr-2022":
        tok.normalizer = normalizers.Sequence([pre, normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        single = "<s> $A </s>"
    elif kind == "xlmr-2025":
        tok.normalizer = pre
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
        single = "<s> $A </s>"
    else:
        tok.normalizer = normalizers.Sequence(
            [pre, normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), "▁")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        single = "$A </s>"
    ids = {t: i for i, (t, _) in enumerate(vocab)}
    tok.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[(t, ids[t]) for t in ("<s>", "</s>") if t in single])
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>"])
    tok.add_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok


def charsmap_b64(full):
    """The base64 charsmap of a tokenizer.json's Precompiled normalizer (in
    a Sequence or alone)."""
    n = full["normalizer"]
    for m in n.get("normalizers", [n]):
        if m["type"] == "Precompiled":
            return m["precompiled_charsmap"]
    raise ValueError("no Precompiled normalizer")


def main():
    shared, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w") as f:
            for path in sorted(glob.glob(os.path.join(shared, "neglabel-reference", "txtfiles", "*.txt"))):
                for line in open(path, encoding="utf-8"):
                    f.write(line.strip().replace("_", " ") + "\n")
            for _ in range(50):
                for line in MULTILINGUAL:
                    f.write(line + "\n")
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(tmp, "m"), vocab_size=3000,
                                       model_type="unigram", normalization_rule_name="nmt_nfkc",
                                       character_coverage=0.9995, seed_sentencepiece_size=200000,
                                       num_threads=2, minloglevel=2)
        proto = pb.ModelProto()
        proto.ParseFromString(open(os.path.join(tmp, "m.model"), "rb").read())
    vocab = xlmr_vocab(proto)
    charsmap = proto.normalizer_spec.precompiled_charsmap
    texts = TEXTS + random_texts(1, 300)
    golden = {"tokenizers": tokenizers.__version__, "sentencepiece": spm.__version__, "texts": texts,
              "variants": {}, "ids": {}}
    for kind in ("xlmr-2022", "xlmr-2025", "t5"):
        tok = build(vocab, charsmap, kind)
        path = os.path.join(out, "tokenizer.json")
        tok.save(path)
        full = json.load(open(path, encoding="utf-8"))
        golden["variants"][kind] = json.loads(json.dumps(
            {k: full[k] for k in ("normalizer", "pre_tokenizer", "post_processor")}).replace(
            json.dumps(full["model"] and charsmap_b64(full)), '"(tokenizer.json\'s)"'))
        tok = Tokenizer.from_file(path)
        golden["ids"][kind] = [tok.encode(t).ids for t in texts]
    # tokenizer.json is the xlmr-2022 form; the test writes the others from "variants"
    build(vocab, charsmap, "xlmr-2022").save(os.path.join(out, "tokenizer.json"))
    json.dump(golden, open(os.path.join(out, "golden.json"), "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main()
