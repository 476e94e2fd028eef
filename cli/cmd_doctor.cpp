// lokt doctor [--json]: checks that locks can work where the root is — directory, filesystem,
// inotify, clock, audit log — and how lokt is set up (cli/doctor_checks.cpp): one line per
// check, exit 1 when any check fails.

#include "cli.hpp"
#include "doctor_backend.hpp"
#include "doctor_checks.hpp"
#include "output.hpp"

#include "lokt/audit.hpp"
#include "lokt/root.hpp"
#include "lokt/root_fs.hpp"
#include "lokt/sys.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace lokt::cli {
namespace {

using doctor::Check;
using doctor::Status;

std::string_view status_word(Status s, bool json) {
    switch (s) {
    case Status::ok: return "ok";
    case Status::warn: return "warn";
    case Status::fail: return json ? "fail" : "FAIL";
    }
    return "fail";
}

std::string_view source_word(RootSource s) {
    switch (s) {
    case RootSource::env: return "env";
    case RootSource::git: return "git";
    case RootSource::cwd: return "cwd";
    }
    return "cwd";
}

std::string source_text(RootSource s) {
    switch (s) {
    case RootSource::env: return "from $LOKT_ROOT";
    case RootSource::git: return "the git common dir's lokt/, shared by all worktrees";
    case RootSource::cwd: return "./.lokt: no $LOKT_ROOT and not inside a git repository";
    }
    return "";
}

std::string human_size(uint64_t n) {
    char buf[32];
    if (n < 1024) std::snprintf(buf, sizeof buf, "%" PRIu64 " B", n);
    else if (n < (1u << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", double(n) / 1024);
    else if (n % (1u << 20) == 0) std::snprintf(buf, sizeof buf, "%" PRIu64 " MiB", n >> 20);
    else std::snprintf(buf, sizeof buf, "%.1f MiB", double(n) / (1 << 20));
    return buf;
}

// The root itself, or its nearest existing ancestor (what statfs/inotify can look at).
std::string nearest_existing(std::string p) {
    while (!p.empty() && !sys::exists(p)) {
        auto slash = p.rfind('/');
        p = slash == 0 ? "/" : (slash == std::string::npos ? "." : p.substr(0, slash));
    }
    return p.empty() ? "/" : p;
}

// Creates and removes a file in the root (creating the root for the test and removing it
// again if it did not exist). On success, `mtime` is the test file's modification time.
Check check_writable(const Root& root, std::optional<TimePoint>& mtime) {
    std::vector<std::string> created;  // directories this check made, innermost last
    for (std::string p = root.path; !p.empty() && p != "/" && !sys::exists(p);) {
        created.insert(created.begin(), p);
        p = p.substr(0, p.rfind('/'));
    }
    auto cleanup = [&] {
        for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    };
    if (auto st = sys::stat(root.path); st && !S_ISDIR(st->st_mode))
        return {"directory", Status::fail, root.path + " exists but is not a directory"};
    if (auto mk = sys::mkdir_p(root.path); !mk) {
        cleanup();
        return {"directory", Status::fail, "cannot create " + root.path + ": " + mk.error().message};
    }
    std::string probe = root.path + "/.doctor-" + std::to_string(::getpid());
    auto fd = sys::open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!fd) {
        cleanup();
        return {"directory", Status::fail, "not writable: " + fd.error().message};
    }
    auto w = sys::write_once(fd->get(), "lokt doctor\n");
    auto st = sys::fstat(fd->get());
    fd->reset();
    auto rm = sys::unlink(probe);
    cleanup();
    if (!w) return {"directory", Status::fail, "cannot write in " + root.path + ": " + w.error().message};
    if (!rm) return {"directory", Status::fail, "cannot remove a file in " + root.path + ": " + rm.error().message};
    if (st) mtime = TimePoint(std::chrono::seconds(st->st_mtim.tv_sec) + Nanos(st->st_mtim.tv_nsec));
    if (!created.empty())
        return {"directory", Status::ok, root.path + " does not exist yet; it can be created and written"};
    return {"directory", Status::ok, root.path + " is writable"};
}

struct FsType {
    uint32_t magic;
    const char* name;
    const char* problem;  ///< nullptr: local, locks and inotify work
};

// Where the kernel's flock() or inotify does not see what other machines do, or link()
// is not atomic, lokt cannot keep its promises; these are the types seen in practice.
const FsType kFsTypes[] = {
    {0xEF53, "ext4", nullptr},
    {0x9123683E, "btrfs", nullptr},
    {0x58465342, "xfs", nullptr},
    {0x2FC12FC1, "zfs", nullptr},
    {0xF2F52010, "f2fs", nullptr},
    {0x01021994, "tmpfs", nullptr},
    {0x858458F6, "ramfs", nullptr},
    {0x794C7630, "overlayfs", nullptr},
    {0x9FA0, "proc", "a kernel pseudo-filesystem, not a place for lock files"},
    {0x62656572, "sysfs", "a kernel pseudo-filesystem, not a place for lock files"},
    {0x6969, "nfs",
     "flock() becomes an NFS byte-range lock that the server may drop, and inotify does not see "
     "changes made by other machines (waiters fall back to polling); keep LOKT_ROOT on a local disk"},
    {0xFF534D42, "cifs", "SMB does not give the local flock()/link() semantics, and inotify misses remote changes"},
    {0xFE534D42, "smb2", "SMB does not give the local flock()/link() semantics, and inotify misses remote changes"},
    {0x517B, "smbfs", "SMB does not give the local flock()/link() semantics, and inotify misses remote changes"},
    {0x65735546, "fuse",
     "FUSE (sshfs, gluster, ...) decides flock() and inotify itself; over a network they are "
     "usually local-only, so locks are not seen by other machines"},
    {0x01021997, "9p",
     "9p (WSL2 /mnt, VM shared folders) does not pass flock() to the host and has no inotify"},
    {0x786F4256, "vboxsf", "VirtualBox shared folders have no inotify and unreliable locking"},
    {0x5346414F, "afs", "AFS locks are whole-file and advisory across clients; inotify misses remote changes"},
    {0x00C36400, "ceph", "a network filesystem: inotify misses changes made by other machines"},
    {0x0BD00BD0, "lustre", "a network filesystem: flock() needs the flock mount option; inotify misses remote changes"},
    {0x47504653, "gpfs", "a network filesystem: inotify misses changes made by other machines"},
};

Check check_filesystem(const std::string& dir) {
    auto st = sys::statfs(dir);
    if (!st) return {"filesystem", Status::warn, "cannot tell: " + st.error().message};
    auto magic = static_cast<uint32_t>(st->f_type);
    for (const auto& t : kFsTypes) {
        if (t.magic != magic) continue;
        if (t.problem) return {"filesystem", Status::warn, std::string(t.name) + ": " + t.problem};
        return {"filesystem", Status::ok, std::string(t.name) + " (local: flock, link and inotify work)"};
    }
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%" PRIx32, magic);
    return {"filesystem", Status::ok, std::string("type ") + hex + " (not a known network filesystem)"};
}

Check check_inotify(const std::string& dir) {
    auto in = sys::inotify_init();
    if (!in)
        return {"inotify", Status::warn, "unavailable (" + in.error().message + "): waiters poll instead of waking at once"};
    auto wd = sys::inotify_add_watch(in->get(), dir, IN_CREATE | IN_DELETE | IN_MOVED_TO);
    if (!wd)
        return {"inotify", Status::warn, "cannot watch " + dir + " (" + wd.error().message +
                                             "): waiters poll instead of waking at once"};
    return {"inotify", Status::ok, "available: waiters wake as soon as a lock is released"};
}

Check check_clock(const std::optional<TimePoint>& file_mtime) {
    TimePoint t = now();
    std::string when = format_rfc3339(t);
    int year = std::stoi(when.substr(0, 4));
    if (year < 2020)
        return {"clock", Status::fail, "the system clock says " + when + ": TTLs and ages would be wrong"};
    if (year > 2100)
        return {"clock", Status::warn, "the system clock says " + when + ": is it set correctly?"};
    if (file_mtime) {
        auto skew = std::chrono::duration_cast<std::chrono::seconds>(*file_mtime > t ? *file_mtime - t : t - *file_mtime);
        if (skew.count() > 5)
            return {"clock", Status::warn,
                    when + ", but a file just written there got a time " + std::to_string(skew.count()) +
                        "s off (a file server's clock?): TTLs are judged by each writer's clock"};
    }
    return {"clock", Status::ok, when + (file_mtime ? ", consistent with the filesystem's file times" : "")};
}

Check check_audit(const Root& root) {
    AuditLog log(root.audit_path());
    auto files = log.existing_files();
    std::string policy = "rotates at " + human_size(log.max_bytes()) + ", keeps " +
                         std::to_string(log.generations()) + " old files";
    if (files.empty() || files.back() != log.path())
        return {"audit log", Status::ok, "none yet (" + policy + ")"};
    auto fd = rootfs::open_file(root.path, log.path(), O_WRONLY | O_APPEND);
    if (!fd) return {"audit log", Status::fail, "not writable: " + fd.error().message};
    uint64_t live = 0, total = 0;
    for (const auto& f : files) {
        auto st = sys::stat(f);
        if (!st) continue;
        total += static_cast<uint64_t>(st->st_size);
        if (f == log.path()) live = static_cast<uint64_t>(st->st_size);
    }
    std::string detail = log.path() + " " + human_size(live);
    if (files.size() > 1)
        detail += " (+" + std::to_string(files.size() - 1) + " rotated, " + human_size(total) + " in all)";
    return {"audit log", Status::ok, detail + "; " + policy};
}

std::string octal(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

// Which sharing mode is in force, and whether the root's permissions fit it: a single-user
// root others can write into, or a shared one whose parts the group cannot write.
Check check_sharing(const Root& root) {
    auto dir = rootfs::Dir::open(root.path, root.path, false);
    if (!dir) return {"sharing", Status::ok, "single user until the root exists (the umask decides)"};
    auto st = sys::fstat(dir->fd());
    if (!st) return {"sharing", Status::warn, "cannot tell: " + st.error().message};
    const rootfs::Sharing mode = dir->sharing();
    std::vector<std::string> problems;
    auto look = [&](const std::string& name, const struct stat& e) {
        const std::string path = name.empty() ? root.path : dir->child(name);
        const mode_t m = e.st_mode;
        if (mode == rootfs::Sharing::single) {
            if ((m & (S_IWGRP | S_IWOTH)) || e.st_uid != st->st_uid)
                problems.push_back(path + " (mode " + octal(m) + ", uid " + std::to_string(e.st_uid) +
                                   ") can be written by other users, but lokt treats the root as single-user");
        } else if (!(m & S_IWGRP) && (S_ISDIR(m) || name == "audit.log")) {
            problems.push_back(path + " (mode " + octal(m) + ") is not group-writable: " +
                               (name == "audit.log" ? "other members' events are not audited"
                                                    : "other members cannot lock here"));
        }
        if ((m & S_IWOTH) && S_ISDIR(m) && !(m & S_ISVTX))
            problems.push_back(path + " is world-writable without the sticky bit");
    };
    look("", *st);
    for (const char* name : {"locks", "freezes", "sync", "queue", "audit.log"})
        if (auto e = dir->lstat(name)) look(name, *e);
    std::string text = rootfs::sharing_text(mode, st->st_gid) +
                       (mode == rootfs::Sharing::group ? " (the root is group-writable: files 0664, directories 2775)"
                                                       : " (the root is not group-writable; the umask decides)");
    if (problems.empty()) return {"sharing", Status::ok, text};
    return {"sharing", Status::warn, text + "; " + problems.front() +
                                         (problems.size() > 1 ? " (+" + std::to_string(problems.size() - 1) + " more)" : "")};
}

// Every entry where lokt keeps a regular file (or a directory) that is something else: lokt
// refuses to open it, so the name it belongs to cannot be used until it is removed.
std::vector<Check> check_entries(const Root& root) {
    std::vector<Check> out;
    auto top = rootfs::Dir::open(root.path, root.path, false);
    if (!top) return out;
    auto report = [&](const std::string& path, mode_t m, const std::string& fix) {
        out.push_back({"entry", Status::fail, path + " is " + std::string(rootfs::type_name(m)) + "; " + fix});
    };
    auto want_regular = [&](const rootfs::Dir& d, const std::string& name, const std::string& fix) {
        if (auto e = d.lstat(name); e && !S_ISREG(e->st_mode)) report(d.child(name), e->st_mode, fix);
    };
    for (const std::string name : {"audit.log", "audit.lock", "audit.log.1", "audit.log.2", "audit.log.3"})
        want_regular(*top, name, "audit events cannot be written (remove it)");
    for (const std::string sub : {"locks", "freezes", "sync", "queue"}) {
        auto e = top->lstat(sub);
        if (!e) continue;
        if (!S_ISDIR(e->st_mode)) {
            report(top->child(sub), e->st_mode, "lokt needs a directory there (remove it)");
            continue;
        }
        auto d = rootfs::Dir::open(root.path, top->child(sub), false);
        if (!d) continue;
        auto names = d->list();
        if (!names) continue;
        for (const auto& n : *names) {
            if (sub == "queue") {
                if (auto q = d->lstat(n); q && !S_ISDIR(q->st_mode)) report(d->child(n), q->st_mode, "remove it");
                continue;
            }
            const bool json = n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0 && n[0] != '.';
            if (sub != "sync" && !json) continue;
            const std::string lock = sub == "sync" ? n : n.substr(0, n.size() - 5);
            want_regular(*d, n, std::string(sub == "freezes" ? "lokt unfreeze --force " : "lokt unlock --force ") +
                                    printable(lock) + " removes it");
        }
    }
    return out;
}

size_t count_json(const std::string& dir) {
    auto names = sys::list_dir(dir);
    if (!names) return 0;
    size_t n = 0;
    for (const auto& name : *names)
        n += name.size() > 5 && name[0] != '.' && name.compare(name.size() - 5, 5, ".json") == 0;
    return n;
}

Check check_counts(const Root& root) {
    size_t locks = count_json(root.locks_dir()), freezes = count_json(root.freezes_dir());
    return {"locks", Status::ok, std::to_string(locks) + (locks == 1 ? " lock file, " : " lock files, ") +
                                     std::to_string(freezes) + (freezes == 1 ? " freeze" : " freezes")};
}

} // namespace

int cmd_doctor(const Command& cmd, const Args& args) {
    if (!args.positional.empty()) return usage_error(cmd, "unexpected argument \"" + args.positional[0] + "\"");
    const bool json = args.has("json");
    std::vector<Check> checks;
    auto root = discover_root();
    if (!root) {
        checks.push_back({"root", Status::fail, "cannot find the lock directory: " + root.error().message});
    } else {
        checks.push_back({"root", Status::ok, root->path + " (" + source_text(root->source) + ")"});
        std::optional<TimePoint> mtime;
        checks.push_back(check_writable(*root, mtime));
        std::string existing = nearest_existing(root->path);
        checks.push_back(check_filesystem(existing));
        checks.push_back(check_inotify(existing));
        checks.push_back(check_clock(mtime));
        checks.push_back(check_audit(*root));
        checks.push_back(check_sharing(*root));
        for (auto& c : check_entries(*root)) checks.push_back(std::move(c));
        checks.push_back(check_counts(*root));
        for (auto& c : doctor::setup_checks(*root)) checks.push_back(std::move(c));
        for (auto& c : doctor::backend_checks()) checks.push_back(std::move(c));
    }
    bool ok = true;
    for (const auto& c : checks) ok = ok && c.status != Status::fail;

    if (json) {
        OrderedJson out;
        out["root"] = root ? OrderedJson(root->path) : OrderedJson(nullptr);
        out["root_source"] = root ? OrderedJson(std::string(source_word(root->source))) : OrderedJson(nullptr);
        out["checks"] = OrderedJson::array();
        for (const auto& c : checks)
            out["checks"].push_back({{"name", c.name}, {"status", status_word(c.status, true)}, {"detail", c.detail}});
        out["ok"] = ok;
        print_json(out);
    } else {
        size_t warns = 0, fails = 0;
        for (const auto& c : checks) {
            std::printf("%-4s  %-10s  %s\n", std::string(status_word(c.status, false)).c_str(), c.name.c_str(),
                        c.detail.c_str());
            warns += c.status == Status::warn;
            fails += c.status == Status::fail;
        }
        if (fails) std::printf("%zu check%s failed\n", fails, fails == 1 ? "" : "s");
        else if (warns) std::printf("no failures, %zu warning%s\n", warns, warns == 1 ? "" : "s");
        else std::printf("all checks passed\n");
    }
    return ok ? to_int(ExitCode::ok) : to_int(ExitCode::error);
}

} // namespace lokt::cli
