#!/usr/bin/env bash
# cuda_ptxas.sh — what ptxas makes of every kernel, checked without a GPU.
# Compiles each .cu file of the CUDA backend once per real architecture the
# build targets, with the build's own options plus `-Xptxas -v`, prints one
# table row per kernel (registers, shared memory, stack frame, spills) and
# fails when any kernel spills registers or uses a stack frame (local
# memory: slow, and a sign that an array is indexed at run time), or when a
# kernel would not fit one SM's register file or shared memory at the block
# size its __launch_bounds__ promises (.maxntid in the PTX), or at 1,024
# threads for a kernel without bounds. Also prints, for kernels with
# bounds, how many warps of 64 can be resident on one SM (occupancy).
# Shared memory is the static part; dynamic shared memory is the launch's
# (the emulator checks those launches against the 48 KiB / 227 KiB limits).
# ctest runs it in CUDA builds
# (CMakeLists.txt passes the compiler, the architectures, the include
# folders and the files):
#
#   cuda_ptxas.sh NVCC "80-real;90-real;90-virtual" "OPTION;..." "INC;..." FILE.cu...
#
# NL_PTXAS_EXTRA: more nvcc options (e.g. -maxrregcount=32, to see it fail).
set -u
nvcc=$1 archs=$2 opts=$3 incs=$4
shift 4
[ $# -gt 0 ] || { echo "cuda_ptxas: no .cu files given" >&2; exit 2; }
tmp=$(mktemp -d /tmp/neglabel-ptxas-XXXXXX)
trap '[ "$BASHPID" = "$$" ] && rm -rf "$tmp"' EXIT  # not in a subshell killed early (lib_cli.sh)
IFS=';' read -r -a arch_list <<<"$archs"
IFS=';' read -r -a inc_list <<<"$incs"
IFS=';' read -r -a opt_list <<<"$opts"
inc_flags=()
for d in "${inc_list[@]}"; do [ -n "$d" ] && inc_flags+=("-I$d"); done
sms=()
for a in "${arch_list[@]}"; do
  case $a in
    *-virtual) ;;                       # PTX only: ptxas does not run
    *) sms+=("${a%%-*}") ;;             # 80, 80-real -> 80
  esac
done
[ ${#sms[@]} -gt 0 ] || { echo "cuda_ptxas: no real architecture in '$archs'" >&2; exit 2; }
demangle() { if command -v c++filt >/dev/null; then c++filt; else cat; fi; }

fail=0 rows=0
printf '%-26s %-6s %5s %8s %6s %6s %7s %8s %5s\n' kernel arch regs smem_B stack spillS spillL bound warps
for f in "$@"; do
  for sm in "${sms[@]}"; do
    log=$tmp/$(basename "$f" .cu)_sm$sm.log kd=$tmp/keep_$(basename "$f" .cu)_sm$sm
    mkdir -p "$kd"
    # shellcheck disable=SC2086
    if ! "$nvcc" -DNEGLABEL_HAVE_CUDA -DNL_BUILDING_LIBRARY "${inc_flags[@]}" -DNDEBUG "${opt_list[@]}" -gencode "arch=compute_$sm,code=sm_$sm" \
        ${NL_PTXAS_EXTRA:-} -Xptxas -v -keep -keep-dir "$kd" -x cu -c "$f" -o "$tmp/out.o" >"$log" 2>&1; then
      echo "FAIL: $f does not compile for sm_$sm:" >&2
      cat "$log" >&2
      fail=1
      continue
    fi
    # one SM: 64K registers (allocated per warp in units of 256), 228 KiB of
    # shared memory, 227 KiB of it per block (sm_80: 164 and 163 KiB)
    smsm=$((228 * 1024)) smax=$((227 * 1024))
    [ "$sm" = 80 ] && smsm=$((164 * 1024)) smax=$((163 * 1024))
    # ptxas -v, per function: "Compiling entry function 'NAME' for 'sm_90'",
    # "N bytes stack frame, N bytes spill stores, N bytes spill loads",
    # "Used N registers, ... N bytes smem, ...". Entry functions only.
    while IFS=$'\t' read -r name regs smem stack sst sld; do
      rows=$((rows + 1))
      short=$(printf '%s' "$name" | demangle | sed 's/(.*//')
      threads=$(awk -v fn="$name" '/^[ \t.a-z]*\.entry / { for (i = 1; i < NF; i++) if ($i == ".entry") cur = $(i + 1); sub(/\(.*/, "", cur) }
        $1 == ".maxntid" && cur == fn { gsub(/,/, " "); print $2 * ($3 ? $3 : 1) * ($4 ? $4 : 1); exit }
        /^\{/ { cur = "" }' "$kd"/*.ptx)
      # resident warps per SM at the bound (theoretical occupancy of 64):
      # registers per warp in units of 256, 1 KiB of shared memory reserved
      # per block, at most 32 blocks
      per_warp=$(( (regs * 32 + 255) / 256 * 256 ))
      occ=-
      if [ -n "$threads" ]; then
        wpb=$(( (threads + 31) / 32 ))
        nb=$(( 65536 / per_warp / wpb )); b2=$(( smsm / (smem + 1024) ))
        [ "$b2" -lt "$nb" ] && nb=$b2
        [ "$nb" -gt 32 ] && nb=32
        occ=$(( nb * wpb )); [ "$occ" -gt 64 ] && occ=64
      fi
      # no __launch_bounds__: any block size, up to 1,024 threads, must launch
      shown=${threads:-"(1024)"} threads=${threads:-1024}
      why=
      [ "$sst" -gt 0 ] || [ "$sld" -gt 0 ] && why="$why spills"
      [ "$stack" -gt 0 ] && why="$why stack-frame"
      [ "$smem" -gt "$smax" ] && why="$why smem>$smax"
      [ $(( per_warp * ((threads + 31) / 32) )) -gt 65536 ] && why="$why regs*threads>64K"
      printf '%-26s sm_%-3s %5s %8s %6s %6s %7s %8s %5s%s\n' "$short" "$sm" "$regs" "$smem" "$stack" "$sst" "$sld" \
        "$shown" "$occ" "${why:+   <- FAIL:$why}"
      [ -n "$why" ] && fail=1
    done < <(awk '
      /Compiling entry function/ { match($0, /function .[^\047]*/); fn = substr($0, RSTART + 10, RLENGTH - 10); next }
      /Function properties for/ { if ($NF != fn) fn = "" ; next }
      /bytes stack frame/ && fn != "" { st = $1; ss = $5; sl = $9; next }
      /Used [0-9]+ registers/ && fn != "" {
        r = 0; s = 0
        for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^registers/) r = $i; if ($(i+1) == "bytes" && $(i+2) ~ /^smem/) s = $i }
        printf "%s\t%d\t%d\t%d\t%d\t%d\n", fn, r, s, st + 0, ss + 0, sl + 0; fn = ""; st = ss = sl = 0
      }' "$log")
  done
done
if [ "$rows" -eq 0 ]; then echo "FAIL: ptxas reported no kernels (parse error?)" >&2; exit 1; fi
echo "$rows kernel builds checked"
[ "$fail" -eq 0 ] || { echo "FAIL: see the rows marked above" >&2; exit 1; }
