#include "proctree.hpp"

#include "lokt/proc_stat.hpp"
#include "lokt/sys.hpp"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

namespace lokt::sup {
std::optional<ProcInfo> read_proc(pid_t pid) {
    auto st = read_proc_stat(pid);
    if (!st) return std::nullopt;
    ProcInfo p;
    p.pid = pid;
    p.ppid = st->ppid;
    p.pgid = st->pgrp;
    p.state = st->state;
    p.start = st->start;
    return p;
}

std::vector<ProcInfo> descendants(pid_t root) {
    std::multimap<pid_t, ProcInfo> by_parent;
    auto names = sys::list_dir("/proc");
    if (names) {
        for (const auto& n : *names) {
            if (n.empty() || n[0] < '0' || n[0] > '9') continue;
            pid_t pid = static_cast<pid_t>(std::atoi(n.c_str()));
            if (auto p = read_proc(pid)) by_parent.emplace(p->ppid, *p);
        }
    }
    std::vector<ProcInfo> out;
    std::vector<pid_t> todo{root};
    while (!todo.empty()) {
        pid_t parent = todo.back();
        todo.pop_back();
        auto [lo, hi] = by_parent.equal_range(parent);
        for (auto it = lo; it != hi; ++it) {
            if (it->second.state != 'Z' && it->second.state != 'X') out.push_back(it->second);
            todo.push_back(it->second.pid);
        }
    }
    return out;
}

std::optional<std::vector<pid_t>> own_children() {
    pid_t self = ::getpid();
    std::string path = "/proc/self/task/" + std::to_string(self) + "/children";
    auto data = sys::read_file(path, 1 << 20);
    if (!data) return std::nullopt;
    std::vector<pid_t> out;
    const char* s = data->c_str();
    char* end = nullptr;
    for (;;) {
        long v = std::strtol(s, &end, 10);
        if (end == s) break;
        out.push_back(static_cast<pid_t>(v));
        s = end;
    }
    return out;
}

} // namespace lokt::sup
