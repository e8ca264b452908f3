# cmake -P script behind the install_consumer test (tests/install/CMakeLists.txt
# passes BUILD_DIR, SOURCE_DIR, WORK_DIR, GENERATOR, CXX_COMPILER, CXX_FLAGS,
# BUILD_TYPE).
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
endfunction()

# A fresh prefix: only what `cmake --install` puts there may be found.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${prefix})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f bin/errand include/errand/client.hpp include/errand/worker.hpp include/errand/types.hpp)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()

set(projects ${SOURCE_DIR}/tests/install/consumer)
file(GLOB example_lists ${SOURCE_DIR}/examples/*/CMakeLists.txt)
foreach(list ${example_lists})
  get_filename_component(dir ${list} DIRECTORY)
  list(APPEND projects ${dir})
endforeach()

foreach(project ${projects})
  get_filename_component(name ${project} NAME)
  # Build directories are kept between runs, so a rerun only rebuilds what
  # changed; the prefix is at the same path each time.
  set(build ${WORK_DIR}/build-${name})
  run(${CMAKE_COMMAND} -S ${project} -B ${build} -G ${GENERATOR}
      -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
  run(${CMAKE_COMMAND} --build ${build})
  message(STATUS "built ${name} against ${prefix}")
endforeach()

# Port 1 on loopback: nothing listens there, so the connection is refused.
execute_process(COMMAND ${WORK_DIR}/build-consumer/app http://127.0.0.1:1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 3 OR NOT out MATCHES "^kTransport: cannot reach errand at http://127\\.0\\.0\\.1:1: ")
  message(FATAL_ERROR "the consumer should report a transport error; exit ${rc}\n${out}${err}")
endif()
message(STATUS "consumer: ${out}")
