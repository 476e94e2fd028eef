#pragma once
// Test helpers for the store and wait tests: a throwaway root, stores acting as different
// owners, the audit events written so far, and forked children that only _exit().

#include "lokt/audit.hpp"
#include "lokt/identity.hpp"
#include "lokt/store.hpp"
#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace lokt::test {

/// A fresh root under /tmp, removed at the end of the test.
struct TempRoot {
    std::string dir;
    Root root;

    TempRoot() {
        char tmpl[] = "/tmp/lokt-store-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        root.path = dir + "/lokt";
        root.source = RootSource::env;
    }
    ~TempRoot() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    /// A store acting as `owner` (this process, this host).
    Store store(const std::string& owner = "agent-1") const {
        Identity id = current_identity();
        id.owner = owner;
        id.agent_id = "agent-" + owner;
        return Store(root, AuditLog(root.audit_path()), id);
    }

    /// Every audit event so far, in order.
    std::vector<AuditEvent> events() const {
        std::vector<AuditEvent> out;
        std::ifstream in(root.audit_path());
        std::string line;
        while (std::getline(in, line))
            if (auto e = decode_event(line)) out.push_back(*e);
        return out;
    }
    /// The events named `name`.
    std::vector<AuditEvent> events(const std::string& name) const {
        std::vector<AuditEvent> out;
        for (auto& e : events())
            if (e.event == name) out.push_back(e);
        return out;
    }

    /// Raw bytes of a file under the root ("" when missing).
    std::string slurp(const std::string& path) const {
        auto r = sys::read_file(path);
        return r ? *r : std::string();
    }
    void write(const std::string& path, const std::string& bytes) const {
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        std::ofstream(path, std::ios::binary) << bytes;
    }
    /// Entries of a directory (empty when missing).
    std::vector<std::string> ls(const std::string& path) const {
        auto r = sys::list_dir(path);
        return r ? *r : std::vector<std::string>{};
    }
};

/// A lease request by the store's own identity.
inline AcquireRequest request(const Store& s, const std::string& name, Nanos ttl = Nanos(0),
                              LockKind kind = LockKind::lease) {
    AcquireRequest r;
    r.name = name;
    r.kind = kind;
    r.ttl = ttl;
    r.who = s.self();
    return r;
}

/// Polls `pred` every millisecond until it holds or `timeout` passes.
inline bool wait_for(const std::function<bool()>& pred,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return pred();
}

/// Forks a child running `body`; its return value is the exit status. The child never
/// returns into Catch2: it _exit()s.
inline pid_t fork_child(const std::function<int()>& body) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int rc = 99;
        try {
            rc = body();
        } catch (...) {
        }
        ::_exit(rc);
    }
    return pid;
}

/// Reaps `pid` and returns its exit status (-1 if it did not exit normally).
inline int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The pid of a process that has exited and been reaped (dead for sure, unless recycled).
inline pid_t dead_pid() {
    pid_t pid = fork_child([] { return 0; });
    reap(pid);
    return pid;
}

} // namespace lokt::test
