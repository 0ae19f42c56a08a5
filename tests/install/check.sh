#!/usr/bin/env bash
# check.sh [PREFIX] — checks an installed neglabel and builds a program
# against it the ways a user would (docs/install.md):
#   - layout: libneglabel.so -> .so.MAJOR -> .so.VERSION with that SONAME,
#     neglabel.h, the CLI, neglabel.pc, the CMake package; no static library
#     and no RUNPATH into the build tree;
#   - exports: only the functions of neglabel.h (tests/install/exports.sh);
#   - tests/install/consumer.c built with plain $CC and pkg-config, run once
#     through LD_LIBRARY_PATH and once through an RPATH;
#   - the same through find_package(neglabel) (tests/install/CMakeLists.txt),
#     and find_package refusing a newer major version;
#   - with NEGLABEL_STATIC_LIB (a libneglabel.a from the same build): linked
#     statically with `pkg-config --static` (Requires.private/Libs.private).
# Without PREFIX, `cmake --install $NEGLABEL_BUILD` into a temporary prefix
# first (the ctest test install_consumer). With NEGLABEL_SHARED (reference
# data), consumer.c also embeds a text with fixtures/tiny-clip.
# Environment: CC (cc), CMAKE (cmake), NEGLABEL_CONSUMER_FLAGS (compile and
# link flags for the consumer, e.g. -fsanitize=address,undefined when the
# library was built with them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-cc}
CMAKE=${CMAKE:-cmake}
FLAGS=${NEGLABEL_CONSUMER_FLAGS:-}
tmp=$(mktemp -d /tmp/neglabel-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAILED: $*" >&2; fail=1; }
step() { echo "== $*"; }

if [ $# -ge 1 ]; then
  prefix=$(cd "$1" && pwd)
else
  : "${NEGLABEL_BUILD:?give PREFIX or set NEGLABEL_BUILD to a build folder to install}"
  prefix=$tmp/prefix
  step "cmake --install $NEGLABEL_BUILD --prefix $prefix"
  "$CMAKE" --install "$NEGLABEL_BUILD" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
fi
for tool in pkg-config nm readelf; do
  command -v $tool > /dev/null || { echo "SKIP: $tool not found"; exit 77; }
done
if [ -n "${NEGLABEL_SHARED:-}" ] && [ ! -f "$NEGLABEL_SHARED/fixtures/tiny-clip/config.json" ]; then
  echo "note: no fixtures/tiny-clip under NEGLABEL_SHARED=$NEGLABEL_SHARED: model checks skipped"
  unset NEGLABEL_SHARED
fi
export NEGLABEL_SHARED

step "layout of $prefix"
pc=$(find "$prefix" -path '*/pkgconfig/neglabel.pc' | head -n 1)
[ -n "$pc" ] || { echo "FAILED: no pkgconfig/neglabel.pc under $prefix" >&2; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
version=$(pkg-config --modversion neglabel)
major=${version%%.*}
libdir=$(pkg-config --variable=libdir neglabel)
includedir=$(pkg-config --variable=includedir neglabel)
echo "neglabel $version: libdir $libdir, includedir $includedir"
case $libdir in "$prefix"/*) ;; *) bad "libdir $libdir is not under the prefix $prefix" ;; esac
[ -n "$(find "$prefix" -path '*/man1/neglabel.1')" ] || bad "no man1/neglabel.1 under $prefix"
[ -f "$libdir/libneglabel.so.$version" ] && [ ! -L "$libdir/libneglabel.so.$version" ] \
  || bad "no regular file $libdir/libneglabel.so.$version"
[ "$(readlink "$libdir/libneglabel.so.$major" || true)" = "libneglabel.so.$version" ] \
  || bad "libneglabel.so.$major is not a link to libneglabel.so.$version"
[ "$(readlink "$libdir/libneglabel.so" || true)" = "libneglabel.so.$major" ] \
  || bad "libneglabel.so is not a link to libneglabel.so.$major"
soname=$(readelf -d "$libdir/libneglabel.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libneglabel.so.$major" ] || bad "SONAME '$soname', want libneglabel.so.$major"
if find "$prefix" -name 'libneglabel*.a' | grep -q .; then bad "a static library was installed"; fi
grep -q "^#define NEGLABEL_VERSION \"$version\"" "$includedir/neglabel.h" \
  || bad "$includedir/neglabel.h missing or not version $version"
cli_version=$("$prefix/bin/neglabel" --version 2>&1) || bad "$prefix/bin/neglabel --version failed: $cli_version"
[ "$cli_version" = "neglabel $version" ] || bad "installed CLI says '$cli_version'"
[ -n "$(find "$prefix" -path '*/cmake/neglabel/neglabelConfig.cmake')" ] || bad "no cmake/neglabel/neglabelConfig.cmake"
[ -n "$(find "$prefix" -path '*/cmake/neglabel/neglabelConfigVersion.cmake')" ] || bad "no neglabelConfigVersion.cmake"
if [ -n "${NEGLABEL_BUILD:-}" ]; then
  build=$(cd "$NEGLABEL_BUILD" && pwd)
  for f in "$libdir/libneglabel.so.$version" "$prefix/bin/neglabel"; do
    if readelf -d "$f" | grep -E 'R(UN)?PATH' | grep -qF "$build"; then bad "$f has a RUNPATH into the build tree $build"; fi
  done
fi

step "exported symbols"
bash "$here/exports.sh" "$libdir/libneglabel.so" "$includedir/neglabel.h" || fail=1

# run_consumer NAME EXE [env...]: runs it, checks "ok" and that libneglabel
# came from the prefix (unless static).
run_consumer() {
  local name=$1 exe=$2; shift 2
  local out
  if out=$(env "$@" "$exe" 2>&1) && printf '%s\n' "$out" | grep -qx ok; then
    echo "$name: $(printf '%s' "$out" | tr '\n' ' ')"
  else
    bad "$name: $exe printed: $out"
  fi
}
uses_prefix_lib() {
  local exe=$1; shift
  env "$@" ldd "$exe" | grep -F libneglabel.so | grep -qF "$libdir/" \
    || bad "$exe does not load libneglabel from $libdir: $(env "$@" ldd "$exe" | grep libneglabel || echo none)"
}

step "pkg-config consumer: $CC consumer.c \$(pkg-config --cflags --libs neglabel)"
# shellcheck disable=SC2046,SC2086
if $CC $FLAGS -o "$tmp/consumer-pc" "$here/consumer.c" $(pkg-config --cflags --libs neglabel) -lm; then
  uses_prefix_lib "$tmp/consumer-pc" LD_LIBRARY_PATH="$libdir"
  run_consumer "pkg-config + LD_LIBRARY_PATH" "$tmp/consumer-pc" LD_LIBRARY_PATH="$libdir"
else bad "pkg-config consumer did not build"; fi
# shellcheck disable=SC2046,SC2086
if $CC $FLAGS -o "$tmp/consumer-rpath" "$here/consumer.c" $(pkg-config --cflags --libs neglabel) -Wl,-rpath,"$libdir" -lm; then
  uses_prefix_lib "$tmp/consumer-rpath"
  run_consumer "pkg-config + RPATH" "$tmp/consumer-rpath"
else bad "pkg-config consumer with RPATH did not build"; fi

step "CMake consumer: find_package(neglabel) with CMAKE_PREFIX_PATH=$prefix"
cmake_args=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=Release
            -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="$FLAGS")
if "$CMAKE" -S "$here" -B "$tmp/cmake" "${cmake_args[@]}" > "$tmp/cmake.log" 2>&1 \
   && "$CMAKE" --build "$tmp/cmake" >> "$tmp/cmake.log" 2>&1; then
  grep -F "neglabel $version from" "$tmp/cmake.log" || true
  uses_prefix_lib "$tmp/cmake/consumer"
  run_consumer "find_package" "$tmp/cmake/consumer"
else cat "$tmp/cmake.log" >&2; bad "CMake consumer did not configure or build"; fi
if "$CMAKE" -S "$here" -B "$tmp/cmake-newer" "${cmake_args[@]}" -DNEGLABEL_MIN_VERSION=$((major + 1)).0 > "$tmp/newer.log" 2>&1; then
  bad "find_package(neglabel $((major + 1)).0) accepted version $version"
fi

if [ -n "${NEGLABEL_STATIC_LIB:-}" ]; then
  step "static consumer: $NEGLABEL_STATIC_LIB with \$(pkg-config --static --libs neglabel)"
  # link_static NAME LIBS...: consumer.c + the archive + LIBS (-lneglabel
  # dropped), then it must not need libneglabel.so and must pass.
  link_static() {
    local name=$1; shift
    local libs
    libs=$(printf ' %s ' "$@" | sed -E 's/ -lneglabel / /g' | tr -s ' ')
    echo "$name: $NEGLABEL_STATIC_LIB$libs"
    # shellcheck disable=SC2046,SC2086
    $CC $FLAGS -o "$tmp/consumer-static" "$here/consumer.c" $(pkg-config --cflags neglabel) \
      "$NEGLABEL_STATIC_LIB" $libs -lm > "$tmp/static.log" 2>&1 || return 1
    if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libneglabel'; then
      bad "$name: the static consumer still needs libneglabel.so"
    fi
    run_consumer "$name" "$tmp/consumer-static"
  }
  # shellcheck disable=SC2046
  if ! link_static "pkg-config --static" $(pkg-config --static --libs neglabel); then
    # --static also expands the dependencies' own Libs.private, i.e. their
    # static closure, which distributions often do not install (libcurl's
    # on Debian: nghttp2, ssh2, ldap, ...). Link libneglabel.a statically and
    # its dependencies shared: Libs.private + the Requires.private modules.
    echo "note: the full static closure does not link here ($(grep -m1 -o 'cannot find [^ ]*' "$tmp/static.log" || tail -n 1 "$tmp/static.log"));"
    echo "      libneglabel.a alone: Libs.private + pkg-config --libs of Requires.private"
    mkdir -p "$tmp/pc"
    sed '/^Requires.private:/d' "$pc" > "$tmp/pc/neglabel.pc"
    own=$(PKG_CONFIG_PATH=$tmp/pc pkg-config --static --libs neglabel)
    requires=$(pkg-config --print-requires-private neglabel | awk '{print $1}')
    # shellcheck disable=SC2046,SC2086
    link_static "Libs.private + Requires.private" $own $(pkg-config --libs $requires) \
      || { cat "$tmp/static.log" >&2; bad "static consumer did not link with Libs.private and Requires.private"; }
  fi
fi

[ $fail -eq 0 ] || { echo "install checks FAILED"; exit 1; }
echo "install checks passed ($prefix)"
