#include "lokt/supervisor/proctree.hpp"

#include "lokt/sys.hpp"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

namespace lokt::sup {
namespace {

std::optional<ProcInfo> parse_stat(pid_t pid, const std::string& data) {
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    size_t close = data.rfind(')');
    if (close == std::string::npos || close + 2 >= data.size()) return std::nullopt;
    ProcInfo p;
    p.pid = pid;
    p.state = data[close + 2];
    const char* s = data.c_str() + close + 3;
    char* end = nullptr;
    // Fields after state: fields[0] is field 4 (ppid), [1] field 5 (pgrp), ... [18] is
    // field 22 (starttime), the value that tells a recycled pid from the original.
    unsigned long long fields[19] = {};
    for (int i = 0; i < 19; ++i) {
        fields[i] = std::strtoull(s, &end, 10);
        if (end == s) return std::nullopt;
        s = end;
    }
    p.ppid = static_cast<pid_t>(fields[0]);
    p.pgid = static_cast<pid_t>(fields[1]);
    p.start = static_cast<uint64_t>(fields[18]);
    return p;
}

} // namespace

std::optional<ProcInfo> read_proc(pid_t pid) {
    auto data = sys::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!data) return std::nullopt;
    return parse_stat(pid, *data);
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
