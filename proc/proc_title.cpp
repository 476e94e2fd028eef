#include "lokt/proc/proc_title.hpp"

#include <sys/prctl.h>

#include <cstring>

namespace lokt::proc {
namespace {

// [begin, end) of the argv strings as the kernel laid them out: one contiguous block (see
// proc(5), /proc/PID/cmdline, and the arg_start/arg_end of prctl PR_SET_MM). Only the part
// made of argv's own strings is used; the environment after it is left alone.
char* g_begin = nullptr;
char* g_end = nullptr;

} // namespace

void remember_argv(int argc, char** argv) {
    if (argc <= 0 || !argv || !argv[0]) return;
    char* end = argv[0];
    for (int i = 0; i < argc; ++i) {
        // Only a contiguous run counts: a string elsewhere (an argv someone rebuilt) ends it.
        if (!argv[i] || argv[i] != end) break;
        end = argv[i] + std::strlen(argv[i]) + 1;
    }
    g_begin = argv[0];
    g_end = end;
}

void set_process_title(const std::string& comm, const std::string& title) {
    // PR_SET_NAME takes at most 16 bytes with the NUL and cuts the rest itself.
    (void)::prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
    if (!g_begin || g_end <= g_begin) return;
    const size_t room = static_cast<size_t>(g_end - g_begin) - 1;  // keep one NUL at the end
    const size_t n = title.size() < room ? title.size() : room;
    std::memcpy(g_begin, title.data(), n);
    // NULs after the title: the kernel reports up to the first NUL when the last byte of the
    // area is a NUL, so what ps shows is exactly the title.
    std::memset(g_begin + n, 0, static_cast<size_t>(g_end - g_begin) - n);
}

} // namespace lokt::proc
