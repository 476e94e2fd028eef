// run_seccomp_shim: the supervisor's poll loop over the listener, the signalfd, inotify on
// ROOT, the pidfds of waiting and locked processes, and timers. Receiver threads
// (receivers.hpp) answer the execs no rule can match and hand the rest to this loop, which
// alone inspects them and keeps the locks: the bookkeeping stays single-threaded.
//
// The supervisor must outlive every process carrying the filter: once the listener closes,
// every exec in the tree fails with ENOSYS. So nothing here exits the loop early: an internal
// error degrades to CONTINUE-everything, and when CMD exits while its tree lives on, a
// background copy of the supervisor keeps serving the tree until the listener hangs up
// (the kernel reports POLLHUP once no process uses the filter any more).
#include "lokt/seccomp_shim.hpp"

#include "anchor.hpp"
#include "broker.hpp"
#include "launch.hpp"
#include "notify.hpp"
#include "receivers.hpp"
#include "request.hpp"
#include "screen.hpp"
#include "shim_process.hpp"

#include "lokt/audit.hpp"
#include "lokt/log.hpp"
#include "lokt/proc/event_poll.hpp"
#include "lokt/proc/exit_status.hpp"
#include "lokt/proc/signals.hpp"
#include "lokt/proc/resolve_command.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>

namespace lokt {
namespace {

using seccomp::Steady;
using seccomp::detach_stdio;
using seccomp::single_threaded;
using seccomp::wait_plain;

// After CMD exits, the rest of the tree gets this long to go away before the supervisor
// moves to the background to keep serving it.
constexpr auto kLinger = std::chrono::milliseconds(50);

class Supervisor {
public:
    Supervisor(const SeccompShimOptions& opt, seccomp::Listener& listener, Backend& backend,
               const rules::RuleSet& rs, pid_t child, int sigfd, int inotify_fd, pid_t anchor_pgid)
        : opt_(opt), listener_(listener),
          rs_(rs), inspector_(rs, seccomp::file_id(opt.lokt_bin)), receivers_(listener, rs),
          broker_(backend, rs, broker_config(opt, anchor_pgid), listener), child_(child), sigfd_(sigfd),
          inotify_fd_(inotify_fd) {}

    int run();

private:
    static seccomp::BrokerConfig broker_config(const SeccompShimOptions& opt, pid_t anchor_pgid) {
        seccomp::BrokerConfig c;
        c.anchor_pgid = anchor_pgid;
        c.ttl = opt.ttl;
        c.refusal = opt.refusal;
        c.warn = opt.warn;
        c.report_every = opt.report_every;
        return c;
    }
    void on_signals();
    void on_notification();
    void on_handed_over();
    void handle(const seccomp_notif& note);
    void start_receivers();
    void stop_receivers();
    void on_inotify();
    void degrade(const char* where, const std::exception* e);
    bool finished() const { return !listener_open_ && (degraded_ || broker_.idle()); }

