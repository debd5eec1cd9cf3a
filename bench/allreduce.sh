#!/usr/bin/env bash
# All-reduce side by side, in one go: the Communicator (train-bench allreduce under trainctl),
# Open MPI's MPI_Allreduce (bench_mpi_allreduce under mpirun) and torch's Gloo
# (bench/gloo_allreduce_peer.py), each printing its nccl-tests table, then one table of busbw
# and ratios. Builds nothing: build train_bench, bench_mpi_allreduce and trainctl first.
#
#   bench/allreduce.sh N [SIZES]          # SIZES as --sizes takes them; default 4K:256M
#
# Environment: BUILD (build), PYTHON (/usr/bin/python3, Debian's torch), ITERS (20), WARMUP (5),
# DTYPE (float32), GLOO_LAUNCH (spawn, or torchrun), EXTRA (more train-bench flags, for example
# --deterministic), STREAM_GBPS (skip the copy measurement and use this bandwidth).
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
N=$1
SIZES=${2:-4K:256M}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
PYTHON=${PYTHON:-/usr/bin/python3}
ITERS=${ITERS:-20}
WARMUP=${WARMUP:-5}
DTYPE=${DTYPE:-float32}
GLOO_LAUNCH=${GLOO_LAUNCH:-spawn}
EXTRA=${EXTRA:-}
COMMON=(--sizes "$SIZES" --dtype "$DTYPE" --iters "$ITERS" --warmup "$WARMUP" --check)

for tool in "$BUILD/launcher/cli/trainctl" "$BUILD/bench/train-bench"; do
  [[ -x $tool ]] || { echo "allreduce.sh: $tool is not built (BUILD=$BUILD)" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "## $(date -u '+%Y-%m-%d %H:%M UTC'), $N ranks, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## train-bench allreduce (trainctl run --nproc $N)"
STREAM=()
[[ -n ${STREAM_GBPS:-} ]] && STREAM=(--stream-gbps "$STREAM_GBPS")
# shellcheck disable=SC2086  # EXTRA is a list of flags
"$BUILD/launcher/cli/trainctl" run --nproc "$N" --run-dir "$TMP/run" -- \
  "$BUILD/bench/train-bench" allreduce "${COMMON[@]}" "${STREAM[@]}" $EXTRA \
  > "$TMP/ours.raw" 2> "$TMP/ours.err" || { cat "$TMP/ours.raw" "$TMP/ours.err" >&2; exit 1; }
# trainctl prefixes each line with its rank.
sed -n 's/^\[rank 0\] //p' "$TMP/ours.raw" > "$TMP/ours"
cat "$TMP/ours"
GBPS=${STREAM_GBPS:-$(sed -n 's/.*copy bandwidth \([0-9.]*\) GB\/s.*/\1/p' "$TMP/ours" | head -1)}

echo
echo "## bench_mpi_allreduce (mpirun -np $N)"
if [[ -x $BUILD/bench/bench_mpi_allreduce ]] && command -v mpirun > /dev/null; then
  mpirun --allow-run-as-root --oversubscribe -np "$N" "$BUILD/bench/bench_mpi_allreduce" \
    "${COMMON[@]}" ${GBPS:+--stream-gbps "$GBPS"} > "$TMP/mpi" || echo "# MPI run failed" > "$TMP/mpi"
else
  echo "# skipped: bench_mpi_allreduce not built (no MPI found) or no mpirun" > "$TMP/mpi"
fi
cat "$TMP/mpi"

echo
echo "## gloo_allreduce_peer.py ($PYTHON, $GLOO_LAUNCH)"
GLOO=("$ROOT/bench/gloo_allreduce_peer.py" "${COMMON[@]}" ${GBPS:+--stream-gbps "$GBPS"})
if [[ $GLOO_LAUNCH == torchrun ]]; then
  # torchrun 1.13 on Python 3.11 needs --redirects/--tee; each rank's output goes to log_dir.
  torchrun --nproc_per_node "$N" --redirects 1 --tee 1 --log_dir "$TMP/torch-logs" \
    --rdzv_backend c10d --rdzv_endpoint "127.0.0.1:$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')" \
    "${GLOO[@]}" > "$TMP/gloo.raw" 2> /dev/null || true
  sed -n 's/^\[[^]]*\]:\{0,1\}\s\{0,1\}//; /^[# ]/p' "$TMP/gloo.raw" | grep -v '^\s*$' > "$TMP/gloo" || true
else
  "$PYTHON" "${GLOO[@]}" --spawn "$N" > "$TMP/gloo" || echo "# Gloo run failed" >> "$TMP/gloo"
fi
cat "$TMP/gloo"

echo
echo "## side by side: busbw (GB/s), ratios, time (us) and share of the memory bound"
awk -v n="$N" '
  function rows(file, tag,   line, f) {
    while ((getline line < file) > 0) {
      if (line ~ /^#/) continue
      split(line, f, " ")
      if (f[1] !~ /^[0-9]+$/) continue
      sizes[f[1]] = 1; bus[tag, f[1]] = f[7]; us[tag, f[1]] = f[5]
      if (tag == "ours") { bound[f[1]] = f[9]; wrong[f[1]] = f[8] }
      if (f[8] != "-" && f[8] != "0") bad[tag] += f[8]
    }
  }
  function cell(tag, s) { return ((tag, s) in bus) ? bus[tag, s] : "-" }
  function ratio(tag, s) {
    return ((tag, s) in bus) && bus[tag, s] > 0 ? sprintf("%.2fx", bus["ours", s] / bus[tag, s]) : "-"
  }
  BEGIN {
    rows(ARGV[1], "ours"); rows(ARGV[2], "mpi"); rows(ARGV[3], "gloo")
    printf "# %10s %9s %9s %9s %9s %9s %11s %11s %11s %7s\n", "size (B)", "ours", "MPI", \
      "Gloo", "ours/MPI", "ours/Gloo", "ours us", "MPI us", "Gloo us", "%bound"
    m = 0
    for (s in sizes) list[++m] = s + 0
    for (i = 2; i <= m; i++) for (j = i; j > 1 && list[j - 1] > list[j]; j--) {
      t = list[j]; list[j] = list[j - 1]; list[j - 1] = t
    }
    for (i = 1; i <= m; i++) {
      s = list[i]
      printf "  %10d %9s %9s %9s %9s %9s %11s %11s %11s %7s\n", s, cell("ours", s), \
        cell("mpi", s), cell("gloo", s), ratio("mpi", s), ratio("gloo", s), \
        ((("ours", s) in us) ? us["ours", s] : "-"), ((("mpi", s) in us) ? us["mpi", s] : "-"), \
        ((("gloo", s) in us) ? us["gloo", s] : "-"), ((s in bound) ? bound[s] : "-")
    }
    for (tag in bad) printf "# WRONG RESULTS: %s reported %d wrong elements\n", tag, bad[tag]
    exit
  }' "$TMP/ours" "$TMP/mpi" "$TMP/gloo"
