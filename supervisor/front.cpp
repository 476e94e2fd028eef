#include "lokt/supervisor.hpp"
#include "lokt/proc/droppable_write.hpp"

#include "lokt/exit_code.hpp"
#include "channel.hpp"
#include "lokt/proc/event_poll.hpp"
#include "lokt/proc/proc_title.hpp"
#include "supervisor_loop.hpp"
#include "teardown.hpp"
#include "terminal.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <functional>
#include <optional>

namespace lokt {
namespace {

using namespace lokt::sup;
using lokt::proc::PollHealth;
using lokt::proc::SignalState;
using lokt::proc::capture_signal_state;
using lokt::proc::make_signalfd;
using lokt::proc::poll_events;
using lokt::proc::read_signals;
using lokt::proc::relayed_signals;
using lokt::proc::set_process_title;
using lokt::proc::write_droppable;

class Front {
public:
    Front(const GuardOptions& opt, LockKeeper& locks) : opt_(opt), locks_(locks) {}
    int run();

private:
    // The steps of run(); each returns the guard's exit code when it ends the run.
    std::optional<int> take_signals();      ///< caller's signal state, subreaper, blocked set
    std::optional<int> start_supervisor();  ///< pipes and the fork
    std::optional<int> watch_signals();     ///< the signalfd the loop relays from
    void wait_for_supervisor();             ///< relays and reads status until it exits
    [[noreturn]] void be_supervisor(sys::Pipe& life, sys::Pipe& status);
    void on_signals();
    void on_status();
    void relay(int sig);
    int take_over(int sup_signal);

    const GuardOptions& opt_;
    LockKeeper& locks_;
    SignalState caller_;
    sigset_t relayed_{};  ///< what we pass on: the relayable signals the caller did not ignore
    Terminal tty_;
    sys::UniqueFd sigfd_, life_, status_;
    pid_t sup_ = 0;
    std::optional<int> sup_status_;
    StatusReader reader_;
    std::vector<HeldLock> planned_;  // every lock the supervisor may take, with its lock id
    pid_t pgid_ = 0;
    bool stopped_ = false;
};

void Front::be_supervisor(sys::Pipe& life, sys::Pipe& status) {
    life.write.reset();
    status.read.reset();
    std::string names;
    for (const auto& h : planned_) names += " " + h.name;
    set_process_title("lokt supervisor", "lokt guard" + names + " [supervisor]");
    int code = to_int(ExitCode::error);
    try {
        SupervisorIo io{std::move(life.read), std::move(status.write), tty_.fd(), caller_, planned_};
        code = run_supervisor(opt_, locks_, std::move(io));
    } catch (const std::exception& e) {
        write_droppable(STDERR_FILENO, std::string("error: supervisor: ") + e.what() + "\n");
        locks_.release("supervisor-error");
    }
    locks_.discard_proofs();  // those of locks never taken; released ones went with their lock
    // A forked child never returns through the parent's stack (or runs its atexit handlers).
    ::_exit(code);
}

int Front::run() {
    if (auto err = take_signals()) return *err;
    // Before the fork, so front and supervisor share one open file description of each proof:
    // the kernel drops its flock only when both are gone, whatever kills them.
    auto planned = locks_.prepare();
    if (!planned) return to_int(ExitCode::error);
    planned_ = std::move(*planned);
    // Until the supervisor runs, the proofs are ours to remove on the way out.
    struct Discard {
        LockKeeper& k;
        bool armed = true;
        ~Discard() {
            if (armed) k.discard_proofs();
        }
    } discard{locks_};
    if (auto err = start_supervisor()) return *err;
    discard.armed = false;  // the supervisor removes them, or take_over() if it dies
    if (auto err = watch_signals()) return *err;
    wait_for_supervisor();
    const int code = WIFEXITED(*sup_status_) ? WEXITSTATUS(*sup_status_) : take_over(WTERMSIG(*sup_status_));
    tty_.take_back();
    return code;
}

std::optional<int> Front::take_signals() {
    caller_ = capture_signal_state();
    tty_ = Terminal::detect();
    // Orphans of a killed supervisor come to us, so we can finish its teardown.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        write_droppable(STDERR_FILENO, "error: cannot become a child subreaper\n");
        return to_int(ExitCode::error);
    }
    relayed_ = relayed_signals(caller_.ignored);
    sigset_t blocked = relayed_;
    ::sigaddset(&blocked, SIGCHLD);
    ::sigaddset(&blocked, SIGTTIN);  // the supervisor writes to a terminal it may not own
    ::sigaddset(&blocked, SIGTTOU);
    ::pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    // An ignored SIGCHLD would make the kernel reap our children behind our back.
    if (::sigismember(&caller_.ignored, SIGCHLD)) ::signal(SIGCHLD, SIG_DFL);
    return std::nullopt;
}

std::optional<int> Front::start_supervisor() {
    auto life = sys::pipe();
    auto status = sys::pipe();
    if (!life || !status) {
        write_droppable(STDERR_FILENO, "error: pipe: cannot create\n");
        return to_int(ExitCode::error);
    }
    // The supervisor goes on running C++ in the copy: only safe from a single-threaded
    // process (docs/coding-guidelines.md). A backend that starts a thread must do so after
    // this fork, in the supervisor.
    if (auto threads = sys::thread_count(); !threads || *threads != 1) {
        write_droppable(STDERR_FILENO,
                        "error: lokt guard: the front is not single-threaded; cannot fork the supervisor\n");
        return to_int(ExitCode::error);
    }
    sup_ = ::fork();
    if (sup_ < 0) {
        write_droppable(STDERR_FILENO, "error: fork: cannot start the supervisor\n");
        return to_int(ExitCode::error);
    }
    if (sup_ == 0) be_supervisor(*life, *status);
    life_ = std::move(life->write);
    status_ = std::move(status->read);
    return std::nullopt;  // the pipes' other ends close with `life` and `status`
}

std::optional<int> Front::watch_signals() {
    sigset_t watched = relayed_;
    ::sigaddset(&watched, SIGCHLD);
    auto sfd = make_signalfd(watched);
    if (!sfd) {
        // Without it we cannot relay; the supervisor sees the life pipe close and tears down.
        write_droppable(STDERR_FILENO, "error: " + sfd.error().message + "\n");
        life_.reset();
        int st;
        while (::waitpid(sup_, &st, 0) < 0 && errno == EINTR) {}
        return to_int(ExitCode::error);
    }
    sigfd_ = std::move(*sfd);
    return std::nullopt;
}

void Front::wait_for_supervisor() {
    PollHealth health;
    while (!sup_status_) {
        struct pollfd fds[2] = {{sigfd_.get(), POLLIN, 0}, {status_.get(), POLLIN, 0}};
        if (poll_events(fds, status_.valid() ? 2 : 1, Deadline::forever(), health, "lokt guard") == 0) {
            // Interrupted, or poll failed: the signalfd is non-blocking, so looking at it
            // anyway keeps relaying and notices the supervisor's exit even then.
            on_signals();
            continue;
        }
        if (fds[1].revents) on_status();
        if (fds[0].revents) on_signals();
    }
    if (status_.valid()) on_status();  // a last "L" line written right before dying
}

void Front::on_signals() {
    const pid_t self = ::getpid();
    for (const auto& si : read_signals(sigfd_.get())) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            int st;
            pid_t r;
            do {
                r = ::waitpid(sup_, &st, WNOHANG);
            } while (r < 0 && errno == EINTR);
            if (r == sup_) sup_status_ = st;
            continue;
        }
        if (static_cast<pid_t>(si.ssi_pid) == self) continue;  // SIGPIPE from our own write
        relay(sig);
    }
}

