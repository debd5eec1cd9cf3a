#!/usr/bin/env bash
# scripts/demo on a fresh machine: it installs only the demo's packages, builds only trainctl and
# the example (no tests, benchmarks or CUDA), shows a percentage line at least every 10 s while
# a step is silent, and runs the job. cmake and the binaries are stand-ins here (the real build
# is timed in docs/benchmarks.md); scripts/setup must find the demo's packages installed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
scratch="$(mktemp -d -t demo-test.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# 1. The demo's packages: a subset of everything, without the tests' and other examples'.
mapfile -t all < <(bash "$repo/scripts/setup" --list)
mapfile -t demo < <(bash "$repo/scripts/setup" --list --demo)
for package in "${demo[@]}"; do
  printf '%s\n' "${all[@]}" | grep -qx "$package" || fail "$package is in --demo but not in the full list"
done
for heavy in python3-torch libtorch-dev python3-sklearn libopenmpi-dev libgtest-dev; do
  printf '%s\n' "${demo[@]}" | grep -qx "$heavy" && fail "--demo installs $heavy"
  printf '%s\n' "${all[@]}" | grep -qx "$heavy" || fail "scripts/test no longer installs $heavy"
done

# 2. A silent step still prints a percentage line at least every PROGRESS_INTERVAL seconds.
source "$repo/scripts/progress.sh"
slow_build() {
  echo "[ 10%] Building CXX object a.o"
  sleep 3
  echo "[ 60%] Building CXX object b.o"
  echo "pmstatus:libfoo:40.0:Installing libfoo"
}
out="$(PROGRESS_INTERVAL=1 progress_run build "$scratch/build.log" slow_build)"
[[ "$(grep -c '^build: 10% after' <<<"$out")" -ge 3 ]] ||
  fail "no line every second while the build was silent:"$'\n'"$out"
grep -q '^build: 60% after' <<<"$out" || fail "the jump to 60% was not shown:"$'\n'"$out"
grep -q '^build: 70% (installing) after' <<<"$out" || fail "apt's status was not read:"$'\n'"$out"
grep -q 'Building CXX object b.o' "$scratch/build.log" || fail "the log lost the output"
failing() {
  echo "compiler says no"
  return 3
}
status=0
PROGRESS_INTERVAL=1 progress_run build "$scratch/fail.log" failing >"$scratch/fail.out" 2>&1 ||
  status=$?
[[ $status == 3 ]] || fail "progress_run returned $status, not the command's 3"
grep -q "compiler says no" "$scratch/fail.out" || fail "a failure does not show the log's end"

# 3. scripts/demo end to end, with cmake and the binaries played by scripts.
for package in "${demo[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
  if [[ "$status" != installed ]]; then
    echo "SKIP: $package is not installed (scripts/demo would install it)"
    ((failures == 0)) && exit 77
    exit 1
  fi
done
mkdir -p "$scratch/bin"
cat >"$scratch/bin/cmake" <<'FAKE'
#!/usr/bin/env bash
# Records its arguments; --build prints CMake's progress and "builds" the two binaries.
echo "$*" >>"$FAKE_CMAKE_LOG"
if [[ "$1" == --build ]]; then
  dir="$2"
  for p in 20 40 60 80 100; do echo "[ $p%] Building CXX object x$p.o"; sleep 0.2; done
  mkdir -p "$dir/launcher/cli" "$dir/examples/fashion-mnist"
  cat >"$dir/launcher/cli/trainctl" <<'T'
#!/usr/bin/env bash
[[ "$1" == run ]] && echo "[rank 0] epoch 0 step 1 loss 2.30"
exit 0
T
  cp "$dir/launcher/cli/trainctl" "$dir/examples/fashion-mnist/train"
  chmod +x "$dir/launcher/cli/trainctl" "$dir/examples/fashion-mnist/train"
else
  while [[ $# -gt 0 ]]; do [[ "$1" == -B ]] && mkdir -p "$2" && touch "$2/CMakeCache.txt"; shift; done
fi
FAKE
chmod +x "$scratch/bin/cmake"
export FAKE_CMAKE_LOG="$scratch/cmake.log"
out="$(PATH="$scratch/bin:$PATH" BUILD_DIR="$scratch/build-demo" bash "$repo/scripts/demo" 2>&1)" ||
  fail "scripts/demo failed:"$'\n'"$out"
configure="$(grep -- '-S' "$FAKE_CMAKE_LOG" || true)"
for option in -DTRAIN_BUILD_TESTS=OFF -DTRAIN_BUILD_BENCH=OFF -DTRAIN_WITH_CUDA=OFF; do
  grep -q -- "$option" <<<"$configure" || fail "the demo's configure lacks $option: $configure"
done
build="$(grep -- '--build' "$FAKE_CMAKE_LOG" || true)"
grep -q -- "--target trainctl fashion_mnist_train" <<<"$build" ||
  fail "the demo does not build just its two targets: $build"
grep -q '^demo: build trainctl and the example: 100% after' <<<"$out" ||
  fail "no build percentage:"$'\n'"$out"
grep -q '\[rank 0\] epoch 0 step 1 loss' <<<"$out" || fail "the job did not run:"$'\n'"$out"

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "demo scripts: all checks passed"
