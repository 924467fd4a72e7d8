# fuzz/fuzz.cmake: the libFuzzer targets (TV_FUZZ=ON, clang), one per
# fuzz/*.c, included from the top-level CMakeLists.txt (where the host's
# embedded lua/ source is generated). Each target is also a CTest test,
# fuzz.<name>: its seeds and regression inputs (fuzz/corpus/<name>/)
# replayed, then TV_FUZZ_SECONDS of mutation. Longer runs: scripts/fuzz.sh.
set(TV_FUZZ_SECONDS 5 CACHE STRING "Seconds of mutation per target in the fuzz.* tests")
enable_testing()

file(GLOB TV_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*.c)
foreach(src ${TV_FUZZ_SOURCES}) # one target per file
  get_filename_component(name ${src} NAME_WE)
  add_executable(fuzz_${name} ${src})
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/fuzz
                             ${LUA_INCLUDE_DIR})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_${name} PRIVATE tv_core)
  add_test(NAME fuzz.${name}
           COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/run.sh $<TARGET_FILE:fuzz_${name}>
                   ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name} ${CMAKE_BINARY_DIR}/fuzz/${name}
                   ${TV_FUZZ_SECONDS} fresh)
  math(EXPR timeout "${TV_FUZZ_SECONDS} + 120")
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT ${timeout})
endforeach()

# Targets on the Lua binding link it as the host does (its objects, static
# Lua); lua_api loads the lua/ files the host embeds; host_args compiles the
# host's main.c.
foreach(name lua_api names host_args control)
  target_sources(fuzz_${name} PRIVATE $<TARGET_OBJECTS:tv_lua>)
  target_link_libraries(fuzz_${name} PRIVATE ${LUA_STATIC_LIBRARY} PkgConfig::JANSSON m dl) # (ljson.c)
endforeach()
foreach(name lua_api host_args control)
  target_sources(fuzz_${name} PRIVATE ${TV_EMBEDDED_C})
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_SOURCE_DIR}/src/host)
endforeach()
# control: the control API's server (src/control/) as the host links it.
target_sources(fuzz_control PRIVATE $<TARGET_OBJECTS:tv_control>)
target_link_libraries(fuzz_control PRIVATE PkgConfig::MHD PkgConfig::JANSSON)
target_compile_definitions(fuzz_host_args PRIVATE TV_HOST_VERSION="${PROJECT_VERSION}")
# host_args: main.c reaches the control server's module and taskvisor ctl.
target_sources(fuzz_host_args PRIVATE $<TARGET_OBJECTS:tv_control> ${TV_CTL_SOURCES})
target_link_libraries(fuzz_host_args PRIVATE PkgConfig::MHD PkgConfig::JANSSON PkgConfig::TV_CTL_DEPS)
# lua_api: log files of fuzzed process specs are redirected (see the file).
target_link_options(fuzz_lua_api PRIVATE -Wl,--wrap=tv_outfile_open)
