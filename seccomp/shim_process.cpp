#include "shim_process.hpp"

#include "lokt/preload_env.hpp"
#include "lokt/proc/event_poll.hpp"
#include "lokt/proc/exit_status.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/seccomp_pass.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace lokt::seccomp {

uint64_t new_pass_word() {
    uint64_t word = 0;
    while (word == 0) {
        if (::getrandom(&word, sizeof word, 0) != static_cast<ssize_t>(sizeof word)) {
            // No entropy source (pre-3.17 kernel or seccomp'ed away): time and pid still make
            // the word differ between runs, which is all it must do.
            word = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                   (static_cast<uint64_t>(::getpid()) << 32);
        }
    }
    return word;
}

std::vector<std::string> child_environment(const SeccompShimOptions& opt, uint64_t pass_word) {
    std::vector<std::pair<std::string, std::string>> set = {
        // A preload shim present in the tree must not lock a second time what we lock: it
        // only screens execs for the filter (LOKT_SHIM=seccomp), or stays off.
        {"LOKT_SHIM", pass_word ? "seccomp" : "off"},
        {"LOKT_BIN", opt.lokt_bin},
        {"LOKT_ROOT", opt.root.path},
        {"LOKT_RULES", opt.rules_path},
        {"LOKT_BACKEND", opt.backend_url},
    };
    if (pass_word) {
        char pass[seccomp_pass::kTextBytes];
        seccomp_pass::format({pass_word, opt.rules->fingerprint}, pass);
        set.emplace_back(seccomp_pass::kEnv, pass);
        set.emplace_back("LD_PRELOAD", preload_list_with(std::getenv("LD_PRELOAD"), opt.preload_lib));
        set.emplace_back("ASAN_OPTIONS", asan_options_for_preload(std::getenv("ASAN_OPTIONS")));
    } else {
        set.emplace_back(seccomp_pass::kEnv, "");  // an outer run's word is not ours: dropped
    }
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        bool replaced = false;
        for (const auto& [k, v] : set)
            if (std::strncmp(*e, k.c_str(), k.size()) == 0 && (*e)[k.size()] == '=') replaced = true;
        if (!replaced) env.emplace_back(*e);
    }
    for (const auto& [k, v] : set)
        if (!v.empty()) env.push_back(k + "=" + v);
    return env;
}

// fork() without exec is safe only in a single-threaded process (a lock held by another
// thread would stay locked forever in the copy); docs/coding-guidelines.md. A joined thread
// can still be listed for a moment (its tid is cleared before the kernel reaps it).
bool single_threaded() {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    for (;;) {
        auto threads = sys::thread_count();
        if (threads && *threads == 1) return true;
        if (!threads || std::chrono::steady_clock::now() >= until) return false;
        ::sched_yield();
    }
}

void detach_stdio() {
    int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    for (int i = 0; i < 3; ++i) ::dup2(fd, i);
    if (fd > 2) ::close(fd);
}

int wait_plain(pid_t child, int sigfd) {
    proc::PollHealth health;
    for (;;) {
        pollfd p{sigfd, POLLIN, 0};
        // Whatever poll says, the reads below are non-blocking: a failing poll costs a
        // bounded pause per turn (reported once), never a spin.
        proc::poll_events(&p, 1, Deadline::forever(), health, "lokt shim");
        for (const auto& si : proc::read_signals(sigfd)) {
            const int sig = static_cast<int>(si.ssi_signo);
            if (sig != SIGCHLD) {
                if (si.ssi_code != SI_KERNEL) ::kill(child, sig);
                continue;
            }
        }
        int st = 0;
        pid_t w = ::waitpid(child, &st, WNOHANG);
        if (w == child) return proc::exit_code(proc::exit_from_wait_status(st));
        if (w < 0 && errno == ECHILD) return 1;
    }
}

} // namespace lokt::seccomp
