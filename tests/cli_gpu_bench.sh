# cli_gpu_bench.sh — bench/bench_gpu (the neglabel side of bench/gpu.sh) on
# the tiny model with small sizes (ctest label gpu): every subcommand runs
# and prints its JSON lines, so a GPU session's benchmark does not die on a
# path no test took. Measures nothing. Exits 77 (skipped) where no GPU is
# usable; runs on the CPU emulator in CI (NEGLABEL_CUDA=EMU, docs/gpu.md).
. "$(dirname "$0")/lib_cli.sh"
need_shared
B=${NEGLABEL_BUILD:-build}/bench_gpu
[ -x "$B" ] || { echo "SKIP: $B not built (no CUDA backend)"; exit 77; }
need_cuda
M=$SHARED/fixtures/tiny-clip
I=$SHARED/fixtures/images
L=$SHARED/neglabel-reference/txtfiles

# json_ok FILE KIND N: FILE has at least N JSON lines of kind KIND, all parsed
json_ok() {
  local n
  n=$(grep '^{' "$1" | jq -c "select(.kind == \"$2\")" 2>/dev/null | wc -l)
  [ "$n" -ge "$3" ]
}

check "devices" sh -c "'$B' devices >'$TMP/dev.json' && grep -q cuda '$TMP/dev.json'"
check "images: 3 precisions x 2 batches" sh -c "'$B' images '$M' --precision fp16,bf16,fp32 --batch 2,5 --iters 1 --warmup 1 >'$TMP/img.jsonl'"
check "images: 6 JSON rows" json_ok "$TMP/img.jsonl" images 6
check "prompts from the word lists" "$B" prompts "$M" --lists "$L" --out "$TMP/p"
check "prompts: ids and lengths written" test -s "$TMP/p_ids.npy" -a -s "$TMP/p_lens.npy" -a "$(wc -l <"$TMP/p.txt")" -gt 60000
head -n 300 "$TMP/p.txt" >"$TMP/p300.txt"
check "texts: 300 prompts, fp16" sh -c "'$B' texts '$M' --prompts '$TMP/p300.txt' --precision fp16 --save 5 --out '$TMP/t' >'$TMP/txt.jsonl'"
check "texts: a JSON row" json_ok "$TMP/txt.jsonl" texts 1
check "texts: second run and tokenizer timed" sh -c "jq -s -e 'map(select(.kind == \"texts\")) | length == 1 and all(.[]; .second_run_s > 0 and .tokenize_s > 0)' '$TMP/txt.jsonl' >/dev/null"
check "texts: the stage clock, a row per text stage, shares summing to 1" sh -c "jq -s -e 'map(select(.kind == \"text_stage\")) | length == 11 and ((map(.share) | add) > 0.999) and ((map(.share) | add) < 1.001) and all(.[]; .ms >= 0) and all(.[] | select(.stage != \"between_passes\"); .ms > 0)' '$TMP/txt.jsonl' >/dev/null"
check "texts: the clock's events within its room, time within the run's" sh -c "jq -s -e 'map(select(.kind == \"text_clock\")) | length == 1 and all(.[]; .events > 10 and .events < .cap and .clocked_ms > 0 and .clocked_ms <= .wall_ms)' '$TMP/txt.jsonl' >/dev/null"
check "texts: unpacked tiles timed, same embeddings to fp16 rounding" sh -c "jq -s -e 'map(select(.kind == \"texts\")) | length == 1 and all(.[]; .unpacked_s > 0 and .unpacked_max_abs_diff < 0.01)' '$TMP/txt.jsonl' >/dev/null"
# a ResNet (OpenCLIP's layout: the small RN50-layout checkpoint): images/s,
# and FLOPs counted from its convolutions (7.28e8 at 224 pixels, width 16),
# not from the ViT fields its config also fills; the stage clock refuses it
RN=$TMP/rn
check "images on a ResNet" sh -c "'$(dirname "$B")/test_openclip' --write '$RN' rn-small f32 && cp '$SHARED/clip-tokenizer/vocab.json' '$SHARED/clip-tokenizer/merges.txt' '$RN/' && '$B' images '$RN' --precision fp16 --batch 2 --iters 1 --warmup 0 >'$TMP/rn.jsonl'"
check "images on a ResNet: its convolutions' FLOPs" sh -c "jq -e 'select(.kind == \"images\") | .flops_per_image > 7.2e8 and .flops_per_image < 7.4e8' '$TMP/rn.jsonl' >/dev/null"
check "stages: a ResNet refused" sh -c "! '$B' stages '$RN' --precision fp16 --batch 2 --iters 1 2>'$TMP/rn.err' && grep -q 'vision tower is a ResNet' '$TMP/rn.err'"
check "stages of an image pass, fp16" sh -c "'$B' stages '$M' --precision fp16 --batch 3 --iters 1 >'$TMP/st.jsonl'"
check "stages: one JSON row per stage" json_ok "$TMP/st.jsonl" stage 12
check "stages: shares sum to 1, every stage timed" sh -c "jq -s -e '(map(.share) | add) > 0.999 and (map(.share) | add) < 1.001 and all(.[]; .ms > 0)' '$TMP/st.jsonl' >/dev/null"
check "stages: batch 0 refused" sh -c "! '$B' stages '$M' --batch 0 2>/dev/null"
check "minescore, with the CPU for comparison" sh -c "'$B' minescore --cpu --n-cand 400 --n-id 100 --n-img 300 --n-neg 1000 --dim 64 --adaneg-img 400 --oodd-img 500 >'$TMP/ms.jsonl'"
check "minescore: JSON rows" sh -c "grep -c '^{' '$TMP/ms.jsonl' | grep -qv '^0$'"
check "minescore: AdaNeg, both variants, GPU = CPU" sh -c "jq -s -e 'map(select(.kind == \"adaneg\")) | length == 2 and all(.[]; .gpu_s > 0 and .cpu_s > 0 and .max_rel_diff <= 1e-9 and .same_top_id)' '$TMP/ms.jsonl' >/dev/null"
check "minescore: OODD, GPU = CPU" sh -c "jq -s -e 'map(select(.kind == \"oodd\")) | length == 1 and all(.[]; .gpu_s > 0 and .cpu_s > 0 and .max_rel_diff <= 1e-9 and .same_top_id and .queue == 2048 and .k == 5)' '$TMP/ms.jsonl' >/dev/null"
check "e2e on the fixture images" sh -c "'$B' e2e '$M' --images '$I' --limit 8 --batch 4 >'$TMP/e2e.jsonl'"
check "e2e: a JSON row" sh -c "grep -q '^{' '$TMP/e2e.jsonl'"
finish
