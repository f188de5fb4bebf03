# Every tests/<label>/test_*.c is one test executable with ctest label <label>.
# Exit 77 means SKIP (used by gpu tests on machines without a GPU).
foreach(label unit golden cli gpu slow)
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${label}/test_*.c)
  foreach(src ${tests})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE silt)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
    target_compile_options(${name} PRIVATE ${SILT_WARN})
    if(SILT_HAVE_CUDA)
      set_target_properties(${name} PROPERTIES LINKER_LANGUAGE CUDA)
    endif()
    add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(${name} PROPERTIES LABELS ${label} SKIP_RETURN_CODE 77
      ENVIRONMENT "SILT_GEN=$<TARGET_FILE:gen>;SILT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
endforeach()

# Shell-driven CLI tests: tests/cli/test_*.sh (lib.sh holds their shared helpers), run with the gen binary's path.
file(GLOB cli_scripts CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/cli/test_*.sh)
foreach(script ${cli_scripts})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli_${name} COMMAND bash ${script} $<TARGET_FILE:gen> WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(cli_${name} PROPERTIES LABELS cli SKIP_RETURN_CODE 77
    ENVIRONMENT "SILT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()

if(SILT_FUZZ)
  # Instrument the library too, so libFuzzer sees coverage of the parser and
  # the sanitizers check its memory accesses (not only the fuzz entry points).
  # UB in the library aborts (a finding), and every target linking silt gets
  # the sanitizer runtimes.
  target_compile_options(silt PRIVATE -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  target_link_options(silt INTERFACE -fsanitize=address,undefined)
  file(GLOB fuzzers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
  foreach(src ${fuzzers})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE silt)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
endif()
