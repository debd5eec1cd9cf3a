#!/usr/bin/env bash
# Installs a libtrain build into a fresh temporary prefix and uses it from outside the project:
# checks the installed tree, builds and runs a consumer through find_package(libtrain), then
# another through pkg-config. Everything happens under the temporary directory, which is
# removed on every exit path.
#
# usage: check_install.sh --build-dir DIR --cmake CMAKE --consumer SRC_DIR --cxx CXX
#                         --libdir LIBDIR --pkg-config PKG_CONFIG --version VERSION
#                         [--sanitize LIST]
# --sanitize: the build's -fsanitize= list; the consumers are built with it too, since a
# sanitized libtrain.so needs the sanitizer's runtime loaded first.
set -uo pipefail

build_dir="" cmake="cmake" consumer="" cxx="c++" libdir="lib" pkg_config="" version=""
sanitize=""
while (($#)); do
  case "$1" in
    --build-dir) build_dir="$2" ;;
    --cmake) cmake="$2" ;;
    --consumer) consumer="$2" ;;
    --cxx) cxx="$2" ;;
    --libdir) libdir="$2" ;;
    --pkg-config) pkg_config="$2" ;;
    --version) version="$2" ;;
    --sanitize) sanitize="$2" ;;
    *) echo "check_install.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2 || { echo "check_install.sh: '$1' needs a value" >&2; exit 2; }
done
if [[ -z "$build_dir" || -z "$consumer" || -z "$version" ]]; then
  echo "check_install.sh: --build-dir, --consumer and --version are required" >&2
  exit 2
fi

consumer_flags=()
[[ -n "$sanitize" ]] && consumer_flags=("-fsanitize=$sanitize")

tmp="$(mktemp -d "${TMPDIR:-/tmp}/libtrain-install.XXXXXX")" || exit 1
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

current_step=""
fail() {
  echo "" >&2
  echo "install test FAILED at step '$current_step': $*" >&2
  exit 1
}
step() {
  current_step="$1"
  echo ""
  echo "==> $current_step"
}
# Runs a command; its failure fails the current step.
run() {
  echo "+ $*"
  "$@" || fail "command exited with status $?: $*"
}

step "install the build into a temporary prefix"
run "$cmake" --install "$build_dir" --prefix "$prefix"

step "check the installed tree"
for path in \
    "$libdir/libtrain.so" \
    "$libdir/libtrain.so.${version%%.*}" \
    "$libdir/libtrain.so.$version" \
    include/train/status.h include/train/env.h include/train/version.h include/train/device.h \
    "$libdir/cmake/libtrain/libtrainConfig.cmake" \
    "$libdir/cmake/libtrain/libtrainConfigVersion.cmake" \
    "$libdir/cmake/libtrain/libtrainTargets.cmake" \
    "$libdir/pkgconfig/libtrain.pc"; do
  [[ -e "$prefix/$path" ]] || fail "missing $path"
done
soname="$(objdump -p "$prefix/$libdir/libtrain.so" | awk '$1 == "SONAME" { print $2 }')"
[[ "$soname" == "libtrain.so.${version%%.*}" ]] ||
  fail "libtrain.so has SONAME '$soname', expected libtrain.so.${version%%.*}"
# The exported targets must not name anything that exists only in the build tree.
leaked="$(grep -hoE 'train_(headers|warnings|core|kernels)|spdlog|CUDA::' \
  "$prefix/$libdir/cmake/libtrain/"libtrainTargets*.cmake | sort -u)"
[[ -z "$leaked" ]] || fail "the exported targets name build-only targets: $leaked"
if grep -rlF -e "$build_dir" "$prefix/$libdir/cmake" "$prefix/$libdir/pkgconfig"; then
  fail "installed package files point into the build tree $build_dir"
fi

step "check that the installed binaries find their libraries"
binaries=("$prefix/$libdir/libtrain.so")
[[ -e "$prefix/bin/trainctl" ]] && binaries+=("$prefix/bin/trainctl")
for binary in "${binaries[@]}"; do
  missing="$(env -u LD_LIBRARY_PATH ldd "$binary" | grep 'not found')"
  [[ -z "$missing" ]] || fail "$binary cannot load: $missing"
done
if [[ -e "$prefix/bin/trainctl" ]]; then
  loaded="$(env -u LD_LIBRARY_PATH ldd "$prefix/bin/trainctl" | awk '$1 ~ /^libtrain\.so/ { print $3 }')"
  [[ -n "$loaded" && "$(realpath "$loaded")" == "$(realpath "$prefix/$libdir/libtrain.so")" ]] ||
    fail "bin/trainctl loads '$loaded', not the libtrain.so installed beside it"
  run env -u LD_LIBRARY_PATH "$prefix/bin/trainctl" --help >/dev/null
fi

step "configure the CMake consumer (find_package(libtrain))"
run "$cmake" -S "$consumer" -B "$tmp/consumer-build" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="${consumer_flags[*]}" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
found_dir="$(sed -n 's/^libtrain_DIR:PATH=//p' "$tmp/consumer-build/CMakeCache.txt")"
[[ "$found_dir" == "$prefix/$libdir/cmake/libtrain" ]] ||
  fail "find_package found libtrain in '$found_dir', not in the temporary prefix"

step "build the CMake consumer"
run "$cmake" --build "$tmp/consumer-build" --verbose

step "run the CMake consumer"
run env -u LD_LIBRARY_PATH "$tmp/consumer-build/consumer"

step "build the pkg-config consumer"
[[ -n "$pkg_config" ]] || fail "pkg-config was not found when the project was configured"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pc_version="$("$pkg_config" --modversion libtrain)" || fail "pkg-config does not find libtrain"
[[ "$pc_version" == "$version" ]] || fail "libtrain.pc says version $pc_version, expected $version"
# Word splitting of the flags is intended.
# shellcheck disable=SC2046
run "$cxx" -std=c++17 -Wall -Wextra -Wpedantic -Werror "${consumer_flags[@]}" \
  -DTRAIN_EXPECTED_VERSION="\"$pc_version\"" \
  "$consumer/main.cc" -o "$tmp/pc-consumer" \
  $("$pkg_config" --cflags --libs libtrain)

step "run the pkg-config consumer"
run env LD_LIBRARY_PATH="$prefix/$libdir" "$tmp/pc-consumer"

echo ""
echo "install test passed: $prefix (removed on exit)"
