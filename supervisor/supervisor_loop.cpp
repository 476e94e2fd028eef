#include "supervisor_loop.hpp"
#include "lokt/proc/droppable_write.hpp"

#include "lokt/exit_code.hpp"
#include "channel.hpp"
#include "lokt/proc/exit_status.hpp"
#include "lokt/proc/held_env.hpp"
#include "lifecycle.hpp"
#include "proctree.hpp"
#include "reaper.hpp"
#include "spawn.hpp"
#include "teardown.hpp"
#include "test_hook.hpp"

#include "lokt/proc/event_poll.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

namespace lokt::sup {
using proc::ChildExit;
using proc::append_held;
using proc::escalates_to_kill;
using proc::exec_failure_code;
using proc::exit_code;
using proc::fence_env;
using proc::kFenceEnv;
using proc::kHeldEnv;
using proc::make_signalfd;
using proc::read_signals;
using proc::relayed_signals;
using proc::release_reason;
using proc::terminates_by_default;
using proc::write_droppable;
namespace {

// After SIGKILL, how often the tree is scanned again for processes forked in between.
constexpr auto kKillRescan = std::chrono::milliseconds(20);
// When the lock-directory watch starts. Destroying an inotify instance waits for an SRCU
// grace period (several ms) inside our exit, which the front and the caller would wait out:
// that doubled the cost of a short guard. A break before the watch starts is found by the
// check made when it does.
constexpr auto kLossWatchAfter = std::chrono::milliseconds(250);

class Supervisor {
public:
    Supervisor(const GuardOptions& opt, LockKeeper& locks, SupervisorIo io)
        : opt_(opt), locks_(locks), io_(std::move(io)) {}

    int run();

private:
    void send(const std::string& msg) { write_droppable(io_.status.get(), msg); }
    std::optional<int> pending_cancel();
    int cancel(int sig);
    bool spawn_command();
    void start_command();
    /// Turns the loop until the lifecycle is done: one poll over the signalfd, the life pipe
    /// and the loss fd, up to the earliest of the three timers.
    void loop();
    /// Runs what is due at `now`: the grace timer, the heartbeat, the loss watch's start.
    void on_timers(Steady::time_point now);
    void arm_heartbeat();
    void start_loss_watch();
    void on_loss_ready();
    void on_signals();
    void on_life();
    void on_losses();
    void relay(int sig);
    void on_children();
    void on_main_exit(const ChildExit& e);
    void front_gone();
    /// Moves the lifecycle (lifecycle.hpp) and carries out the action of the transition.
    void on_event(Event event);
    void arm_grace(std::chrono::nanoseconds after);
    /// The command's group while its leader is unreaped, else every process we still have.
    pid_t tree_target() const { return main_alive_ ? main_ : 0; }
    bool finished() const { return phase_ == Phase::done; }
    /// --on-exit, as the lifecycle table reads it.
    LeftoverPolicy leftovers() const {
        return opt_.on_exit == OnExit::term ? LeftoverPolicy::term : LeftoverPolicy::wait;
    }

    const GuardOptions& opt_;
    LockKeeper& locks_;
    SupervisorIo io_;
    sys::UniqueFd sigfd_;
    int loss_fd_ = -1;  // the keeper's fd while we watch it (owned by the keeper, never closed here)
    // The loop's timers; forever while unarmed.
    Deadline heartbeat_ = Deadline::forever();
    Deadline grace_ = Deadline::forever();
    Deadline loss_start_ = Deadline::forever();

