// Whether a test binary was built with a sanitizer, and what follows for its tests. ASan reserves
// terabytes of shadow memory and maps more as it runs, so a process under an address-space limit
// (RLIMIT_AS) dies inside the sanitizer before the code under test can fail cleanly: tests that set
// such a limit skip themselves in that build (scripts/test --sanitize) and run everywhere else.
#ifndef TRAIN_TESTS_SANITIZER_BUILD_H_
#define TRAIN_TESTS_SANITIZER_BUILD_H_

#if defined(__SANITIZE_ADDRESS__)
#define TRAIN_TEST_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRAIN_TEST_ADDRESS_SANITIZER 1
#endif
#endif
#ifndef TRAIN_TEST_ADDRESS_SANITIZER
#define TRAIN_TEST_ADDRESS_SANITIZER 0
#endif

#if defined(__SANITIZE_THREAD__)
#define TRAIN_TEST_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TRAIN_TEST_THREAD_SANITIZER 1
#endif
#endif
#ifndef TRAIN_TEST_THREAD_SANITIZER
#define TRAIN_TEST_THREAD_SANITIZER 0
#endif

// How many times slower code runs in this build, at worst, on a busy machine: ThreadSanitizer
// 5-15x, AddressSanitizer about 2-3x. Tests that give a peer a short deadline to show a fault
// (a member that never calls, an abort noticed promptly) scale their times by it, so that a
// slow start is not taken for the fault under test.
inline constexpr int kTestTimeScale =
    TRAIN_TEST_THREAD_SANITIZER ? 10 : (TRAIN_TEST_ADDRESS_SANITIZER ? 3 : 1);

#define TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN()                                           \
  if (TRAIN_TEST_ADDRESS_SANITIZER)                                                    \
  GTEST_SKIP() << "an address-space limit (RLIMIT_AS) cannot hold AddressSanitizer's " \
                  "shadow memory"

#endif  // TRAIN_TESTS_SANITIZER_BUILD_H_
