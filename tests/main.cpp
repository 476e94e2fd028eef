// The Catch2 test runner: v2's generated main, or v3's session (v3 has no CATCH_CONFIG_MAIN).
#ifdef LOKT_CATCH2_V3
#include <catch2/catch_session.hpp>

int main(int argc, char** argv) { return Catch::Session().run(argc, argv); }
#else
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