void Front::relay(int sig) {
    if (sig == SIGCONT && stopped_) {
        // `fg`: the shell gave our group the terminal and continued us; pass it on. After
        // `bg` we are not in the foreground and the command keeps running in the background.
        stopped_ = false;
        if (tty_.we_are_foreground()) tty_.give_to(pgid_);
    }
    if (!life_.valid()) return;
    unsigned char b = static_cast<unsigned char>(sig);
    if (::write(life_.get(), &b, 1) < 0 && errno == EPIPE) life_.reset();
}

void Front::on_status() {
    char buf[512];
    ssize_t n = ::read(status_.get(), buf, sizeof buf);
    if (n < 0) return;  // EINTR/EAGAIN: poll again
    if (n == 0) {
        status_.reset();
        return;
    }
    for (const auto& m : reader_.feed(std::string_view(buf, static_cast<size_t>(n)))) {
        if (m.kind == 'P') pgid_ = m.pgid;
        if (m.kind == 'S' && tty_.active()) {
            // Ctrl-Z stopped the command: take the terminal back and stop ourselves, so the
            // caller's shell sees its job stop (dumb-init's approach, plus the terminal).
            tty_.take_back();
            stopped_ = true;
            ::raise(SIGSTOP);
        }
    }
}

int Front::take_over(int sup_signal) {
    // The supervisor died (SIGKILL, crash). The command got SIGKILL from its PDEATHSIG; the
    // rest of the tree is re-parented to us. Our copy of the liveness proof kept the locks
    // alive all along; naming ourselves as holder serves judges that know only pids. A TTL
    // lock is renewed while the teardown runs, so it cannot expire under a live tree.
    life_.reset();
    locks_.adopt(planned_);
    // (On etcd a guard without --ttl holds a short lease too: renew_every() says so.)
    const Nanos every = locks_.renew_every();
    std::function<void()> renew;
    if (every.count() > 0) renew = [this] { locks_.renew(); };
    drain_tree(sigfd_.get(), pgid_, opt_.kill_after, renew, every);
    locks_.release("supervisor-died");
    locks_.discard_proofs();
    return to_int(ExitCode::signal_base) + sup_signal;
}

} // namespace

int run_guard(const GuardOptions& opt, LockKeeper& locks) {
    Front f(opt, locks);
    return f.run();
}

} // namespace lokt
