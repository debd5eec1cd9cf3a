// trainctl data plan: which samples a rank reads, for debugging a job's sharding.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "train/sampler.h"

namespace trainctl::cli {

int RunDataPlan(const PlanFlags& flags) {
  if (flags.drop_last && flags.pad) {
    std::cerr << "trainctl data plan: --drop-last and --pad exclude each other\n";
    return kExitUsage;
  }
  train::SamplerOptions options;
  options.num_samples = flags.samples;
  options.seed = flags.seed;
  options.shuffle = !flags.no_shuffle;
  options.tail = flags.drop_last ? train::TailPolicy::kDropLast
                 : flags.pad     ? train::TailPolicy::kPad
                                 : train::TailPolicy::kUneven;
  auto sampler = train::ShardedSampler::Create(options, flags.rank, flags.world,
                                               train::SamplerState{flags.epoch, flags.cursor});
  if (!sampler.ok()) {
    std::cerr << "trainctl data plan: " << sampler.status().message() << "\n";
    return kExitUsage;
  }
  // One index per line, written in large blocks: a plan can hold millions of lines.
  std::string out;
  for (std::uint64_t index : sampler->Remaining()) {
    out += std::to_string(index);
    out += '\n';
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitFailure;
}

}  // namespace trainctl::cli