    std::optional<GatedChild> child_;  // the command, held at its gate until the locks name it
    pid_t main_ = 0;        // the command; its pid is also its process group id
    bool main_alive_ = false;  // the leader is running or an unreaped zombie (pgid reserved)
    Phase phase_ = Phase::running;
    std::optional<ChildExit> end_;
    std::string reason_;    // audit reason for the release
    int cancelled_by_ = 0;      // the TERM/HUP/QUIT that started the grace (timeout -k)
    bool main_killed_ = false;  // the command was still running when SIGKILL went out
    size_t losses_seen_ = 0;
    std::optional<int> cancel_sig_;  // the terminating signal (or SIGKILL: front gone) seen while waiting
};

// A terminating signal relayed while the locks were being taken cancels the guard before the
// command starts; other signals (SIGWINCH, SIGCONT, SIGTSTP, SIGURG) have nobody to go to yet
// and are dropped without costing the waiter its place in the queue (docs/guard.md).
std::optional<int> Supervisor::pending_cancel() {
    unsigned char buf[64];
    while (!cancel_sig_) {
        ssize_t n = ::read(io_.life.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) cancel_sig_ = SIGKILL;  // the front is gone
        if (n <= 0) break;  // EAGAIN: nothing pending
        for (ssize_t i = 0; i < n && !cancel_sig_; ++i)
            if (terminates_by_default(buf[i])) cancel_sig_ = static_cast<int>(buf[i]);
    }
    return cancel_sig_;
}

// Ends the guard before the command ran: nothing of it has exec'd, the locks go back.
int Supervisor::cancel(int sig) {
    child_.reset();
    locks_.release(sig == SIGKILL ? "parent-gone" : "cancelled");
    return to_int(ExitCode::signal_base) + sig;
}

bool Supervisor::spawn_command() {
    std::vector<std::pair<std::string, std::string>> ours;
    for (const auto& h : io_.planned) ours.emplace_back(h.name, h.lock_id);
    const char* inherited_env = std::getenv(kHeldEnv);
    const std::string inherited = inherited_env ? inherited_env : "";
    SpawnSpec spec;
    spec.path = opt_.path;
    spec.argv = opt_.argv;
    // A guard above us set its own LOKT_FENCE: ours (set at the gate) or none replaces it.
    spec.env = environment_without(environment_with(kHeldEnv, append_held(inherited, ours)), kFenceEnv);
    // The order of the values start_command() passes to the gate.
    spec.gate_vars = {kFenceEnv, kSlotEnv};
    // on-timeout=run: the command runs holding none of the locks, so it must not claim them.
    spec.alt_env = environment_without(
        environment_without(environment_with(kHeldEnv, append_held(inherited, {})), kFenceEnv), kSlotEnv);
    spec.signals = io_.caller;
    spec.tty_fd = io_.tty_fd;
    auto child = spawn_gated(spec);
    if (!child) {
        write_droppable(STDERR_FILENO, "error: " + child.error().message + "\n");
        return false;
    }
    child_.emplace(std::move(*child));
    return true;
}

void Supervisor::start_command() {
    main_ = child_->pid();
    main_alive_ = true;
    // The front needs the group for the terminal (fg) and for a takeover teardown.
    send(encode_pgid_message(main_));
    const auto held = locks_.held();
    // One slot per guard (the CLI allows --slots with a single NAME): the command's LOKT_SLOT.
    int slot = -1;
    std::vector<std::pair<std::string, int64_t>> fences;
    for (const auto& h : held) {
        slot = std::max(slot, h.slot);
        fences.emplace_back(h.name, h.fence);
    }
    std::string fence = fence_env(fences);
    if (fence.size() > kGateValueMax) fence.clear();  // thousands of names: none rather than a cut list
    child_->open(held.empty(), {fence, slot >= 0 ? std::to_string(slot) : std::string()});
}

int Supervisor::run() {
    // Our own group inside the caller's session (never setsid): a `kill 0` in the command or a
    // signal to the command's group does not hit us, a signal to the whole session does.
    ::setpgid(0, 0);
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        write_droppable(STDERR_FILENO, "error: cannot become a child subreaper\n");
        return to_int(ExitCode::error);
    }
    (void)sys::set_nonblocking(io_.life.get(), true);  // cannot fail on a valid pipe fd
    (void)sys::set_nonblocking(io_.status.get(), true);
    sigset_t set = relayed_signals(io_.caller.ignored);
    ::sigaddset(&set, SIGCHLD);
    auto sfd = make_signalfd(set);  // the front blocked these before forking us
    if (!sfd) {
        write_droppable(STDERR_FILENO, "error: " + sfd.error().message + "\n");
        return to_int(ExitCode::error);
    }
    sigfd_ = std::move(*sfd);

