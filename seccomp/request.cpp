#include "request.hpp"

#include "filter.hpp"

#include "lokt/identity.hpp"

#include <fcntl.h>

namespace lokt::seccomp {
namespace {

constexpr uint64_t kEmptyPath = AT_EMPTY_PATH;

std::string proc(pid_t pid, const char* what) { return "/proc/" + std::to_string(pid) + what; }

} // namespace

Verdict Inspector::inspect(const seccomp_notif& n, Responder& resp, ExecRequest* out) const {
    int ptr_size = 8;
    const ExecCall call = classify_call(n.data.arch, n.data.nr, &ptr_size);
    if (call == ExecCall::other) return Verdict::pass;
    const bool at = call == ExecCall::execveat;
    const pid_t tid = static_cast<pid_t>(n.pid);
    const uint64_t path_addr = at ? n.data.args[1] : n.data.args[0];
    const uint64_t argv_addr = at ? n.data.args[2] : n.data.args[1];

    // An unreadable path fails the exec in the kernel too (EFAULT): nothing to lock.
    auto raw = read_string(tid, path_addr);
    if (!resp.valid(n.id)) return Verdict::gone;
    if (!raw) return Verdict::pass;

    // `access` is how the supervisor reaches the file (through the target's own root, cwd
    // or fd); `logical` is the absolute path the target means, for matching and messages.
    std::string access, logical;
    if (raw->empty()) {
        if (!at || !(n.data.args[4] & kEmptyPath)) return Verdict::pass;  // ENOENT in the kernel
        access = proc(tid, "/fd/") + std::to_string(static_cast<int>(n.data.args[0]));
        logical = read_link(access).value_or(access);
    } else if ((*raw)[0] == '/') {
        // Only the basename matters for most rule sets: skip everything else early.
        if (!rs_.any_path_pattern && !rules::any_program_matches(rs_, raw->c_str())) return Verdict::pass;
        access = proc(tid, "/root") + *raw;
        logical = *raw;
    } else {
        if (!rs_.any_path_pattern && !rules::any_program_matches(rs_, raw->c_str())) return Verdict::pass;
        const int dirfd = static_cast<int>(n.data.args[0]);
        std::string base = (at && dirfd != AT_FDCWD) ? proc(tid, "/fd/") + std::to_string(dirfd)
                                                     : proc(tid, "/cwd");
        access = base + "/" + *raw;
        logical = read_link(base).value_or(base) + "/" + *raw;
    }
    if (!rules::any_program_matches(rs_, logical.c_str())) return Verdict::pass;

    // The failing candidates of a PATH search (execvp, CPython) are not locked.
    auto file = executable_id(access);
    if (!file) return Verdict::pass;
    if (lokt_bin_ && *file == *lokt_bin_) return Verdict::pass;

    auto argv = read_argv(tid, argv_addr, ptr_size);
    if (!resp.valid(n.id)) return Verdict::gone;
    if (!argv) return Verdict::pass;

    std::vector<const char*> args;
    args.reserve(argv->size());
    for (size_t i = 1; i < argv->size(); ++i) args.push_back((*argv)[i].c_str());
    rules::Decision d{};
    if (!rules::decide(rs_, logical.c_str(), args.data(), args.size(), &d)) return Verdict::pass;

    auto tgid = thread_group_of(tid);
    if (!tgid) return Verdict::gone;
    auto start = process_start_time(*tgid);
    auto old_exe = file_id(proc(*tgid, "/exe"));
    // The /proc reads above name the thread by number: only a still-valid notification
    // proves the number was not recycled meanwhile.
    if (!start || !resp.valid(n.id)) return Verdict::gone;

    out->id = n.id;
    out->nr = n.data.nr;
    out->tid = tid;
    out->tgid = *tgid;
    out->tgid_start = *start;
    out->path = std::move(logical);
    out->argv = std::move(*argv);
    out->file = *file;
    out->old_exe = old_exe;
    out->decision = d;
    return Verdict::lock;
}

} // namespace lokt::seccomp
