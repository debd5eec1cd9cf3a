#!/usr/bin/env bash
# bench_rendezvous_load against a one-member etcd of its own (data in a temporary directory,
# on loopback ports nothing else uses), removed afterwards.
#
#   bench/rendezvous_etcd.sh [BUILD_DIR] -- [bench_rendezvous_load flags]
#   bench/rendezvous_etcd.sh build -- --agents 256,1024 --reps 3
set -euo pipefail
build=${1:-build}
shift || true
[[ ${1:-} == -- ]] && shift
bench="$build/bench/bench_rendezvous_load"
[[ -x $bench ]] || { echo "no $bench: cmake --build $build --target bench_rendezvous_load" >&2; exit 2; }
command -v etcd >/dev/null || { echo "etcd is not installed: scripts/setup installs etcd-server" >&2; exit 2; }
data=$(mktemp -d)
client=23790
peer=23800
etcd --name bench --data-dir "$data" \
  --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "bench=http://127.0.0.1:$peer" >"$data.log" 2>&1 &
etcd_pid=$!
trap 'kill $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$client/health" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$client/health" >/dev/null || { echo "etcd did not start:" >&2; tail "$data.log" >&2; exit 1; }
"$bench" --etcd "127.0.0.1:$client" "$@"
