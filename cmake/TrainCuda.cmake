# CUDA is auto-detected: TRAIN_WITH_CUDA=AUTO builds the CUDA parts when nvcc is found
# (whether or not a GPU is present: the code turns "no driver" into a clear Status).
set(TRAIN_WITH_CUDA AUTO CACHE STRING "Build the CUDA parts: AUTO, ON or OFF")
set_property(CACHE TRAIN_WITH_CUDA PROPERTY STRINGS AUTO ON OFF)

set(TRAIN_CUDA_ENABLED OFF)
if(NOT TRAIN_WITH_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # "native" fails without a GPU; sm_80 (A100) and sm_90 (H100/H200) are the targets.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)
    endif()
    # One runtime only: the shared cudart (the static default plus CUDA::cudart links both).
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    # CMake 3.25 has no CUDA20 flags for nvcc; device code needs no more than C++17.
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(TRAIN_CUDA_ENABLED ON)
  elseif(TRAIN_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TRAIN_WITH_CUDA=ON but no CUDA compiler was found; "
                        "install the CUDA Toolkit or set TRAIN_WITH_CUDA=AUTO/OFF")
  endif()
endif()
