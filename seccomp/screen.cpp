#include "screen.hpp"

#include "filter.hpp"
#include "remote.hpp"

namespace lokt::seccomp {

Screen screen(const seccomp_notif& n, const rules::RuleSet& rs) noexcept {
    int ptr_size = 8;
    const ExecCall call = classify_call(n.data.arch, n.data.nr, &ptr_size);
    if (call == ExecCall::other) return Screen::pass;
    char path[kScreenBytes];
    const uint64_t addr = call == ExecCall::execveat ? n.data.args[1] : n.data.args[0];
    // Unreadable or long: the Inspector reads it again and decides (EFAULT passes there).
    if (!read_string_into(static_cast<pid_t>(n.pid), addr, path, sizeof path)) return Screen::inspect;
    if (path[0] == '\0') return Screen::inspect;  // execveat(fd, "", AT_EMPTY_PATH): via /proc
    // No ID_VALID before this answer: if the thread is gone, so is the notification, and
    // CONTINUE fails harmlessly; a thread still waiting is the one whose memory we read.
    if (rules::exec_cannot_match(rs, path)) return Screen::pass;
    return Screen::inspect;
}

} // namespace lokt::seccomp
