#!/usr/bin/env bash
# Build, GPU tests and `train-bench optim --device cuda` on a machine with an NVIDIA GPU (sm_90),
# in a fresh build-gpu/, ending with a summary. Run from anywhere in the repository:
#
#   bench/gpu/run.sh [more train-bench optim flags, e.g. --python /opt/venv/bin/python3]
#
# When OUT is set, everything printed also goes to "$OUT"/gpu-run.log. Failing tests or a failing
# benchmark do not stop the run: the summary records them and the exit status is 1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build="build-gpu"
if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu-run.log") 2>&1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== configure and build ($build)"
rm -rf "$build"
cmake -S . -B "$build" -DCMAKE_CUDA_ARCHITECTURES=90 -DTRAIN_WERROR=ON \
  -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)"

echo "== nvidia-smi -L"
nvidia-smi -L || echo "nvidia-smi failed (exit $?)"

echo "== ctest -L gpu"
tests_status=ok
if ctest --test-dir "$build" -L gpu --output-on-failure | tee "$work/ctest.txt"; then
  :
else
  tests_status="ctest exit ${PIPESTATUS[0]}"
fi

echo "== train-bench optim --device cuda"
bench_status=ok
if "$build/bench/train-bench" optim --device cuda "$@" | tee "$work/bench.txt"; then
  :
else
  bench_status="train-bench exit ${PIPESTATUS[0]}"
fi

# Cells of the benchmark's tables (columns as train-bench prints them; the first number of a
# "median [min, max]" cell is the median).
copy_gbps=$(awk -F'|' '$2 ~ /cudaMemcpyAsync/ {split($3, a, " "); print a[1]}' "$work/bench.txt")
row() {  # row TENSORS DTYPE: "GB/s | of copy | vs torch fused" of the 100M row
  awk -F'|' -v tensors="$1" -v dtype="$2" '
    function trim(s) { gsub(/^ +| +$/, "", s); return s }
    trim($2) == "100M" && trim($3) == tensors && trim($4) == dtype {
      print trim($7) " | " trim($8) " | " trim($11)
    }' "$work/bench.txt"
}
counts=$(grep -Eo '[0-9]+ tests? failed out of [0-9]+' "$work/ctest.txt" || true)
if [[ -n "$counts" ]]; then
  failed=$(awk '{print $1}' <<<"$counts")
  total=$(awk '{print $NF}' <<<"$counts")
  tests="$((total - failed)) passed, $failed failed"
else
  tests="no result"
fi

echo
echo "== summary"
echo "| what | result |"
echo "|---|---|"
echo "| GPU tests (ctest -L gpu) | $tests ($tests_status) |"
echo "| benchmark | $bench_status |"
echo "| device-to-device copy GB/s | ${copy_gbps:-n/a} |"
echo
echo "| fused AdamW, 100M params | GB/s | of copy | vs torch fused |"
echo "|---|---|---|---|"
for tensors in 1 100; do
  for dtype in fp32 bf16+master; do
    cells=$(row "$tensors" "$dtype")
    echo "| $dtype, $tensors tensor(s) | ${cells:-n/a | n/a | n/a} |"
  done
done

[[ "$tests_status" == ok && "$bench_status" == ok ]]
