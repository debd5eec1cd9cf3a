// Whether a test binary was built with AddressSanitizer. ASan reserves terabytes of shadow
// memory and maps more as it runs, so a process under an address-space limit (RLIMIT_AS) dies
// inside the sanitizer before the code under test can fail cleanly: tests that set such a
// limit skip themselves in that build (scripts/test --sanitize) and run everywhere else.
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

#define TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN()                                           \
  if (TRAIN_TEST_ADDRESS_SANITIZER)                                                    \
  GTEST_SKIP() << "an address-space limit (RLIMIT_AS) cannot hold AddressSanitizer's " \
                  "shadow memory"

#endif  // TRAIN_TESTS_SANITIZER_BUILD_H_
