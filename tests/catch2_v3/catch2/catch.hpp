#pragma once
// Catch2 v3 under the v2 header name every test includes (only on the include path when the
// build found Catch2 v3; see the top CMakeLists.txt). The tests use only macros both share.
#include <catch2/catch_all.hpp>
