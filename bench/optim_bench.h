// train-bench optim: the fused AdamW against memory bandwidth measured in the same run (a STREAM
// triad on CPU, a device-to-device copy with --device cuda) and against torch.optim.AdamW.
#ifndef BENCH_OPTIM_BENCH_H_
#define BENCH_OPTIM_BENCH_H_

#include <cstddef>
#include <map>
#include <string>
#include <tuple>

namespace bench {

// argv[0] is "optim"; returns the process exit code.
int RunOptimBench(int argc, char** argv);

// (impl, layout, threads, params) -> median seconds per step, as optim_torch.py prints them.
using TorchTimes = std::map<std::tuple<std::string, std::string, int, std::size_t>, double>;

// Runs the torch peer (a shell command line) and parses its lines; complains when it fails.
TorchTimes RunTorchPeer(const std::string& command);

}  // namespace bench

#endif  // BENCH_OPTIM_BENCH_H_
