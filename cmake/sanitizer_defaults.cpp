// Linked into the executables of a -DLOKT_SANITIZE=ON build only: the sanitizers' default
// options live in the binary, so a run needs no ASAN_OPTIONS/UBSAN_OPTIONS of its own (the
// integration tests scrub both from their environment) and a finding cannot be missed.
//   exitcode=86           a report never passes for one of lokt's documented exit codes
//   halt_on_error         the first finding ends the process (UBSan would only print)
//   verify_asan_link_order=0  `lokt shim` starts lokt with liblokt_preload.so preloaded,
//                         which is not instrumented (see docs/coding-guidelines.md)
//   detect_leaks=0        LeakSanitizer stops the world with ptrace, which containers and
//                         the seccomp tests forbid; leaks do not change behaviour here
extern "C" const char* __asan_default_options() {
    return "exitcode=86:halt_on_error=1:abort_on_error=0:verify_asan_link_order=0:detect_leaks=0";
}
extern "C" const char* __ubsan_default_options() {
    return "exitcode=86:halt_on_error=1:print_stacktrace=1";
}
