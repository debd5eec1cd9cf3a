# Sanitizer builds: TRAIN_SANITIZE is a -fsanitize= list ("address,undefined" or "thread";
# scripts/test --sanitize sets it in a build directory of its own). TRAIN_FUZZ (tests/fuzz)
# adds libFuzzer's coverage instrumentation to everything, so the fuzz targets see the code
# they call; it needs clang.
set(TRAIN_SANITIZE "" CACHE STRING "Build with -fsanitize=<list>, e.g. address,undefined or thread")
option(TRAIN_FUZZ "Build the fuzz targets with libFuzzer (clang only)" OFF)

set(_train_sanitize "${TRAIN_SANITIZE}")
if(TRAIN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TRAIN_FUZZ=ON needs clang (libFuzzer): configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(_train_sanitize STREQUAL "")
    set(_train_sanitize "address,undefined")
  endif()
  string(APPEND _train_sanitize ",fuzzer-no-link")
endif()
if(NOT _train_sanitize STREQUAL "")
  # Frame pointers for readable stacks; a UBSan finding fails the test instead of scrolling by.
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${_train_sanitize}>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=undefined>)
  # GCC's flow analysis sees through the sanitizers' instrumentation badly and warns of
  # uninitialized members inside libstdc++ (std::regex, std::function): false positives that
  # the normal build does not have.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
    # Boost.Asio's handler completion has a std::atomic_thread_fence, which TSan does not
    # model (GCC warns); the scheduler's mutex that hands the handler over is what TSan sees.
    if(_train_sanitize MATCHES "thread")
      add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-tsan>)
    endif()
  endif()
  add_link_options(-fsanitize=${_train_sanitize})
  message(STATUS "trainctl: sanitizers ${_train_sanitize}")
endif()
