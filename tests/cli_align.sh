# cli_align.sh — ALIGN (transformers' AlignModel, model_type "align"), one
# of the other vision-language models of the NegLabel paper: kakaobrain's
# EfficientNet vision tower and BERT text tower with its uncased WordPiece
# tokenizer. A Hugging Face folder of it is read as it is: its texts
# tokenize to transformers' ids (accents stripped, CJK characters split,
# [UNK] for a word with an unknown character, [MASK] in the text, a long
# one cut to the model's 24 tokens with [SEP] last), from tokenizer.json or
# from vocab.txt alone; its image embeddings (EfficientNetImageProcessor:
# resize, odd centre crop, rescale with offset; or normalize and
# include_top) and text embeddings equal transformers' (float64) within
# 1e-5 ||g||, mean and max pooling; the weights read with or without
# BatchNorm's num_batches_tracked and the text embeddings' position_ids /
# token_type_ids buffers; the NegLabel pipeline runs on it; bf16 is
# refused by name (where the CPU has it: elsewhere --precision bf16 never
# reaches the model); configs transformers could not run are refused, and
# hidden_act relu (transformers runs it; neglabel has swish only).
# Golden: tests/data/align (tests/gen/gen_align.py: random weights and
# BatchNorm statistics, a WordPiece trained there, Pillow image processor,
# float64).
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (it compares the embeddings)"; exit 77; }
G=$SRC/tests/data/align
IMG=$SHARED/fixtures/images
M=$TMP/align
mkdir -p "$M"
cp "$G/config.json" "$G/model.safetensors" "$G/preprocessor_config.json" "$G/tokenizer.json" \
  "$G/tokenizer_config.json" "$G/vocab.txt" "$M/"

nl info --no-cache --model "$M" >"$TMP/info.json" 2>"$TMP/err"; rc=$?
check "info (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "info: architecture ALIGN, EfficientNet and BERT towers, WordPiece tokenizer" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
t, v = i["text"], i["vision"]
assert i["architecture"] == "ALIGN", i["architecture"]
assert (t["hidden_size"], t["num_hidden_layers"], t["hidden_act"], t["pad_token_id"]) == (32, 2, "gelu", 0), t
assert (t["max_position_embeddings"], t["vocab_size"], t["type_vocab_size"]) == (24, 1500, 2), t
assert (v["blocks"], v["hidden_size"], v["hidden_dim"], v["pooling_type"]) == (6, 24, 12, "mean"), v
assert v["image_size"] == 65, v  # the crop; config.json says 289, which transformers never reads
assert i["projection_dim"] == 24 and "WordPiece" in i["tokenizer"], i
' "$TMP/info.json"

# tokenize: transformers' ids (those not cut: tokenize does not truncate)
ids_golden "tokenizer.json" "$G/golden.json" "$M" 24

golden_inputs "$G/golden.json"
embed_golden "$G/golden.json" images 1e-5 "$TMP/img.jsonl" "image embeddings" --model "$M" "${args[@]}"
embed_golden "$G/golden.json" texts 1e-5 "$TMP/txt.jsonl" "text embeddings, the long text cut" --model "$M" "${targs[@]}"
# one text alone gives the bits a batch gives (no padding in it); so does
# one image; so do 1 and 2 threads
nl embed -q --no-cache --model "$M" --text "a photo of a dog." >"$TMP/one.jsonl"
grep '"a photo of a dog\."' "$TMP/txt.jsonl" >"$TMP/batch-one.jsonl"
check "a text alone: the same embedding as in a batch" cmp -s "$TMP/one.jsonl" "$TMP/batch-one.jsonl"
nl embed -q --no-cache --model "$M" --image "$IMG/dog.jpg" >"$TMP/one-img.jsonl"
grep '/dog.jpg"' "$TMP/img.jsonl" >"$TMP/batch-one-img.jsonl"
check "an image alone: the same embedding as in a batch" cmp -s "$TMP/one-img.jsonl" "$TMP/batch-one-img.jsonl"
nl embed -q --no-cache --threads 1 --model "$M" "${targs[@]}" >"$TMP/t1.jsonl"
check "1 thread: the same text embeddings as all" cmp -s "$TMP/t1.jsonl" "$TMP/txt.jsonl"

