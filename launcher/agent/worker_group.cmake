# The node's worker processes: spawning, output, reaping, signals, the job watchdog that kills
# them with their launcher; and the terminal they print to. Included from
# launcher/agent/CMakeLists.txt (and by the agent unit tests).
add_library(trainctl_process STATIC
  ${CMAKE_CURRENT_LIST_DIR}/job_cgroup.cc
  ${CMAKE_CURRENT_LIST_DIR}/job_watchdog.cc
  ${CMAKE_CURRENT_LIST_DIR}/memory_dir.cc
  ${CMAKE_CURRENT_LIST_DIR}/output_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_fd.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_monitor.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_spawn.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_tree.cc
  ${CMAKE_CURRENT_LIST_DIR}/terminal.cc
  ${CMAKE_CURRENT_LIST_DIR}/worker_group.cc)
target_include_directories(trainctl_process PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(trainctl_process
  PUBLIC train::train train_internal Threads::Threads
  PRIVATE train_warnings)
