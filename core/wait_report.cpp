#include "lokt/wait_report.hpp"

#include "lokt/audit_event.hpp"
#include "lokt/sys.hpp"

#include <poll.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace lokt {
namespace {

// "1m12s", "3s", "2h5m": whole seconds are enough for a human watching a wait.
std::string rounded(Nanos d) {
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::max(d, Nanos(0))).count();
    std::string out;
    if (secs >= 3600) out += std::to_string(secs / 3600) + "h", secs %= 3600;
    if (secs >= 60 || !out.empty()) out += std::to_string(secs / 60) + "m", secs %= 60;
    if (secs > 0 || out.empty()) out += std::to_string(secs) + "s";
    return out;
}

// Appends the holder's command, shortened so that the status line fits a terminal.
void append_command(std::string& out, const std::string& cmd) {
    constexpr size_t kMax = 40;
    out.append(shorten(cmd, kMax));
}

std::string blocker_text(const AcquireOutcome& o, TimePoint at) {
    if (const auto* f = std::get_if<Frozen>(&o)) {
        std::string until = f->freeze.expires_at ? " until " + format_rfc3339(*f->freeze.expires_at) : "";
        return "frozen by " + f->freeze.owner + "@" + f->freeze.host + until;
    }
    const auto* h = std::get_if<Held>(&o);
    if (!h || h->holder.lock_id.empty()) return {};
    const LockRecord& r = h->holder;
    std::string who = "held by " + r.owner + "@" + r.host + " (pid " + std::to_string(r.pid);
    if (!r.command.empty()) append_command(who.append(", "), r.command);
    return who + ") for " + rounded(at - r.acquired_ts);
}

} // namespace

WaitDisplay wait_display(int fd, bool quiet) {
    if (quiet) return WaitDisplay::quiet;
    const char* term = std::getenv("TERM");
    if (::isatty(fd) && !(term && std::strcmp(term, "dumb") == 0)) return WaitDisplay::tty;
    return WaitDisplay::lines;
}

Nanos report_interval(WaitDisplay d) {
    if (d == WaitDisplay::tty) return std::chrono::seconds(1);
    if (const char* e = std::getenv("LOKT_TEST_WAIT_REPORT_MS"); e && *e) {
        char* end = nullptr;
        long long ms = std::strtoll(e, &end, 10);
        if (end && *end == '\0' && ms > 0) return std::chrono::milliseconds(ms);
    }
    return std::chrono::seconds(60);
}

std::string wait_report_text(const WaitProgress& p, TimePoint at) {
    const std::string name = "\"" + p.name + "\"";
    switch (p.phase) {
    case WaitProgress::Phase::acquired:
        return "lokt: acquired " + name + " after " + rounded(p.waited);
    case WaitProgress::Phase::timed_out:
        return "lokt: gave up waiting for " + name + " after " + rounded(p.waited) + " (timed out)";
    case WaitProgress::Phase::cancelled:
        return "lokt: gave up waiting for " + name + " after " + rounded(p.waited) + " (cancelled)";
    case WaitProgress::Phase::refused:
        return "lokt: stopped waiting for " + name + " after " + rounded(p.waited);
    case WaitProgress::Phase::waiting:
        break;
    }
    std::string text = "lokt: waiting for " + name;
    std::string why = p.blocker ? blocker_text(*p.blocker, at) : "";
    std::string queue = p.ahead == 0 ? "" : std::to_string(p.ahead) + " ahead of you";
    if (!why.empty()) text += " \u2014 " + why;
    if (!queue.empty()) text += (why.empty() ? " \u2014 " : "; ") + queue;
    return text;
}

void WaitReporter::attach(WaitOptions& opt) {
    if (display_ == WaitDisplay::quiet) return;
    opt.progress = [this](const WaitProgress& p) { show(p); };
    opt.progress_every = report_interval(display_);
}

void WaitReporter::show(const WaitProgress& p) {
    const bool waiting = p.phase == WaitProgress::Phase::waiting;
    if (display_ == WaitDisplay::tty) {
        // \r and "erase to end of line": the line is rewritten in place, and erased before the
        // command starts (or before the timeout's error line).
        if (waiting) {
            put("\r" + wait_report_text(p, now()) + "\033[K");
            line_shown_ = true;
            return;
        }
        if (line_shown_) put("\r\033[K");
        line_shown_ = false;
        if (p.phase == WaitProgress::Phase::cancelled) put(wait_report_text(p, now()) + "\n");
        return;
    }
    // A timeout or a refusal is reported by the caller's own error line.
    if (display_ == WaitDisplay::lines && p.phase != WaitProgress::Phase::timed_out &&
        p.phase != WaitProgress::Phase::refused)
        put(wait_report_text(p, now()) + "\n");
}

void WaitReporter::put(std::string_view text) {
    // Never block a waiter on its stderr (a full pipe nobody reads, a stopped terminal).
    struct pollfd pfd {fd_, POLLOUT, 0};
    auto ready = sys::poll(&pfd, 1, Nanos(0));
    if (!ready || *ready == 0 || !(pfd.revents & POLLOUT)) return;
    (void)sys::write_once(fd_, text);
}

} // namespace lokt
