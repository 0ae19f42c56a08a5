# cli_siglip.sh — SigLIP (transformers' SiglipModel, model_type "siglip":
# google/siglip-*): a ViT without class token or pre-LayerNorm pooled by
# its attention-pooling head, a bidirectional text tower pooled at the last
# of its positions, and SiglipTokenizer over T5's SentencePiece model. A
# Hugging Face folder of it is read as it is: its texts tokenize to
# transformers' ids (lower case, punctuation removed, </s> in the text, a
# long one cut to the model's 16 positions with </s> last); its image
# embeddings (SiglipImageProcessor: both sides resized, bicubic or
# bilinear) and text embeddings (padded to the context with the pad token,
# no attention mask: as SigLIP was trained) equal transformers' (float64)
# within 1e-5 ||g||; a text or an image alone gives the bits of a batch;
# the NegLabel pipeline runs on it; bf16 on the CPU (where it has native
# bf16) stays within 2e-2 of them; configs it could not run as transformers
# does are refused.
# Golden: tests/data/siglip (tests/gen/gen_siglip.py: random weights,
# Pillow image processor, float64), tokenizer tests/data/spm/t5.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (it compares the embeddings)"; exit 77; }
G=$SRC/tests/data/siglip
IMG=$SHARED/fixtures/images
M=$TMP/siglip
mkdir -p "$M"
cp "$G/config.json" "$G/model.safetensors" "$G/preprocessor_config.json" "$SRC"/tests/data/spm/t5/* "$M/"

nl info --no-cache --model "$M" >"$TMP/info.json" 2>"$TMP/err"; rc=$?
check "info (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "info: architecture SigLIP, its towers, SentencePiece tokenizer, squash resize" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
t, v = i["text"], i["vision"]
assert i["architecture"] == "SigLIP", i["architecture"]
assert (t["hidden_size"], t["num_hidden_layers"], t["hidden_act"], t["pad_token_id"]) == (32, 2, "gelu_pytorch_tanh", 1), t
assert (t["max_position_embeddings"], v["image_size"], v["patch_size"], v["hidden_act"]) == (16, 64, 16, "gelu_pytorch_tanh"), (t, v)
assert i["projection_dim"] == 32 and "spiece.model" in i["tokenizer"], i
assert (i["resize_mode"], i["image_mean"], i["image_std"], i["resample"]) == ("squash", [0.5] * 3, [0.5] * 3, "bicubic"), i
' "$TMP/info.json"

# tokenize: transformers' ids (those not cut: tokenize does not truncate)
ids_golden "spiece.model" "$G/golden.json" "$M" 16

golden_inputs "$G/golden.json"
embed_golden "$G/golden.json" images 1e-5 "$TMP/img.jsonl" "image embeddings" --model "$M" "${args[@]}"
embed_golden "$G/golden.json" texts 1e-5 "$TMP/txt.jsonl" "text embeddings, the long text cut" --model "$M" "${targs[@]}"
mkdir -p "$TMP/bilinear" && cp "$M"/* "$TMP/bilinear/"
jq '.resample = 2' "$M/preprocessor_config.json" >"$TMP/bilinear/preprocessor_config.json"
embed_golden "$G/golden.json" images_bilinear 1e-5 "$TMP/img-bil.jsonl" "bilinear: image embeddings" \
  --model "$TMP/bilinear" "${args[@]}"
# one text alone gives the bits a batch gives; so does one image; so do 1
# and 2 threads
nl embed -q --no-cache --model "$M" --text "a photo of a dog." >"$TMP/one.jsonl"
grep '"a photo of a dog\."' "$TMP/txt.jsonl" >"$TMP/batch-one.jsonl"
check "a text alone: the same embedding as in a batch" cmp -s "$TMP/one.jsonl" "$TMP/batch-one.jsonl"
nl embed -q --no-cache --model "$M" --image "$IMG/dog.jpg" >"$TMP/one-img.jsonl"
grep '/dog.jpg"' "$TMP/img.jsonl" >"$TMP/batch-one-img.jsonl"
check "an image alone: the same embedding as in a batch" cmp -s "$TMP/one-img.jsonl" "$TMP/batch-one-img.jsonl"
nl embed -q --no-cache --threads 1 --model "$M" "${targs[@]}" "${args[@]}" >"$TMP/t1.jsonl"
cat "$TMP/txt.jsonl" "$TMP/img.jsonl" >"$TMP/t2.jsonl"
check "1 thread: the same embeddings as all" cmp -s "$TMP/t1.jsonl" "$TMP/t2.jsonl"

# the checkpoint without logit_bias (not needed: softmax scores ignore it)
python3 - "$M/model.safetensors" "$TMP/nobias" <<'PY'
import json, os, shutil, struct, sys
src, out = sys.argv[1:3]
os.makedirs(out)
for f in os.listdir(os.path.dirname(src)):
    if f != "model.safetensors":
        shutil.copy(os.path.join(os.path.dirname(src), f), out)
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
del h["logit_bias"]
b = json.dumps(h).encode()
open(out + "/model.safetensors", "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PY
nl embed -q --no-cache --model "$TMP/nobias" "${targs[@]}" >"$TMP/nobias.jsonl" 2>"$TMP/err"; rc=$?
check "without logit_bias (rc=$rc: $(tail -1 "$TMP/err"))" cmp -s "$TMP/nobias.jsonl" "$TMP/txt.jsonl"

# NegLabel end to end: mine negatives, score images
mine_and_score "$M" "$IMG/dog.jpg" "$IMG/horses.jpg"

# bf16 on the CPU (where it has native bf16): the linear layers and
# attention products in bf16, the head and LayerNorms in float32; within
# 2e-2 ||g|| of transformers' float64 (measured 5.8e-4 to 6.5e-3)
bf16_golden "$G/golden.json" "$M" 2e-2
# configs transformers could not run, or whose embeddings differ from what
# neglabel computes, refused by name
bad_config "SigLIP 2 refused by name" "siglip2" '.model_type = "siglip2"' "$M"
bad_config "no attention-pooling head" "vision_use_head" '.vision_config.vision_use_head = false' "$M"
bad_config "text head's width against the image embedding's" "projection_size 24" \
  '.text_config.projection_size = 24' "$M"
bad_config "hidden_act bogus" "hidden_act 'bogus'" '.vision_config.hidden_act = "bogus"' "$M"
bad_config "pad_token_id against the tokenizer's" "pads with id 1" '.text_config.pad_token_id = 0' "$M"
bad_config "positions against the weights" "position_embedding" '.text_config.max_position_embeddings = 17' "$M"
mkdir -p "$TMP/short" && cp "$M"/* "$TMP/short/"
jq '.size = {"shortest_edge": 64}' "$M/preprocessor_config.json" >"$TMP/short/preprocessor_config.json"
expect_fail "a shorter-side resize refused" "resizes both sides" "$BIN" info --no-cache --model "$TMP/short"
rm -f "$M/spiece.model"
expect_fail "no spiece.model" "spiece\.model" "$BIN" info --no-cache --model "$M"
finish
