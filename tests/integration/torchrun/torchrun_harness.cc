#include "torchrun_harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace torchrun_test {

bool HavePython() { return ::access("/usr/bin/python3", X_OK) == 0; }

bool HaveTorch() {
  return HavePython() &&
         std::system("/usr/bin/python3 -c 'import torch.distributed' >/dev/null 2>&1") == 0;
}

std::string WriteFile(const ScratchDir& dir, const std::string& name, const std::string& text,
                      bool executable) {
  const std::string path = dir / name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
  ::chmod(path.c_str(), executable ? 0755 : 0644);
  return path;
}

std::string WritePrintEnv(const ScratchDir& dir, const std::string& name) {
  return WriteFile(dir, name,
                   "import os, sys\n"
                   "print('EXE=' + sys.executable)\n"
                   "print('ARGS=' + ' '.join(sys.argv[1:]))\n"
                   "for k, v in sorted(os.environ.items()):\n"
                   "    print(k + '=' + v)\n");
}

std::vector<std::string> TrainctlRun(const std::vector<std::string>& args,
                                     const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {"/usr/bin/env",   "-u", "PYTHONUNBUFFERED", "-u",
                                   "VIRTUAL_ENV",    "-u", "TRAINCTL_PYTHON",  "-u",
                                   "OMP_NUM_THREADS"};
  for (const auto& [name, value] : env) argv.push_back(name + "=" + value);
  argv.push_back(launcher_test::Trainctl());
  argv.push_back("run");
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::map<std::string, std::string> EnvOfRank(const std::string& output, int rank) {
  std::map<std::string, std::string> vars;
  const std::string prefix = "[rank " + std::to_string(rank) + "] ";
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) != 0) continue;
    line = line.substr(prefix.size());
    const std::size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

}  // namespace torchrun_test
