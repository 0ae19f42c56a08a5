# cli_preprocess_config.sh — a Hugging Face folder's image processor
# settings change the pixels as transformers' do: a preprocessor_config.json
# with size {"height": 224, "width": 224} resizes both sides (no centre crop
# of the shorter side's resize), and the same settings in transformers 5's
# processor_config.json ("image_processor") give the same embeddings; a
# change of those settings is never answered from the image cache.
# Golden: tests/data/hf_squash (tests/gen/gen_hf_squash.py: transformers'
# Pillow image processor and CLIPModel in float64 on the tiny fixture model).
. "$(dirname "$0")/lib_cli.sh"
need_shared
G=$SRC/tests/data/hf_squash/golden.json
IMG=$SHARED/fixtures/images
mkdir -p "$TMP/sq" "$TMP/sq5"
for f in config.json model.safetensors vocab.json merges.txt; do cp "$TINY/$f" "$TMP/sq/"; cp "$TINY/$f" "$TMP/sq5/"; done
python3 - "$G" "$TMP/sq/preprocessor_config.json" "$TMP/sq5/processor_config.json" <<'PY'
import json, sys
pp = json.load(open(sys.argv[1]))["preprocessor_config"]
json.dump(pp, open(sys.argv[2], "w"))
json.dump({"image_processor": pp, "processor_class": "CLIPProcessor"}, open(sys.argv[3], "w"))
PY
args=()
for f in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["images"]))' "$G"); do
  args+=(--image "$IMG/$f")
done
for d in sq sq5; do
  nl embed -q --no-cache --model "$TMP/$d" "${args[@]}" >"$TMP/$d.jsonl" 2>"$TMP/err"; rc=$?
  check "$d: embed (rc=$rc: $(cat "$TMP/err"))" test $rc -eq 0
  out=$(python3 "$SRC/tests/emb_close.py" "$G" images "$TMP/$d.jsonl" 1e-5); rc=$?
  check "$d: image embeddings equal transformers' (both sides resized) within 1e-5 ||g|| ($out)" test $rc -eq 0
done
check "processor_config.json and preprocessor_config.json: the same embeddings" cmp -s "$TMP/sq.jsonl" "$TMP/sq5.jsonl"
# the default (shorter side and crop) differs on these non-square images:
# the check above would fail if the size setting were ignored
nl embed -q --no-cache --model "$TINY" "${args[@]}" >"$TMP/default.jsonl"
check "the shorter-side resize gives other embeddings" bash -c "! cmp -s '$TMP/sq.jsonl' '$TMP/default.jsonl'"

# The image cache (score and eval use it): a folder scored with the default
# preprocessing, then given the squash setting, must not get the cached
# embeddings back (the preprocessor config is not in the model's
# fingerprint, which negatives files check; the cache key carries what
# differs from OpenAI's preprocessing instead).
ls "$CIFAR" >"$TMP/labels.txt"
imgs=(); for a in "${args[@]}"; do [ "$a" != --image ] && imgs+=("$a"); done
MCM() { nl score -q --method mcm --id-labels "$TMP/labels.txt" "$@" "${imgs[@]}"; }
MCM --no-cache --model "$TMP/sq" >"$TMP/mcm-sq.csv"
MCM --no-cache --model "$TINY" >"$TMP/mcm-default.csv"
check "MCM scores differ between the two preprocessings" bash -c "! cmp -s '$TMP/mcm-sq.csv' '$TMP/mcm-default.csv'"
mkdir -p "$TMP/flip"
for f in config.json model.safetensors vocab.json merges.txt preprocessor_config.json; do cp "$TINY/$f" "$TMP/flip/"; done
MCM --cache "$TMP/c" --model "$TMP/flip" >"$TMP/flip1.csv"
check "default preprocessing through the cache: the default scores" \
  cmp -s <(cut -d, -f2- "$TMP/flip1.csv") <(cut -d, -f2- "$TMP/mcm-default.csv")
# a Hugging Face folder's default differs from OpenAI's too (transformers'
# centre crop, (len - size) // 2): its cache is tagged, apart from the
# untagged one an OpenAI/OpenCLIP model's embeddings would go to
check "the HF default preprocessing's image cache is tagged" \
  test "$(ls "$TMP/c" | grep -c 'image-bicubic-224.nlc$')" -eq 0 -a "$(ls "$TMP/c" | grep -c 'image-bicubic-224-pp[0-9a-f]*.nlc$')" -eq 1
# a filter named is torchvision's Resize + CenterCrop (as clip.load and the
# NegLabel reference): OpenAI's preprocessing, the untagged cache
MCM --cache "$TMP/c" --model "$TMP/flip" --resample bicubic >/dev/null
check "bicubic named: torchvision's crop, the untagged image cache" \
  test "$(ls "$TMP/c" | grep -c 'image-bicubic-224.nlc$')" -eq 1 -a "$(ls "$TMP/c" | grep -c 'image-bicubic-224-pp[0-9a-f]*.nlc$')" -eq 1
cp "$TMP/sq/preprocessor_config.json" "$TMP/flip/"
MCM --cache "$TMP/c" --model "$TMP/flip" >"$TMP/flip2.csv"
check "after the switch to squash: the squash scores, not the cached ones" \
  cmp -s <(cut -d, -f2- "$TMP/flip2.csv") <(cut -d, -f2- "$TMP/mcm-sq.csv")
check "a second image cache, tagged" test "$(ls "$TMP/c" | grep -c 'image-bicubic-224-pp[0-9a-f]*.nlc$')" -eq 2
finish
