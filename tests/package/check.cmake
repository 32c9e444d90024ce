# ctest's package_consumers: installs the build (BUILD_DIR) into WORK_DIR/prefix, builds and runs
# tests/package as a user's project with find_package(cuact) from there, and configures it with
# add_subdirectory(SOURCE_DIR). Run as cmake -D... -P check.cmake.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX_COMPILER CUDA_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check.cmake needs -D${var}=...")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${result}):\n${out}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
run("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
foreach(file include/cuact/activation.hpp include/cuact/cuact.h include/cuact/functors.cuh
             lib/cmake/cuact/cuactConfig.cmake lib/cmake/cuact/cuactTargets.cmake)
  if(NOT EXISTS "${WORK_DIR}/prefix/${file}")
    message(FATAL_ERROR "not installed: ${file}")
  endif()
endforeach()

run("configure with find_package(cuact)" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package"
    -B "${WORK_DIR}/package" -DCUACT_CONSUME=package "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" -DCMAKE_BUILD_TYPE=Release)
run("build the consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/package")
run("run the consumer" "${WORK_DIR}/package/consumer")

run("configure with add_subdirectory(cuact)" ${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package"
    -B "${WORK_DIR}/subdirectory" -DCUACT_CONSUME=subdirectory "-DCUACT_SOURCE_DIR=${SOURCE_DIR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CUDA_COMPILER=${CUDA_COMPILER}"
    -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_TYPE=Release)
