#include "lokt/proc_stat.hpp"

#include "lokt/sys.hpp"

#include <cstdlib>
#include <string>

namespace lokt {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    auto data = sys::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!data) return std::nullopt;
    // comm (field 2) may contain spaces and ')': the fields resume after the last ')'.
    size_t close = data->rfind(')');
    if (close == std::string::npos || close + 2 >= data->size()) return std::nullopt;
    ProcStat st;
    st.state = (*data)[close + 2];
    const char* p = data->c_str() + close + 3;
    char* end = nullptr;
    // Fields 4..22; some (tty_nr, tpgid) may be negative, so parse signed and keep going.
    long long fields[19];
    for (long long& f : fields) {
        f = std::strtoll(p, &end, 10);
        if (end == p) return std::nullopt;
        p = end;
    }
    st.ppid = static_cast<pid_t>(fields[0]);
    st.pgrp = static_cast<pid_t>(fields[1]);
    st.start = static_cast<uint64_t>(fields[18]);
    return st;
}

bool is_self_or_ancestor(pid_t ancestor, uint64_t start, pid_t pid, int max_depth) {
    for (int depth = 0; depth < max_depth && pid > 0; ++depth) {
        auto st = read_proc_stat(pid);
        if (!st) return false;  // gone mid-walk: not an ancestor
        if (pid == ancestor) return start == 0 || st->start == start;
        if (st->ppid == pid) return false;
        pid = st->ppid;
    }
    return false;
}

} // namespace lokt
