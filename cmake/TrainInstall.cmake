# Installation: libtrain.so with its public headers, a relocatable CMake package
# (find_package(libtrain) -> train::train), a pkg-config file, and the trainctl executable.
# Everything is installed relative to the prefix, so `cmake --install build --prefix P` works
# for any P chosen at install time.
include(CMakePackageConfigHelpers)

# Where find_package(libtrain) looks under a prefix; tests/integration/install expects it.
set(TRAIN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/libtrain)

# spdlog and cudart are private to libtrain.so, but the installed library must still find
# them: keep the link directories outside the system ones (/usr/local/cuda/lib64) in its
# RUNPATH instead of stripping them at install time.
set_target_properties(train PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)

# train links train_headers PUBLIC, so the export set must carry it; users see it as
# train::headers (include directory and the C++17 requirement), and train::train brings it.
set_target_properties(train_headers PROPERTIES EXPORT_NAME headers)

install(TARGETS train train_headers
  EXPORT libtrainTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT Runtime
    NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/libtrain/include/train
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT Development
  FILES_MATCHING PATTERN "*.h")

install(EXPORT libtrainTargets
  NAMESPACE train::
  FILE libtrainTargets.cmake
  DESTINATION ${TRAIN_INSTALL_CMAKEDIR}
  COMPONENT Development)

set(TRAIN_PACKAGE_BUILT_WITH_CUDA ${TRAIN_CUDA_ENABLED})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/libtrainConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libtrain-package/libtrainConfig.cmake
  INSTALL_DESTINATION ${TRAIN_INSTALL_CMAKEDIR}
  NO_SET_AND_CHECK_MACRO)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/libtrain-package/libtrainConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
    ${PROJECT_BINARY_DIR}/libtrain-package/libtrainConfig.cmake
    ${PROJECT_BINARY_DIR}/libtrain-package/libtrainConfigVersion.cmake
  DESTINATION ${TRAIN_INSTALL_CMAKEDIR}
  COMPONENT Development)

# pkg-config: the prefix is derived from the .pc file's own location, so the file stays
# correct wherever the tree is installed or moved.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(TRAIN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(TRAIN_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH pc_to_prefix "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
  set(TRAIN_PC_PREFIX "\${pcfiledir}/${pc_to_prefix}")
  set(TRAIN_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(TRAIN_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(TRAIN_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/libtrain.pc.in
  ${PROJECT_BINARY_DIR}/libtrain-package/libtrain.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/libtrain-package/libtrain.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT Development)

# The launcher finds libtrain.so next to itself (bin/../lib) wherever the tree is installed.
if(TARGET trainctl)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(trainctl_rpath "${CMAKE_INSTALL_LIBDIR}")
  else()
    file(RELATIVE_PATH bin_to_lib "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")
    set(trainctl_rpath "$ORIGIN/${bin_to_lib}")
  endif()
  set_target_properties(trainctl PROPERTIES
    INSTALL_RPATH "${trainctl_rpath}"
    INSTALL_RPATH_USE_LINK_PATH TRUE)
  install(TARGETS trainctl
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    COMPONENT Runtime)
endif()