    // The command's group exists before any lock is written, so every lock names it from its
    // first byte (no second write, no window where a lock names only us).
    if (!spawn_command()) return to_int(ExitCode::error);
    test_pause("spawned");
    const auto confirm = [this] { return pending_cancel().has_value(); };
    Acquisition a = locks_.acquire(io_.life.get(), child_->pid(), confirm);
    while (a.end == Acquisition::End::cancelled) {
        // Woken by a relayed signal: only a terminating one (or the front's death) cancels.
        if (auto sig = pending_cancel()) return cancel(*sig);
        a = locks_.acquire(io_.life.get(), child_->pid(), confirm);
    }
    if (a.end == Acquisition::End::refused) return a.exit_code;
    test_pause("locked");
    if (auto sig = pending_cancel()) return cancel(*sig);
    start_command();
    // Do not pin the caller's working directory (or its mount) while we wait.
    if (::chdir("/") != 0) {}

    arm_heartbeat();
    loss_start_ = Deadline::after(kLossWatchAfter);
    on_children();  // the command may have exited before the loop started
    loop();

    // Like `timeout -k`: a command that had to be killed after a relayed TERM/HUP/QUIT ends
    // the guard with that signal's status, not SIGKILL's.
    const int code = cancelled_by_ && main_killed_ ? to_int(ExitCode::signal_base) + cancelled_by_
                     : end_                        ? exit_code(*end_)
                                                   : to_int(ExitCode::signal_base) + SIGKILL;
    // The release event says how the command ended: what "what happened overnight?" asks.
    ReleaseNote note(reason_);
    if (end_) {
        note.exit = code;
        if (end_->signaled) note.signal = end_->value;
    }
    locks_.release(note);
    return code;
}

void Supervisor::loop() {
    proc::PollHealth health;
    while (!finished()) {
        struct pollfd fds[3];
        size_t n = 0;
        const auto watch = [&](int fd) {
            if (fd < 0) return -1;
            fds[n] = {fd, POLLIN, 0};
            return static_cast<int>(n++);
        };
        const int sig = watch(sigfd_.get()), life = watch(io_.life.get()), loss = watch(loss_fd_);
        const Deadline next = Deadline::earliest(Deadline::earliest(heartbeat_, grace_), loss_start_);
        if (proc::poll_events(fds, n, next, health, "lokt guard supervisor") > 0) {
            // Each handler may finish the lifecycle; nothing runs after that.
            const auto ready = [&](int i) { return i >= 0 && fds[i].revents != 0 && !finished(); };
            if (ready(sig)) on_signals();
            if (ready(life)) on_life();
            if (ready(loss)) on_loss_ready();
        }
        if (!finished()) on_timers(Steady::now());
    }
}

void Supervisor::on_timers(Steady::time_point now) {
    if (grace_.passed(now)) {
        grace_ = Deadline::forever();
        on_event(Event::grace_over);
    }
    if (!finished() && heartbeat_.passed(now)) {
        locks_.renew();
        on_losses();
        arm_heartbeat();
    }
    if (!finished() && loss_start_.passed(now)) {
        loss_start_ = Deadline::forever();
        start_loss_watch();
    }
}

void Supervisor::arm_heartbeat() {
    heartbeat_ = opt_.ttl.count() > 0 ? Deadline::after(opt_.ttl / 2) : Deadline::forever();
}

void Supervisor::start_loss_watch() {
    loss_fd_ = locks_.loss_fd();
    if (loss_fd_ < 0) return;
    // A break between taking the lock and opening the watch left no event behind.
    locks_.check_held();
    on_losses();
}

void Supervisor::on_loss_ready() {
    locks_.check_held();  // drains the watch first, so later changes wake us again
    on_losses();
    if (locks_.held().empty()) loss_fd_ = -1;  // nothing left to lose
}

void Supervisor::on_losses() {
    const size_t lost = locks_.lost_count();
    if (lost != losses_seen_) {
        losses_seen_ = lost;
        // The keeper already warned; --on-lost term ends the tree as a relayed SIGTERM
        // would, grace and SIGKILL included.
        if (opt_.on_lost == OnLost::term) relay(SIGTERM);
    }
    // Only now: during a partition the write waits for the backend's request timeout.
    locks_.audit_losses();
}

void Supervisor::on_signals() {
    const pid_t self = ::getpid();
    bool child = false;
    for (const auto& si : read_signals(sigfd_.get())) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            child = true;
        } else if (static_cast<pid_t>(si.ssi_pid) != self) {
            // A SIGPIPE our own write raised is not the caller's; anything else sent to the
            // supervisor directly is relayed like the front's.
            relay(sig);
        }
    }
    if (child) on_children();
}

