#pragma once
// The exec filter: built with libseccomp in the supervisor (NOTIFY on execve and execveat,
// every other syscall and every foreign architecture allowed), exported as raw BPF, and
// installed by the child with the raw seccomp() call, because libseccomp 2.5.4 cannot ask
// for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.

#include "lokt/result.hpp"

#include <linux/filter.h>

#include <cstdint>
#include <vector>

namespace lokt::seccomp {

/// The exported BPF program.
struct FilterProgram {
    std::vector<sock_filter> insns;
    /// The view seccomp() takes; valid while `insns` is unchanged.
    sock_fprog fprog() { return {static_cast<unsigned short>(insns.size()), insns.data()}; }
};

/// Builds the filter and exports it: every execve and execveat stops for a notification,
/// except a native execve that carries `pass_word` (non-zero) in argument
/// seccomp_pass::kArgIndex (lokt/seccomp_pass.hpp).
Result<FilterProgram> build_exec_filter(uint64_t pass_word = 0);

/// What an exec notification is about.
enum class ExecCall : uint8_t { other, execve, execveat };

/// Classifies a notification by its audit architecture and syscall number; `ptr_size`
/// receives the width of a pointer in the caller's ABI (4 for i386/x32/arm, 8 otherwise).
ExecCall classify_call(uint32_t arch, int32_t nr, int* ptr_size) noexcept;

/// How installing went, as the child reports it to the supervisor.
struct InstallReport {
    int err = 0;                 ///< errno of the failed install; 0: installed
    bool wait_killable = false;  ///< installed with WAIT_KILLABLE_RECV
    bool nnp_forced = false;     ///< NO_NEW_PRIVS had to be set after EACCES (root without
                                 ///< CAP_SYS_ADMIN in its user namespace)
};

/// In the forked child (async-signal-safe): sets NO_NEW_PRIVS when `set_nnp`, installs
/// `prog` with NEW_LISTENER (and WAIT_KILLABLE_RECV when `wait_killable`, dropped again on
/// EINVAL), and returns the listener fd (-1 on failure; `report` says why).
int install_filter(const sock_fprog* prog, bool set_nnp, bool wait_killable,
                   InstallReport* report) noexcept;

} // namespace lokt::seccomp
