# Third-party dependencies, all from Debian's packages (scripts/setup installs them).
find_package(Threads REQUIRED)
find_package(spdlog REQUIRED)
find_package(Protobuf REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest)