    const SeccompShimOptions& opt_;
    seccomp::Listener& listener_;
    const rules::RuleSet& rs_;
    seccomp::Inspector inspector_;
    seccomp::Receivers receivers_;
    seccomp::Broker broker_;
    pid_t child_;
    int sigfd_;
    int inotify_fd_;
    bool listener_open_ = true;
    bool degraded_ = false;
    bool child_done_ = false;
    bool background_ = false;
    bool stay_in_front_ = false;  // not single-threaded: never fork, serve until the end here
    int status_ = 0;
    std::optional<Steady> linger_until_;
};

void Supervisor::degrade(const char* where, const std::exception* e) {
    if (!degraded_ && opt_.warn)
        opt_.warn(std::string("seccomp supervisor: internal error in ") + where + (e ? ": " : "") +
                  (e ? e->what() : "") + "; from now on every exec runs unlocked");
    degraded_ = true;
}

void Supervisor::on_signals() {
    for (const auto& si : proc::read_signals(sigfd_)) {
        const int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
            int st = 0;
            pid_t r;
            while ((r = ::waitpid(-1, &st, WNOHANG)) > 0) {
                if (r == child_) {
                    child_done_ = true;
                    status_ = proc::exit_code(proc::exit_from_wait_status(st));
                }
            }
            continue;
        }
        if (child_done_) continue;
        // A signal from the terminal (Ctrl-C, Ctrl-Z) already reached CMD, which shares our
        // process group; only signals sent to us by a process are passed on.
        const bool from_terminal = si.ssi_code == SI_KERNEL;
        if (sig == SIGTSTP && from_terminal) {
            ::kill(::getpid(), SIGSTOP);  // stop with the job, or the shell's Ctrl-Z hangs
            continue;
        }
        if (!from_terminal) ::kill(child_, sig);
    }
}

void Supervisor::on_notification() {
    auto n = listener_.receive();
    if (!n) {
        degrade("receive", nullptr);
        return;
    }
    if (!*n) return;
    if (seccomp::screen(**n, rs_) == seccomp::Screen::pass) {
        listener_.allow((*n)->id);
        return;
    }
    handle(**n);
}

void Supervisor::on_handed_over() {
    for (const auto& note : receivers_.take()) handle(note);
    if (receivers_.failed()) {
        // This loop receives again itself; a second failure degrades it.
        stop_receivers();
        LOKT_LOG(warn, "seccomp receivers failed; the supervisor's loop receives itself");
    }
}

void Supervisor::start_receivers() {
    // Without threads this loop receives every notification itself, as it did before.
    if (auto r = receivers_.start(seccomp::receiver_count()); !r)
        LOKT_LOG(warn, r.error().message, "; the supervisor's loop receives itself");
}

void Supervisor::stop_receivers() {
    receivers_.stop();
    for (const auto& note : receivers_.take()) handle(note);
}

void Supervisor::handle(const seccomp_notif& note) {
    if (degraded_) {
        listener_.allow(note.id);
        return;
    }
    try {
        seccomp::ExecRequest req;
        switch (inspector_.inspect(note, listener_, &req)) {
        case seccomp::Verdict::pass:
            listener_.allow(note.id);
            return;
        case seccomp::Verdict::gone:
            return;
        case seccomp::Verdict::lock:
            broker_.submit(std::move(req));
            return;
        }
    } catch (const std::exception& e) {
        degrade("exec handling", &e);
        listener_.allow(note.id);
    } catch (...) {
        degrade("exec handling", nullptr);
        listener_.allow(note.id);
    }
}

void Supervisor::on_inotify() {
    // Only a lock or freeze file going away matters. Every attempt on a held lock creates and
    // removes a temporary file in locks/ itself: retrying on those events would spin.
    alignas(inotify_event) char buf[8192];
    bool relevant = false;
    for (;;) {
        auto got = sys::read_some(inotify_fd_, buf, sizeof buf);
        if (!got || *got == 0) break;
        for (size_t off = 0; off < *got;) {
            const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
            off += sizeof(inotify_event) + ev->len;
            const std::string_view name = ev->len ? std::string_view(ev->name) : std::string_view();
            if ((ev->mask & IN_Q_OVERFLOW) || name.ends_with(".json")) relevant = true;
        }
    }
    if (relevant && broker_.waiting() && !degraded_) broker_.retry();
}

int Supervisor::run() {
    std::vector<pollfd> fds;
    start_receivers();
    for (;;) {
        fds.clear();
        fds.push_back({sigfd_, POLLIN, 0});
        // While receivers serve the listener, only its hang-up matters here.
        const short listen_for = receivers_.running() ? 0 : POLLIN;
        fds.push_back({listener_open_ ? listener_.fd() : -1, listen_for, 0});
        fds.push_back({inotify_fd_, POLLIN, 0});
        fds.push_back({receivers_.running() ? receivers_.wake_fd() : -1, POLLIN, 0});
        const size_t fixed = fds.size();
        if (!degraded_) broker_.fill_pollfds(fds);

        std::optional<Steady> wake = degraded_ ? std::nullopt : broker_.next_wake();
        if (linger_until_ && (!wake || *linger_until_ < *wake)) wake = linger_until_;
        std::optional<Nanos> timeout;
        if (wake) timeout = std::max(Nanos(0), std::chrono::duration_cast<Nanos>(*wake - std::chrono::steady_clock::now()));
        auto ready = sys::poll(fds.data(), fds.size(), timeout);
        if (!ready && ready.error().sys_errno != EINTR) degrade("poll", nullptr);

        try {
            // The pidfds first: fill_pollfds' order holds only until the broker changes.
            if (!degraded_) broker_.on_polled(fds.data() + fixed, fds.size() - fixed);
            if (fds[0].revents & POLLIN) on_signals();
            if (fds[3].revents & POLLIN) on_handed_over();
            if (fds[1].revents & POLLIN) on_notification();
            else if (fds[1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
                listener_open_ = false;
                stop_receivers();  // nothing uses the filter: they would wait in RECV forever
            }
            if (fds[2].revents & POLLIN) on_inotify();
            if (!degraded_) broker_.tick();
        } catch (const std::exception& e) {
            degrade("event loop", &e);
        } catch (...) {
            degrade("event loop", nullptr);
        }

        if (finished() && (child_done_ || background_)) break;
        if (child_done_ && !background_ && !stay_in_front_) {
            const Steady at = std::chrono::steady_clock::now();
            if (!linger_until_) linger_until_ = at + kLinger;
            if (at >= *linger_until_) {
                stop_receivers();
                if (!single_threaded()) {
                    // Cannot fork safely: keep serving the tree here; the caller waits longer.
                    stay_in_front_ = true;
                    linger_until_.reset();
                    if (opt_.warn) opt_.warn("seccomp supervisor: not single-threaded; serving CMD's leftover processes in the foreground");
                    continue;
                }
                // The copy carries on with this loop and owns the queue tickets from now on.
                const pid_t bg = ::fork();
                if (bg > 0) {
                    broker_.forget_tickets();  // our destructors must not remove the copy's tickets
                    break;                     // the foreground returns CMD's status
                }
                if (bg < 0) break;  // no copy: the tree's later execs fail (ENOSYS) as before
                background_ = true;
                linger_until_.reset();
                detach_stdio();
                broker_.rehome_tickets();
                if (listener_open_) start_receivers();
            }
        }
    }
    if (background_) ::_exit(0);
    return status_;
}

// The exec filter when there are rules to enforce (nullopt: none, or it cannot be built).
std::optional<seccomp::FilterProgram> exec_filter(const SeccompShimOptions& opt, uint64_t pass_word) {
    if (!opt.rules || opt.rules->rule_count == 0) return std::nullopt;
    auto built = seccomp::build_exec_filter(pass_word);
    if (built) return std::move(*built);
    if (opt.warn)
        opt.warn("cannot build the seccomp filter: " + built.error().message + "; running without seccomp locking");
    return std::nullopt;
}

// Signals: the caller's state goes to CMD (`spec`); we take ours through a signalfd.
Result<sys::UniqueFd> take_signals(seccomp::LaunchSpec& spec) {
    spec.signals = proc::capture_signal_state();
    sigset_t set = proc::relayed_signals(spec.signals.ignored);
    ::sigaddset(&set, SIGCHLD);
    ::sigaddset(&set, SIGTSTP);
    sigset_t old;
    ::sigprocmask(SIG_BLOCK, &set, &old);
    auto sigfd = proc::make_signalfd(set);
    if (!sigfd) return sigfd.error();
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, nullptr);  // a target's stderr may be a closed pipe
    return std::move(*sigfd);
}

// Wakes the loop when a lock or freeze under `root` goes (an invalid fd when inotify cannot:
// the periodic re-try still finds the release).
sys::UniqueFd watch_root(const Root& root) {
    auto fd = sys::inotify_init(IN_NONBLOCK);
    if (!fd) return sys::UniqueFd();
    for (const auto& dir : {root.locks_dir(), root.freezes_dir()})
        (void)sys::inotify_add_watch(fd->get(), dir, IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO);
    return std::move(*fd);
}

} // namespace