# the tokenizer from vocab.txt alone (kakaobrain/align-base has no
# tokenizer.json: BertTokenizer's defaults, lower case, accents stripped),
# or from tokenizer.json alone: the same ids and embeddings
mkdir -p "$TMP/vocab" "$TMP/tokjson"
cp "$M"/* "$TMP/vocab/" && rm "$TMP/vocab/tokenizer.json"
cp "$M"/* "$TMP/tokjson/" && rm "$TMP/tokjson/vocab.txt" "$TMP/tokjson/tokenizer_config.json"
for v in vocab tokjson; do
  ids_golden "$v" "$G/golden.json" "$TMP/$v" 24
  nl embed -q --no-cache --model "$TMP/$v" "${targs[@]}" >"$TMP/$v.jsonl" 2>"$TMP/err"; rc=$?
  check "$v: embed (rc=$rc: $(tail -1 "$TMP/err"))" test $rc -eq 0
  check "$v: the same text embeddings" cmp -s "$TMP/$v.jsonl" "$TMP/txt.jsonl"
done

# the other image processor settings: bicubic, x / 255, (x - mean) / std,
# then / std again (include_top); and max pooling
mkdir -p "$TMP/norm" "$TMP/max"
cp "$M"/* "$TMP/norm/" && cp "$G/preprocessor_normalize.json" "$TMP/norm/preprocessor_config.json"
embed_golden "$G/golden.json" images_normalize 1e-5 "$TMP/img-norm.jsonl" "normalize, include_top: image embeddings" \
  --model "$TMP/norm" "${args[@]}"
cp "$M"/* "$TMP/max/" && jq '.vision_config.pooling_type = "max"' "$M/config.json" >"$TMP/max/config.json"
embed_golden "$G/golden.json" images_max 1e-5 "$TMP/img-max.jsonl" "max pooling: image embeddings" \
  --model "$TMP/max" "${args[@]}"

# the weights: as transformers 5's save_pretrained writes them (BatchNorm's
# num_batches_tracked, int64, kept; the text embeddings' position_ids and
# token_type_ids buffers not), without num_batches_tracked, and with the
# two int64 buffers older savers kept: the same model
tensors() { # tensors OUT MODE: a copy of the model, its model.safetensors rewritten
  mkdir -p "$1" && cp "$M"/*.json "$M/vocab.txt" "$1/" && python3 - "$M/model.safetensors" "$@" <<'PY'
import json, struct, sys
src, out, mode = sys.argv[1:4]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
body = raw[8 + n:]
new, data = {}, b""
for k, v in h.items():
    if k == "__metadata__":
        new[k] = v
        continue
    if mode == "stripped" and k.endswith(".num_batches_tracked"):
        continue
    a, b = v["data_offsets"]
    new[k] = dict(v, data_offsets=[len(data), len(data) + b - a])
    data += body[a:b]
if mode == "legacy":
    for k, vals in (("position_ids", range(24)), ("token_type_ids", [0] * 24)):
        new["text_model.embeddings." + k] = {"dtype": "I64", "shape": [1, 24],
                                             "data_offsets": [len(data), len(data) + 8 * 24]}
        data += struct.pack("<24q", *vals)
b = json.dumps(new).encode()
open(out + "/model.safetensors", "wb").write(struct.pack("<Q", len(b)) + b + data)
PY
}
tensors "$TMP/stripped" stripped
tensors "$TMP/legacy" legacy
nl embed -q --no-cache --model "$M" "${targs[@]}" "${args[@]}" >"$TMP/ref.jsonl"
for v in stripped legacy; do
  nl embed -q --no-cache --model "$TMP/$v" "${targs[@]}" "${args[@]}" >"$TMP/$v.jsonl" 2>"$TMP/err"; rc=$?
  check "$v weights (rc=$rc: $(tail -1 "$TMP/err"))" test $rc -eq 0
  check "$v weights: the same embeddings" cmp -s "$TMP/$v.jsonl" "$TMP/ref.jsonl"
done

# NegLabel end to end: mine negatives, score images
mine_and_score "$M" "$IMG/dog.jpg" "$IMG/horses.jpg"

# bf16 is refused by name (where this CPU has native bf16; elsewhere the
# precision falls back to fp32 before the model sees it)
bf16_refused ALIGN "$M"
# configs transformers could not run (or, hidden_act relu, one it runs but
# neglabel does not), refused by name
# 64 * 0.55 rounds to 36 channels: the image embedding's width, not the
# text's 24 (transformers' get_image_features runs, AlignModel.forward not)
# align-base's own config lists no depthwise_padding: an empty list is read
mkdir -p "$TMP/nopad" && cp "$M"/* "$TMP/nopad/"
jq '.vision_config.depthwise_padding = []' "$M/config.json" >"$TMP/nopad/config.json"
nl info --no-cache --model "$TMP/nopad" >/dev/null 2>"$TMP/err"; rc=$?
check "depthwise_padding [] read (rc=$rc: $(tail -1 "$TMP/err"))" test $rc -eq 0
bad_config "last stage's channels against projection_dim" "projection_dim" '.vision_config.out_channels[3] = 64' "$M"
bad_config "stages that do not chain" "in_channels" '.vision_config.in_channels[1] = 40' "$M"
# the last feature map is 8 x 8 for 65-pixel crops: AvgPool2d(7, ceil_mode)
# leaves 2 x 2, which transformers' reshape to (batch, channels) rejects
bad_config "hidden_dim under the last feature map" "hidden_dim" '.vision_config.hidden_dim = 7' "$M"
bad_config "pooling_type bogus" "pooling_type" '.vision_config.pooling_type = "bogus"' "$M"
bad_config "hidden_act relu" "hidden_act" '.vision_config.hidden_act = "relu"' "$M"
# 12,000-pixel crops over these small weights (and a pooling window to
# match): the stem's map of one image would hold 6,000 x 6,000 x 27 floats
# (its im2col), 927 Mi: refused before any allocation
mkdir -p "$TMP/huge" && cp "$M"/* "$TMP/huge/"
jq '.vision_config.hidden_dim = 4096' "$M/config.json" >"$TMP/huge/config.json"
jq '.size = {"height": 12000, "width": 12000} | .crop_size = {"height": 12000, "width": 12000}' \
  "$M/preprocessor_config.json" >"$TMP/huge/preprocessor_config.json"
expect_fail "12,000-pixel images refused" "too large for it" "$BIN" info --no-cache --model "$TMP/huge"
rm -f "$TMP/vocab/vocab.txt"
expect_fail "neither tokenizer.json nor vocab.txt" "tokenizer\.json|vocab\.txt" \
  "$BIN" info --no-cache --model "$TMP/vocab"
rm -f "$M/preprocessor_config.json"
expect_fail "no preprocessor_config.json" "preprocessor_config\.json" "$BIN" info --no-cache --model "$M"
finish
