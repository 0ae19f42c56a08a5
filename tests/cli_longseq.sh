# cli_longseq.sh — sequences longer than the engine takes attention scores
# for at once (2,048 tokens, NL_ATTN_BLOCK in src/clip/clip_impl.h): a CLIP
# of 784-pixel images in 16-pixel patches (2,402 tokens) and a 2,600-token
# text context. Past 2,048 tokens the scores are computed in blocks of query
# rows (causal ones for the text, from their row on) and the MLP in blocks
# of rows, so a config cannot make the working memory grow with the square
# of its sequence (cli_memory.sh measures that). Checked here: image and
# text (8 and 2,292 tokens) embeddings equal transformers' (float64) within
# 1e-5 ||g|| on the fp32 path, and within 3e-2 on the bf16 path where the
# CPU has it (its widths of 8 once overflowed the bf16 LayerNorm's tiles
# into the q/k/v products: NaN); one image alone gives the bits a batch
# gives, and so do 1 and 2 threads.
# Golden: tests/data/longseq (tests/gen/gen_longseq.py: random weights,
# Pillow image processor, float64).
. "$(dirname "$0")/lib_cli.sh"
need_shared
need_jq
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed (it compares the embeddings)"; exit 77; }
G=$SRC/tests/data/longseq
IMG=$SHARED/fixtures/images
M=$TMP/long
mkdir -p "$M"
cp "$G/config.json" "$G/model.safetensors" "$G/preprocessor_config.json" "$SHARED/clip-tokenizer/vocab.json" \
  "$SHARED/clip-tokenizer/merges.txt" "$M/"

golden_inputs "$G/golden.json"
check "the goldens hold a text of over 2,048 tokens" test "$(jq '[.tokens[]] | max' "$G/golden.json")" -gt 2048

native=$(nl devices | jq -r '.cpu.bf16_kernel')
paths="fp32"
if [ "$native" != none ]; then paths="fp32 bf16"
else echo "note: this CPU has no native bf16 (devices: .cpu.bf16_kernel none): only the fp32 path is checked"; fi
for p in $paths; do
  tol=1e-5; [ "$p" = bf16 ] && tol=3e-2
  embed_golden "$G/golden.json" images $tol "$TMP/img-$p.jsonl" "$p: image embeddings (2,402 tokens)" \
    --device cpu --precision "$p" --model "$M" "${args[@]}"
  embed_golden "$G/golden.json" texts $tol "$TMP/txt-$p.jsonl" "$p: text embeddings (up to 2,292 tokens)" \
    --device cpu --precision "$p" --model "$M" "${targs[@]}"
done

# the bits do not depend on the batch or the threads
nl embed -q --no-cache --device cpu --model "$M" --image "$IMG/dog.jpg" >"$TMP/one.jsonl"
grep '/dog.jpg"' "$TMP/img-fp32.jsonl" >"$TMP/batch-one.jsonl"
check "an image alone: the same embedding as in a batch" cmp -s "$TMP/one.jsonl" "$TMP/batch-one.jsonl"
for t in 1 2; do
  nl embed -q --no-cache --device cpu --threads $t --model "$M" "${args[@]}" "${targs[@]}" >"$TMP/t$t.jsonl"
done
check "1 and 2 threads: the same embeddings" cmp -s "$TMP/t1.jsonl" "$TMP/t2.jsonl"
finish
