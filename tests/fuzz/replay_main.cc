// Replays a fuzz target's corpus without libFuzzer: every file given (or found in a directory
// given), then `--mutations N` deterministic variants of each: truncations, byte flips,
// inserted and repeated runs, splices with the next seed. The target must neither crash nor
// leak past its own cleanup; any failure aborts, naming the seed and the mutation.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Run(const Bytes& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

// One variant of `seed`, chosen by `rng`; `other` is another seed to splice with.
Bytes Mutate(const Bytes& seed, const Bytes& other, std::mt19937_64& rng) {
  Bytes out = seed;
  const auto pick = [&rng](std::size_t bound) {
    return bound == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % bound);
  };
  static constexpr std::uint8_t kInteresting[] = {0,   1,   0x7f, 0x80, 0xff, '-', '9', '\n',
                                                  '"', '{', '}',  '[',  ':',  ',', '*', '&'};
  switch (rng() % 6) {
    case 0:  // truncate
      out.resize(pick(out.size() + 1));
      break;
    case 1:  // flip bits
      for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n && !out.empty(); ++i)
        out[pick(out.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      break;
    case 2:  // overwrite with an interesting byte
      if (!out.empty()) out[pick(out.size())] = kInteresting[pick(sizeof(kInteresting))];
      break;
    case 3: {  // repeat a run
      if (out.empty()) break;
      const std::size_t from = pick(out.size());
      const std::size_t length = 1 + pick(std::min<std::size_t>(64, out.size() - from));
      const Bytes run(out.begin() + from, out.begin() + from + length);
      for (int i = 0, n = 1 + static_cast<int>(rng() % 8); i < n; ++i)
        out.insert(out.begin() + from, run.begin(), run.end());
      break;
    }
    case 4: {  // insert digits (absurd sizes and counts)
      const std::string digits = std::to_string(rng());
      out.insert(out.begin() + pick(out.size() + 1), digits.begin(), digits.end());
      break;
    }
    default: {  // splice: a prefix of this seed, a suffix of the other
      out.resize(pick(out.size() + 1));
      const std::size_t from = pick(other.size() + 1);
      out.insert(out.end(), other.begin() + from, other.end());
      break;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int mutations = 0;
  std::vector<std::filesystem::path> seeds;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
      mutations = std::atoi(argv[++i]);
    } else if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i]))
        if (entry.is_regular_file()) seeds.push_back(entry.path());
    } else {
      seeds.emplace_back(argv[i]);
    }
  }
  std::sort(seeds.begin(), seeds.end());
  if (seeds.empty()) {
    std::fprintf(stderr, "usage: %s [--mutations N] SEED_FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  std::vector<Bytes> inputs;
  for (const auto& path : seeds) inputs.push_back(ReadFile(path));
  Run(Bytes{});
  for (std::size_t s = 0; s < inputs.size(); ++s) {
    std::fprintf(stderr, "replay: %s\n", seeds[s].c_str());
    Run(inputs[s]);
    std::mt19937_64 rng(s + 1);
    for (int m = 0; m < mutations; ++m)
      Run(Mutate(inputs[s], inputs[(s + 1) % inputs.size()], rng));
  }
  std::fprintf(stderr, "replay: %zu seeds, %d mutations each: no crash\n", inputs.size(),
               mutations);
  return 0;
}
