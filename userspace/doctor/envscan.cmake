# doctor: where the ROCm environment is really set, and the user's PyTorch installs (issue 14).
# Included from the top-level CMakeLists.txt until the userspace reshape gives every command its
# folder in the one library target; then these sources join it.
add_library(vmfix_envscan STATIC
  ${PROJECT_SOURCE_DIR}/userspace/common/host_files.cpp
  ${PROJECT_SOURCE_DIR}/userspace/doctor/env_sources.cpp
  ${PROJECT_SOURCE_DIR}/userspace/doctor/python_envs.cpp
  ${PROJECT_SOURCE_DIR}/userspace/doctor/advice.cpp
  ${PROJECT_SOURCE_DIR}/userspace/doctor/gather.cpp
  ${PROJECT_SOURCE_DIR}/userspace/report/redact.cpp
  ${PROJECT_SOURCE_DIR}/userspace/report/report.cpp
)
target_include_directories(vmfix_envscan PUBLIC ${PROJECT_SOURCE_DIR}/userspace)
target_compile_options(vmfix_envscan PRIVATE ${VMFIX_WARNINGS})
target_link_libraries(vmfix_envscan PUBLIC vmfix)
# The CLI wiring of doctor and report (joins the command table with the reshape).
execute_process(COMMAND git -C ${PROJECT_SOURCE_DIR} rev-parse --short=12 HEAD OUTPUT_VARIABLE VMFIX_COMMIT
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT VMFIX_COMMIT)
  set(VMFIX_COMMIT "unknown")
endif()
find_package(CLI11 REQUIRED)
add_library(vmfix_doctor_cli STATIC ${PROJECT_SOURCE_DIR}/userspace/doctor/doctor_cli.cpp
  ${PROJECT_SOURCE_DIR}/userspace/report/report_cli.cpp)
target_include_directories(vmfix_doctor_cli PRIVATE ${PROJECT_SOURCE_DIR}/userspace/src)
target_compile_definitions(vmfix_doctor_cli PRIVATE VMFIX_COMMIT="${VMFIX_COMMIT}")
target_compile_options(vmfix_doctor_cli PRIVATE ${VMFIX_WARNINGS})
target_link_libraries(vmfix_doctor_cli PUBLIC vmfix_envscan CLI11::CLI11)
if(VMFIX_BUILD_TESTS)
  find_package(Catch2 3 REQUIRED)
  include(Catch)
  add_executable(envscan_test ${PROJECT_SOURCE_DIR}/tests/unit/doctor/env_sources_test.cpp
    ${PROJECT_SOURCE_DIR}/tests/unit/doctor/python_envs_test.cpp ${PROJECT_SOURCE_DIR}/tests/unit/doctor/report_test.cpp
    ${PROJECT_SOURCE_DIR}/tests/unit/doctor/advice_test.cpp
    ${PROJECT_SOURCE_DIR}/tests/unit/doctor/gather_test.cpp)
  target_compile_options(envscan_test PRIVATE ${VMFIX_WARNINGS})
  target_include_directories(envscan_test PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  target_link_libraries(envscan_test PRIVATE vmfix_envscan Catch2::Catch2WithMain)
  catch_discover_tests(envscan_test TEST_PREFIX "doctor:")
endif()
