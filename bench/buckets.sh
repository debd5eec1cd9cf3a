#!/usr/bin/env bash
# Gradient bucketing side by side, in one go: train-bench buckets under trainctl (our
# GradientBuckets on the CPU communicator) and PyTorch DDP over Gloo (bench/ddp_buckets_peer.py),
# the same model shapes and bucket caps, then one line each of what the bucketed all-reduces
# cost: ours alone, DDP's as what it adds to a trivial backward. Builds nothing: build
# train_bench and trainctl first.
#
#   bench/buckets.sh N [--in-bucket] [--params 25M] [--layers 64] [--cap-mib 25]
#
# Environment: BUILD (build), PYTHON (/usr/bin/python3, Debian's torch), ITERS (20).
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
N=$1
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
PYTHON=${PYTHON:-/usr/bin/python3}
ITERS=${ITERS:-20}
for tool in "$BUILD/launcher/cli/trainctl" "$BUILD/bench/train-bench"; do
  [[ -x $tool ]] || { echo "buckets.sh: $tool is not built (BUILD=$BUILD)" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "## $(date -u '+%Y-%m-%d %H:%M UTC'), $N ranks, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## train-bench buckets (trainctl run --nproc $N)"
"$BUILD/launcher/cli/trainctl" run --nproc "$N" --run-dir "$TMP/run" -- \
  "$BUILD/bench/train-bench" buckets --iters "$ITERS" "$@" \
  > "$TMP/ours.raw" 2> "$TMP/ours.err" || { cat "$TMP/ours.raw" "$TMP/ours.err" >&2; exit 1; }
sed -n 's/^\[rank 0\] //p' "$TMP/ours.raw" | grep -v '^\[' > "$TMP/ours"
cat "$TMP/ours"

echo
echo "## ddp_buckets_peer.py (--spawn $N)"
"$PYTHON" "$ROOT/bench/ddp_buckets_peer.py" --spawn "$N" --iters "$ITERS" "$@" > "$TMP/ddp" ||
  echo "# DDP run failed" > "$TMP/ddp"
cat "$TMP/ddp"

ours=$(sed -n 's/^| all-reduces only | \([0-9.]*\) .*/\1/p' "$TMP/ours")
ddp=$(sed -n "s/^# DDP's bucketed all-reduces add \([0-9.]*\) ms.*/\1/p" "$TMP/ddp")
echo
echo "## bucketed all-reduces of one step (ms, medians)"
echo "| ours | DDP (gloo) | DDP / ours |"
echo "|---|---|---|"
if [[ -n $ours && -n $ddp ]]; then
  awk -v a="$ours" -v b="$ddp" 'BEGIN { printf "| %.2f | %.2f | %.2fx |\n", a, b, b / a }'
else
  echo "| ${ours:-n/a} | ${ddp:-n/a} | n/a |"
fi
