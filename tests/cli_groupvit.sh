# cli_groupvit.sh — GroupViT (transformers' GroupViTModel, model_type
# "groupvit"), one of the other vision-language models of the NegLabel
# paper: a Hugging Face folder of it is read as it is, its image and text
# embeddings equal transformers' (float64) within 1e-5 ||g||, the whole
# NegLabel pipeline runs on it, and configs transformers could not run, or
# that contradict the weights, are refused by name.
# Golden: tests/data/groupvit (tests/gen/gen_groupvit.py: a small random
# GroupViT with three grouping stages, Pillow image processor, float64).
. "$(dirname "$0")/lib_cli.sh"
need_shared
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (it compares the embeddings)"; exit 77; }
G=$SRC/tests/data/groupvit
IMG=$SHARED/fixtures/images
M=$TMP/gv
mkdir -p "$M"
cp "$G/config.json" "$G/model.safetensors" "$G/preprocessor_config.json" "$SHARED/clip-tokenizer/vocab.json" \
  "$SHARED/clip-tokenizer/merges.txt" "$M/"

nl info --no-cache --model "$M" >"$TMP/info.json" 2>"$TMP/err"; rc=$?
check "info (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
check "info: architecture GroupViT, its stages" python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
v = i["vision"]
assert i["architecture"] == "GroupViT", i["architecture"]
assert (v["depths"], v["num_group_tokens"], v["num_output_groups"]) == ([2, 1, 1], [8, 4, 0], [8, 4, 4]), v
assert (v["hidden_size"], v["num_hidden_layers"], v["hidden_act"]) == (48, 4, "gelu"), v
assert (i["projection_dim"], i["projection_intermediate_dim"], i["dtype"]) == (32, 64, "mixed"), i
' "$TMP/info.json"

golden_inputs "$G/golden.json"
paths=()
for ((k = 1; k < ${#args[@]}; k += 2)); do paths+=("${args[k]}"); done
embed_golden "$G/golden.json" images 1e-5 "$TMP/img.jsonl" "image embeddings" --model "$M" "${args[@]}"
embed_golden "$G/golden.json" texts 1e-5 "$TMP/txt.jsonl" "text embeddings" --model "$M" "${targs[@]}"
# one image at a time gives the bits a batch gives (the stages run batched)
nl embed -q --no-cache --model "$M" --image "$IMG/horses.jpg" >"$TMP/one.jsonl"
grep '/horses.jpg"' "$TMP/img.jsonl" >"$TMP/batch-one.jsonl"
check "an image alone: the same embedding as in a batch" cmp -s "$TMP/one.jsonl" "$TMP/batch-one.jsonl"

# NegLabel end to end: mine negatives, score images
mine_and_score "$M" "${paths[@]}"

# configs transformers could not run, or that contradict the weights
cfg() { # cfg NAME PYTHON-EXPR-ON-c: a copy of the model with config.json changed
  mkdir -p "$TMP/$1" && cp "$M"/* "$TMP/$1/" &&
    python3 -c "import json,sys; c=json.load(open(sys.argv[1])); $2; json.dump(c, open(sys.argv[1], 'w'))" "$TMP/$1/config.json"
}
cfg chain 'c["vision_config"]["num_output_groups"] = [6, 4, 4]'
expect_fail "stages that do not chain: refused" "config.json: vision_config: stage 1 has 4 group tokens, but stage 0 outputs 6 groups from 8" \
  nl info --no-cache --model "$TMP/chain"
cfg stages 'c["vision_config"]["depths"] = [2, 2]'
expect_fail "stage lists of different lengths: refused" "depths, num_group_tokens and num_output_groups have 2, 3 and 3 stages" \
  nl info --no-cache --model "$TMP/stages"
cfg depth 'c["vision_config"]["depths"] = [2, 2, 1]'
expect_fail "a stage deeper than the weights: the missing tensor named" "tensor 'vision_model.encoder.stages.1.layers.1.layer_norm1.weight' missing" \
  nl info --no-cache --model "$TMP/depth"
cfg inter 'c["projection_intermediate_dim"] = 65'
expect_fail "a projection width the weights do not have: refused" "tensor 'visual_projection.0.weight' has shape \[64,48\], config implies \[65,48\]" \
  nl info --no-cache --model "$TMP/inter"
cfg ratio 'c["vision_config"]["assign_mlp_ratio"] = "wide"'
expect_fail "assign_mlp_ratio not numbers: refused" "assign_mlp_ratio must be a number or two" \
  nl info --no-cache --model "$TMP/ratio"
finish
