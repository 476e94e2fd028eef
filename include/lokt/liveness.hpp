#pragma once
// Is a lock's holder provably gone? (DESIGN P4; the whole rule and its argument are in
// docs/design.md "Who is alive"). A pid means something only on the holder's host, in its
// boot and its pid namespace; elsewhere only a kernel-held proof (held_file.hpp) or the TTL.

#include "lokt/lock_file.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace lokt {

/// The `pid_status` of `lokt status --json`.
enum class PidStatus {
    alive,
    dead,
    unknown,  ///< another host (or pid namespace without a proof): we cannot tell
};

/// Where the judge stands: what makes a recorded pid meaningful to it, and where proofs are.
struct LocalView {
    std::string host;      ///< gethostname()
    std::string boot_id;   ///< this boot (empty: unknown)
    uint64_t pid_ns = 0;   ///< our pid namespace inode (0: unknown)
    std::string held_dir;  ///< ROOT/held (empty: no kernel-held proofs are looked at)
};

/// How the holder's pids relate to ours.
enum class PidSpace {
    same,        ///< same host, boot and pid namespace (or a file without those fields)
    other_ns,    ///< same host and boot, another pid namespace (or we cannot tell)
    other_boot,  ///< same host, another boot: every process of that boot is gone
    other_host,  ///< another host, or none recorded
};

/// The process exists and, if `start` is non-zero, its starttime equals `start`.
bool process_alive(pid_t pid, uint64_t start);
/// Some process is still in process group `pgid`.
bool process_group_alive(pid_t pgid);

/// Whether the record's pid and pgid name processes we can see.
PidSpace pid_space(const LockRecord& r, const LocalView& here);

/// Holder status as reported: the kernel-held proof, then pid (with start time) and, for
/// guard/shim locks, the process group where they mean something here.
PidStatus holder_status(const LockRecord& r, const LocalView& here);

/// True when dead-holder pruning may remove this lock: its holder is proved gone — and the
/// lock is not a lease (a lease's pid says nothing, P4). Files written by the original (no
/// `kind`) follow the original's rule: dead pid on the same host means prunable.
bool provably_gone(const LockRecord& r, const LocalView& here);

std::string_view to_string(PidStatus s);

} // namespace lokt