int run_seccomp_shim(const SeccompShimOptions& opt, Backend& backend, const std::vector<std::string>& cmd) {
    auto warn = [&](const std::string& s) {
        if (opt.warn) opt.warn(s);
    };
    if (cmd.empty()) return 64;

    seccomp::LaunchSpec spec;
    auto resolved = proc::resolve_command(cmd[0], std::getenv("PATH"));
    spec.path = resolved ? *resolved : cmd[0];  // the child reports the exec error itself
    spec.argv = cmd;
    // The preload's pass word: fresh for every run, so that no other tree's library can use it;
    // none (and no library) when no filter is installed because no rule could match.
    const bool screens = !opt.preload_lib.empty() && opt.rules && opt.rules->rule_count > 0;
    const uint64_t pass_word = screens ? seccomp::new_pass_word() : 0;
    spec.env = seccomp::child_environment(opt, pass_word);
    spec.wait_killable = opt.wait_killable;
    spec.set_nnp = ::geteuid() != 0;

    std::optional<seccomp::FilterProgram> filter = exec_filter(opt, pass_word);
    if (filter) {
        spec.filter = &*filter;
        if (spec.set_nnp)
            warn("--seccomp sets no_new_privs: setuid programs (sudo, su) cannot gain privileges in this tree");
    }

    // Forked first, while nothing but the caller's fds is open: see seccomp/anchor.hpp.
    std::optional<seccomp::Anchor> anchor;
    if (filter) {
        if (auto a = seccomp::Anchor::start()) anchor.emplace(std::move(*a));
        else warn(a.error().message + "; a waiter may prune a lock as dead before it is released");
    }

    auto sigfd = take_signals(spec);
    if (!sigfd) {
        warn(sigfd.error().message);
        return 1;
    }

    std::fflush(nullptr);
    auto launched = seccomp::launch(spec);
    if (!launched) {
        warn(launched.error().message);
        return 1;
    }
    if (filter && launched->report.err != 0)
        warn("seccomp filter not installed (" + Error::from_errno("seccomp", launched->report.err).message +
             (launched->report.err == EBUSY ? ", another seccomp listener is already in this process tree" : "") +
             "); running without seccomp locking");
    if (launched->report.nnp_forced)
        warn("--seccomp had to set no_new_privs: setuid programs (sudo, su) cannot gain privileges in this tree");
    if (!launched->listener.valid()) return wait_plain(launched->pid, sigfd->get());

    auto listener = seccomp::Listener::adopt(std::move(launched->listener));
    if (!listener) {
        // Without reading notifications every exec in the tree would hang: this cannot be
        // survived, so end the child rather than leave it blocked.
        warn(listener.error().message);
        ::kill(launched->pid, SIGKILL);
        wait_plain(launched->pid, sigfd->get());
        return 1;
    }

    if (auto made = ensure_root_dirs(opt.root); !made)
        warn(made.error().message + "; matching execs will run unlocked");
    Identity self = opt.who;
    self.pid = ::getpid();
    self.pid_start = process_start_time(self.pid).value_or(0);
    backend.act_as(self);

    sys::UniqueFd in = watch_root(opt.root);
    Supervisor s(opt, *listener, backend, *opt.rules, launched->pid, sigfd->get(), in.get(),
                 anchor ? anchor->pgid() : 0);
    return s.run();
}

} // namespace lokt
