// The same worker binary under the other launchers: torchrun (rank 0 hosts libtrain's store at
// MASTER_ADDR:MASTER_PORT) and mpirun (Open MPI's environment). Skipped where they are absent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "launcher_harness.h"

namespace launcher_test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kTorchrun[] = "/usr/bin/torchrun";
constexpr char kMpirun[] = "/usr/bin/mpirun";

TEST(Compat, UnderTorchrunRankZeroHostsTheStoreAndEveryRankMeets) {
  if (access(kTorchrun, X_OK) != 0) GTEST_SKIP() << "torchrun not installed (python3-torch)";
  ScratchDir dir;
  // --redirects/--tee: torch 1.13 on Python 3.11 fails to launch without them.
  Process torchrun({kTorchrun, "--nproc_per_node", "2", "--no_python", "--redirects", "1", "--tee",
                    "1", "--rdzv_backend", "c10d", "--rdzv_endpoint",
                    "localhost:" + std::to_string(FreePort()), TestWorker()},
                   dir / "out");
  ASSERT_EQ(torchrun.Wait(120s), 0) << torchrun.Output();
  EXPECT_THAT(torchrun.Output(), HasSubstr("ready rank 0 of 2 restart 0 round  via torchrun"));
  EXPECT_THAT(torchrun.Output(), HasSubstr("ready rank 1 of 2 restart 0 round  via torchrun"));
}

TEST(Compat, UnderTorchrunsStaticRendezvousTheErrorSaysHowToLaunch) {
  if (access(kTorchrun, X_OK) != 0) GTEST_SKIP() << "torchrun not installed (python3-torch)";
  ScratchDir dir;
  Process torchrun({kTorchrun, "--nproc_per_node", "1", "--no_python", "--redirects", "1", "--tee",
                    "1", "--master_port", std::to_string(FreePort()), TestWorker()},
                   dir / "out");
  ASSERT_NE(torchrun.Wait(120s), 0) << torchrun.Output();
  EXPECT_THAT(torchrun.Output(), HasSubstr("--rdzv_backend c10d"));
}

TEST(Compat, UnderMpirunEveryRankKnowsItsPlace) {
  if (access(kMpirun, X_OK) != 0) GTEST_SKIP() << "mpirun not installed (openmpi-bin)";
  ScratchDir dir;
  Process mpirun(
      {kMpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2", TestWorker(), "--no-barrier"},
      dir / "out");
  ASSERT_EQ(mpirun.Wait(60s), 0) << mpirun.Output();
  EXPECT_THAT(mpirun.Output(), HasSubstr("ready rank 0 of 2 restart 0 round  via openmpi"));
  EXPECT_THAT(mpirun.Output(), HasSubstr("ready rank 1 of 2 restart 0 round  via openmpi"));
}

}  // namespace
}  // namespace launcher_test
