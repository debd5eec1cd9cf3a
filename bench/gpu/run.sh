#!/usr/bin/env bash
# Build, GPU tests and `train-bench optim --device cuda` on a machine with an NVIDIA GPU (sm_90),
# ending with a summary. Run from anywhere in the repository:
#
#   bench/gpu/run.sh [more train-bench optim flags, e.g. --reps 30]
#   bench/gpu/run.sh --prebuilt PACK_DIR [flags]
#
# The first form configures and builds a fresh build-gpu/ (it needs the Debian packages of
# scripts/setup). The second runs a build packed elsewhere by bench/gpu/pack.sh, for a GPU
# machine that has CUDA and PyTorch but not those packages. The torch peer runs under the first
# python3 that imports torch with CUDA (python3 on PATH, /opt/torch/.venv/bin/python3,
# /usr/bin/python3); --python overrides it.
#
# When OUT is set, everything printed also goes to "$OUT"/gpu-run.log. Failing tests or a failing
# benchmark do not stop the run: the summary records them and the exit status is 1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
prebuilt=""
if [[ "${1:-}" == --prebuilt ]]; then
  prebuilt=$(realpath "${2:?--prebuilt needs a directory made by bench/gpu/pack.sh}")
  shift 2
fi
if [[ -n "${OUT:-}" ]]; then
  mkdir -p "$OUT"
  exec > >(tee "$OUT/gpu-run.log") 2>&1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The interpreter for the torch peer, chosen before LD_LIBRARY_PATH changes below.
python=""
for candidate in python3 /opt/torch/.venv/bin/python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null &&
    "$candidate" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
      2>/dev/null; then
    python=$(command -v "$candidate")
    break
  fi
done
if [[ -n "$python" ]]; then
  echo "== torch peer: $python (torch $("$python" -c 'import torch; print(torch.__version__)'))"
  # The peer gets the environment this script started with, not the pack's libraries.
  python_cmd="env LD_LIBRARY_PATH=$(printf %q "${LD_LIBRARY_PATH:-}") $(printf %q "$python")"
else
  echo "== torch peer: no python3 with torch and CUDA found; its columns will read n/a"
  python_cmd=python3
fi

if [[ -z "$prebuilt" ]]; then
  build="build-gpu"
  ctest_dir="$build"
  echo "== configure and build ($build)"
  rm -rf "$build"
  cmake -S . -B "$build" -DCMAKE_CUDA_ARCHITECTURES=90 -DTRAIN_WERROR=ON \
    -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" -j "$(nproc)"
else
  build="$prebuilt"
  ctest_dir="$build/tests/gpu"
  echo "== prebuilt: $build"
  build_dir=$(sed -n 's/^build_dir=//p' "$build/pack.env")
  source_dir=$(sed -n 's/^source_dir=//p' "$build/pack.env")
  # The ctest files name the paths of the machine that built them: point them here.
  while IFS= read -r -d '' f; do
    sed -i -e "s#${build_dir}#@PACK@#g" -e "s#${source_dir}#@ROOT@#g" \
      -e "s#@PACK@#${build}#g" -e "s#@ROOT@#${root}#g" "$f"
  done < <(find "$build/tests" -name '*.cmake' -print0)
  echo "build_dir=$build" >"$build/pack.env"
  echo "source_dir=$root" >>"$build/pack.env"
  export LD_LIBRARY_PATH="$build/lib:$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

echo "== nvidia-smi -L"
nvidia-smi -L || echo "nvidia-smi failed (exit $?)"

echo "== ctest -L gpu"
tests_status=ok
if ctest --test-dir "$ctest_dir" -L gpu --output-on-failure | tee "$work/ctest.txt"; then
  :
else
  tests_status="ctest exit ${PIPESTATUS[0]}"
fi

# NCCL bootstrapped through MPI with one rank. A full build runs it in ctest -L gpu
# (mpi_communicator_test.np1.nccl); a pack carries Open MPI under ompi/ when it was built with it.
mpi_status="in ctest -L gpu"
if [[ -n "$prebuilt" ]]; then
  mpi_status="not in the pack (built without MPI)"
  if [[ -x "$build/ompi/bin/orterun" ]]; then
    echo "== NCCL bootstrapped through MPI (orterun -np 1 mpi_communicator_test)"
    if env OPAL_PREFIX="$build/ompi" PMIX_MCA_mca_base_component_path="$build/ompi/pmix" \
      "$build/ompi/bin/orterun" --allow-run-as-root -np 1 \
      "$build/tests/unit/collectives/mpi/mpi_communicator_test" \
      --gtest_filter=MpiCommunicatorTest.ACudaCommunicatorIsNcclBootstrappedThroughMpi |
      tee "$work/mpi.txt"; then
      mpi_status=ok
    else
      mpi_status="exit ${PIPESTATUS[0]}"
      if [[ "$tests_status" == ok ]]; then tests_status="NCCL through MPI failed"; fi
    fi
  fi
fi

echo "== train-bench optim --device cuda"
bench_status=ok
if "$build/bench/train-bench" optim --device cuda --python "$python_cmd" "$@" |
  tee "$work/bench.txt"; then
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
lamb_row() {  # lamb_row TENSORS: "GB/s | of copy" of the 100M LAMB row
  awk -F'|' -v tensors="$1" '
    function trim(s) { gsub(/^ +| +$/, "", s); return s }
    trim($2) == "lamb" && trim($3) == "100M" && trim($4) == tensors {
      print trim($8) " | " trim($9)
    }' "$work/bench.txt"
}
# ctest ends with "N% tests passed, F tests failed out of T" (older) or, when none failed,
# "100% tests passed out of T" (newer); skipped tests count as passed.
total=$(grep -Eo 'tests passed.* out of [0-9]+' "$work/ctest.txt" | grep -Eo '[0-9]+$' || true)
failed=$(grep -Eo '[0-9]+ tests? failed out of' "$work/ctest.txt" | grep -Eo '^[0-9]+' || true)
skipped=$(grep -c '\*\*\*Skipped' "$work/ctest.txt" || true)
if [[ -n "$total" ]]; then
  failed=${failed:-0}
  tests="$((total - failed - skipped)) passed, $skipped skipped, $failed failed"
else
  tests="no result"
fi

echo
echo "== summary"
echo "| what | result |"
echo "|---|---|"
echo "| GPU tests (ctest -L gpu) | $tests ($tests_status) |"
echo "| NCCL bootstrapped through MPI, 1 rank | $mpi_status |"
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
for tensors in 1 100; do
  cells=$(lamb_row "$tensors")
  echo "| LAMB fp32, $tensors tensor(s) | ${cells:-n/a | n/a} | |"
done

[[ "$tests_status" == ok && "$bench_status" == ok ]]