void Supervisor::on_life() {
    unsigned char buf[64];
    ssize_t n;
    do {
        n = ::read(io_.life.get(), buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        front_gone();
        return;
    }
    for (ssize_t i = 0; i < n; ++i) relay(buf[i]);
}

void Supervisor::relay(int sig) {
    if (!relay_allowed(phase_)) return;
    if (escalates_to_kill(sig)) {
        // A CI runner's cancel: whatever is still alive after the grace gets SIGKILL. The
        // signal that started the grace is the one the guard's exit status reports.
        if (phase_ == Phase::running) cancelled_by_ = sig;
        on_event(Event::cancel_signal);
    }
    const bool terminating = terminates_by_default(sig);
    if (main_alive_) {
        // The leader is alive or an unreaped zombie, so its pgid cannot have been reused.
        ::kill(-main_, sig);
        if (terminating) continue_if_stopped(main_);
    } else {
        signal_tree(0, sig, terminating);
    }
}

void Supervisor::on_children() {
    if (io_.tty_fd >= 0 && main_alive_) {
        // Job control: the command stopped (Ctrl-Z): the front stops too, so the caller's
        // shell sees its job stop and takes the terminal back.
        siginfo_t si{};
        if (::waitid(P_PID, static_cast<id_t>(main_), &si, WSTOPPED | WNOHANG) == 0 &&
            si.si_pid == main_ && si.si_code == CLD_STOPPED)
            send(encode_stopped_message());
    }
    for (;;) {
        std::optional<ChildExit> held;
        ReapStop r = reap_exited(main_alive_ ? main_ : 0, held);
        if (r == ReapStop::held_exited) {
            on_main_exit(*held);
            continue;
        }
        if (r == ReapStop::none_left && !main_alive_) on_event(Event::tree_empty);
        return;
    }
}

void Supervisor::on_main_exit(const ChildExit& e) {
    end_ = e;
    main_killed_ = phase_ == Phase::killing;
    // The exec's outcome is not awaited on the way in (it costs a round trip on every run):
    // a failure is known here, written to the pipe before the child's _exit.
    if (int err = child_->exec_errno(false)) {
        write_droppable(STDERR_FILENO, "error: " +
                        Error::from_errno("cannot run \"" + opt_.path + "\"", err).message + "\n");
        end_ = ChildExit{false, exec_failure_code(err)};
        reason_ = "exec-failed";
    }
    if (reason_.empty()) reason_ = release_reason(*end_);
    // The zombie leader keeps the pgid reserved while we signal the group. The /proc scan for
    // leftovers is made only when the answer changes what happens (--on-exit wait while
    // running: it does not).
    if (step(phase_, Event::leader_exit_rest, leftovers()).action != Action::none) {
        auto kids = own_children();
        const bool only_main = kids && kids->size() == 1 && (*kids)[0] == main_;
        on_event(only_main ? Event::leader_exit_alone : Event::leader_exit_rest);
    }
    reap_pid(main_);
    main_alive_ = false;
}

void Supervisor::front_gone() {
    reason_ = "parent-gone";
    io_.life.reset();
    on_event(Event::front_gone);
}

void Supervisor::on_event(Event event) {
    const Step next = step(phase_, event, leftovers());
    phase_ = next.next;
    switch (next.action) {
    case Action::none:
        break;
    case Action::start_grace:
        arm_grace(opt_.kill_after);
        break;
    case Action::term_and_grace:
        log_teardown(opt_.kill_after);
        signal_tree(tree_target(), SIGTERM, true);
        arm_grace(opt_.kill_after);
        break;
    case Action::term_rest:
        signal_tree(tree_target(), SIGTERM, true);
        break;
    case Action::kill_tree:
        signal_tree(tree_target(), SIGKILL, false);
        arm_grace(kKillRescan);  // catches what was forked between the scan and the kill
        break;
    case Action::finish:
        break;  // the phase is done: the loop ends
    }
}

void Supervisor::arm_grace(std::chrono::nanoseconds after) { grace_ = Deadline::after(after); }

} // namespace

int run_supervisor(const GuardOptions& opt, LockKeeper& locks, SupervisorIo io) {
    Supervisor s(opt, locks, std::move(io));
    return s.run();
}

} // namespace lokt::sup
