# cli_altclip.sh — AltCLIP (transformers' AltCLIPModel, model_type
# "altclip"), one of the other vision-language models of the NegLabel
# paper: CLIP's ViT and XLM-R's RoBERTa text tower with its SentencePiece
# Unigram tokenizer (tokenizer.json). A Hugging Face folder of it is read as
# it is: its texts tokenize to transformers' ids (a long one cut to the
# model's 22 tokens with </s> last, <pad> and <mask> in the text), its image
# and text embeddings equal transformers' (float64) within 1e-5 ||g||, with
# the weights named as transformers 5 saves them, as BAAI's checkpoints and
# as the model in memory names them; the
# NegLabel pipeline runs on it; bf16 on the CPU (where it has native bf16)
# stays within 2e-2 of transformers' embeddings; configs transformers could
# not run are refused.
# Golden: tests/data/altclip (tests/gen/gen_altclip.py: random weights,
# Pillow image processor, float64), tokenizer tests/data/unigram.
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (it compares the embeddings)"; exit 77; }
G=$SRC/tests/data/altclip
IMG=$SHARED/fixtures/images
M=$TMP/alt
mkdir -p "$M"
cp "$G/config.json" "$G/model.safetensors" "$G/preprocessor_config.json" "$SRC/tests/data/unigram/tokenizer.json" "$M/"

nl info --no-cache --model "$M" >"$TMP/info.json" 2>"$TMP/err"; rc=$?
check "info (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "info: architecture AltCLIP, XLM-R text tower, Unigram tokenizer" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
t = i["text"]
assert i["architecture"] == "AltCLIP", i["architecture"]
assert (t["hidden_size"], t["num_hidden_layers"], t["hidden_act"], t["pad_token_id"], t["project_dim"]) == (32, 2, "gelu", 1, 24), t
assert (t["max_position_embeddings"], t["vocab_size"]) == (24, 3002), t
assert i["projection_dim"] == 16 and "Unigram" in i["tokenizer"], i
' "$TMP/info.json"

# tokenize: transformers' ids (those not cut: tokenize does not truncate)
ids_golden "tokenizer.json" "$G/golden.json" "$M" 22

golden_inputs "$G/golden.json"
embed_golden "$G/golden.json" images 1e-5 "$TMP/img.jsonl" "image embeddings" --model "$M" "${args[@]}"
embed_golden "$G/golden.json" texts 1e-5 "$TMP/txt.jsonl" "text embeddings, the long text cut" --model "$M" "${targs[@]}"
# one text alone gives the bits a batch gives; so do 1 and 2 threads
nl embed -q --no-cache --model "$M" --text "a photo of a dog." >"$TMP/one.jsonl"
grep '"a photo of a dog\."' "$TMP/txt.jsonl" >"$TMP/batch-one.jsonl"
check "a text alone: the same embedding as in a batch" cmp -s "$TMP/one.jsonl" "$TMP/batch-one.jsonl"
nl embed -q --no-cache --threads 1 --model "$M" "${targs[@]}" >"$TMP/t1.jsonl"
check "1 thread: the same text embeddings as all" cmp -s "$TMP/t1.jsonl" "$TMP/txt.jsonl"

# the weights' names: model.safetensors is as transformers 5's
# save_pretrained writes it (encoder.layer.i in both towers: it renames
# layer. to layers. on load and back on save); BAAI's checkpoints name the
# ViT's layers encoder.layers.i and keep the position_ids buffer (int64,
# not a weight); the model in memory says layers in both. The same model.
names() { # names OUT VISION_WORD TEXT_WORD POSITION_IDS
  mkdir -p "$1" && cp "$M"/*.json "$1/" && python3 - "$M/model.safetensors" "$@" <<'PY'
import json, struct, sys
src, out, vw, tw, pos = sys.argv[1:6]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
h = {k.replace("vision_model.encoder.layer.", "vision_model.encoder.%s." % vw)
      .replace("roberta.encoder.layer.", "roberta.encoder.%s." % tw): v for k, v in h.items()}
data = raw[8 + n:]
if pos == "1":
    h["text_model.roberta.embeddings.position_ids"] = {"dtype": "I64", "shape": [1, 24],
                                                       "data_offsets": [len(data), len(data) + 8 * 24]}
    data += struct.pack("<24q", *range(24))
b = json.dumps(h).encode()
open(out + "/model.safetensors", "wb").write(struct.pack("<Q", len(b)) + b + data)
PY
}
names "$TMP/baai" layers layer 1
names "$TMP/mem" layers layers 0
for v in baai mem; do
  nl embed -q --no-cache --model "$TMP/$v" "${targs[@]}" "${args[@]}" >"$TMP/$v.jsonl" 2>"$TMP/err"; rc=$?
  check "$v names (rc=$rc: $(tail -1 "$TMP/err"))" test $rc -eq 0
  nl embed -q --no-cache --model "$M" "${targs[@]}" "${args[@]}" >"$TMP/$v-ref.jsonl"
  check "$v names: the same embeddings" cmp -s "$TMP/$v.jsonl" "$TMP/$v-ref.jsonl"
done

# NegLabel end to end: mine negatives, score images
mine_and_score "$M" "$IMG/dog.jpg" "$IMG/horses.jpg"

# bf16 on the CPU (where it has native bf16): the ViT as CLIP's, the
# RoBERTa's four linear layers in bf16 (attention, LayerNorms and the
# projections float32); within 2e-2 of transformers' float64 (measured
# 1.6e-3 to 4.5e-3)
bf16_golden "$G/golden.json" "$M" 2e-2
# configs transformers could not run, refused by name
bad_config "relative positions" "position_embedding_type 'relative_key'" '.text_config.position_embedding_type = "relative_key"' "$M"
bad_config "pad_token_id past the positions" "pad_token_id 23 leaves no position" '.text_config.pad_token_id = 23' "$M"
bad_config "project_dim against the weights" "text_model.transformation.weight" '.text_config.project_dim = 25' "$M"
rm -f "$M/tokenizer.json"
expect_fail "no tokenizer.json" "no tokenizer.json" "$BIN" info --no-cache --model "$M"
finish
