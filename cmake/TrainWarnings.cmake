# Warnings for every target of this project: -Wall -Wextra, and the build stays warning-free.
# TRAIN_WERROR turns them into errors (scripts/test sets it so a new warning fails CI).
option(TRAIN_WERROR "Treat warnings as errors" OFF)
add_library(train_warnings INTERFACE)
target_compile_options(train_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${TRAIN_WERROR}>>:-Werror>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${TRAIN_WERROR}>>:-Werror=all-warnings>)
