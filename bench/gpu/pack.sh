#!/usr/bin/env bash
# Packs what bench/gpu/run.sh needs from a build made on this machine, for a GPU machine that
# has the driver, CUDA and PyTorch but not the Debian packages libtrain links (cpprest, spdlog,
# HDF5, ...): libtrain, the tests of tests/gpu with their ctest files, train-bench, Open MPI
# for the NCCL-through-MPI test when the build has the MPI plugin, and every shared library they
# load except the C/C++ runtime and the driver. Then, on the GPU machine:
#
#   bench/gpu/pack.sh BUILD_DIR PACK_DIR   # here: builds the targets it packs, then packs
#   bench/gpu/run.sh --prebuilt PACK_DIR   # there, from the repository root
#
# BUILD_DIR is a configured build of this checkout with CUDA (any CMAKE_CUDA_ARCHITECTURES that
# includes the GPU's); PACK_DIR (replaced) must lie inside the repository to travel with it.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: bench/gpu/pack.sh BUILD_DIR PACK_DIR" >&2
  exit 2
fi
build=$(realpath "$1")
pack=$(realpath -m "$2")
source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
if ! grep -q '^CMAKE_CUDA_FLAGS:' "$build/CMakeCache.txt"; then
  echo "pack: $build was configured without CUDA" >&2
  exit 1
fi

gpu_tests=(device_gpu_test device_status_test optimizer_cuda_status_test optimizer_gpu_test
  optimizer_graph_test checkpoint_gpu_test)
# The collectives' GPU tests (NCCL, CUDA gradient buckets) live with the collectives' tests;
# the NCCL plugin beside libtrain.
collective_gpu_tests=(tests/unit/collectives/nccl/nccl_gpu_test
  tests/unit/collectives/bucketing/grad_buckets_gpu_test)
cmake --build "$build" -j "$(nproc)" --target train train_bench train_nccl \
  "${gpu_tests[@]}" "${collective_gpu_tests[@]##*/}"

rm -rf "$pack"
mkdir -p "$pack/lib" "$pack/bench" "$pack/tests/gpu"
cp -P "$build"/libtrain.so* "$build"/libtrain-nccl.so "$pack/"
for t in "${collective_gpu_tests[@]}"; do
  mkdir -p "$pack/${t%/*}"
  cp "$build/$t" "$build/$t"*.cmake "$pack/${t%/*}/"
done
cp "$build/bench/train-bench" "$pack/bench/"
for t in "${gpu_tests[@]}"; do cp "$build/tests/gpu/$t" "$pack/tests/gpu/"; done
cp "$build/tests/gpu/CTestTestfile.cmake" "$build"/tests/gpu/*_include.cmake \
  "$build"/tests/gpu/*_tests.cmake "$pack/tests/gpu/"
# ctest runs from tests/gpu: include the collectives' GPU tests there.
for t in "${collective_gpu_tests[@]}"; do
  for f in "$build/$t"*_include.cmake; do
    echo "include(\"$f\")" >>"$pack/tests/gpu/CTestTestfile.cmake"
  done
done
# NCCL bootstrapped through MPI, with one rank (mpi_communicator_test), when this build has the
# MPI plugin: the GPU machine has no Open MPI, so the pack carries its launcher, MCA components,
# help files and PMIx's plugins under ompi/, which run.sh points OPAL_PREFIX at.
mpi_test=tests/unit/collectives/mpi/mpi_communicator_test
mpi_files=()
if [[ -f "$build/libtrain-mpi.so" ]] && command -v ompi_info >/dev/null &&
  command -v orterun >/dev/null; then
  cmake --build "$build" -j "$(nproc)" --target mpi_communicator_test
  ompi_path() { ompi_info --path "$1" | awk '{print $2}'; }
  prefix=$(ompi_path prefix)
  components=$(ompi_path pkglibdir)
  help=$(ompi_path pkgdatadir)
  ompi="$pack/ompi"
  mkdir -p "$ompi/bin" "$ompi/${components#"$prefix"/}" "$ompi/${help#"$prefix"/}" \
    "$pack/${mpi_test%/*}"
  cp -L "$(command -v orterun)" "$(command -v orted)" "$ompi/bin/"
  cp -r "$components/." "$ompi/${components#"$prefix"/}/"
  cp -r "$help/." "$ompi/${help#"$prefix"/}/"
  # PMIx's plugins sit in pmix/ beside the libpmix that Open MPI's PMIx component loads.
  libpmix=$(ldd "$components"/mca_pmix_*.so | awk '$1 ~ /^libpmix\.so/ && $3 ~ /^\// {print $3; exit}')
  [[ -z "$libpmix" ]] || libpmix=$(readlink -f "$libpmix")  # Debian links it from its own tree
  if [[ -n "$libpmix" && -d "$(dirname "$libpmix")/pmix" ]]; then
    cp -r "$(dirname "$libpmix")/pmix" "$ompi/pmix"
  fi
  cp "$build/$mpi_test" "$pack/$mpi_test"
  cp "$build/libtrain-mpi.so" "$pack/"
  mpi_files=("$ompi"/bin/* "$ompi/${components#"$prefix"/}"/*.so "$pack/$mpi_test"
    "$pack/libtrain-mpi.so")
  if [[ -d "$ompi/pmix" ]]; then mpi_files+=("$ompi"/pmix/*.so); fi
fi

# Debug information is most of the size and is not needed there.
find "$pack" -type f \( -name 'libtrain.so.*' -o -perm -u+x \) ! -name '*.cmake' \
  -exec strip --strip-debug {} +

# Every library the binaries load, but the C library's own (libresolv and the like call into
# its private symbols), the C++ runtime (the GPU machine's are as new or newer) and the driver.
skip='^(linux-vdso|ld-linux|lib(c|m|dl|pthread|rt|resolv|util|nsl|anl)\.so|libnss_|libstdc\+\+|libgcc_s|libcuda\.so|libnccl\.so|libtrain\.so)'
ldd "$pack"/libtrain.so "$pack"/libtrain-nccl.so "$pack/bench/train-bench" \
  "$pack"/tests/gpu/*_test "${collective_gpu_tests[@]/#/$pack/}" "${mpi_files[@]}" 2>/dev/null |
  awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r name path; do
    [[ "$name" =~ $skip ]] && continue
    cp -L "$path" "$pack/lib/$name"
  done

# Where the build was, so run.sh can point the ctest files at where the pack is.
{
  echo "build_dir=$build"
  echo "source_dir=$source_dir"
} >"$pack/pack.env"
echo "pack: $(du -sh "$pack" | cut -f1) in $pack ($(find "$pack/lib" -type f | wc -l) libraries)"
