#pragma once
// The kernel-held proof that a guard lives (docs/design.md "Who is alive"): ROOT/held/LOCK_ID,
// created and flock'ed before the lock file naming LOCK_ID is written, by the guard's front
// before it forks the supervisor, so both share one open file description and the kernel
// drops the flock only when both are gone. The command never inherits it (close-on-exec).

#include "lokt/result.hpp"
#include "lokt/root.hpp"
#include "lokt/sys.hpp"

#include <string>
#include <string_view>

namespace lokt {

/// ROOT/held: where the proofs live.
std::string held_dir(const Root& root);

/// True for a lock id that may name a file (32 lowercase hex characters, as we write them).
bool valid_lock_id(std::string_view id);

/// One proof, held (LOCK_EX) for the lifetime of this object in this process and every copy
/// of its fd a fork made.
class HeldFile {
public:
    /// Creates ROOT/held/LOCK_ID (never an existing file: O_EXCL|O_NOFOLLOW) and takes its flock.
    static Result<HeldFile> create(const Root& root, const std::string& lock_id);
    HeldFile() = default;

    /// The lock id the proof is for.
    const std::string& lock_id() const { return lock_id_; }

private:
    HeldFile(sys::UniqueFd fd, std::string lock_id) : fd_(std::move(fd)), lock_id_(std::move(lock_id)) {}
    sys::UniqueFd fd_;
    std::string lock_id_;
};

/// What a non-blocking test of ROOT/held/LOCK_ID says.
enum class HeldProof {
    held,  ///< someone holds its flock: the guard's front or supervisor lives
    free,  ///< a regular file nobody holds: both are gone
    none,  ///< no such file (the original, older lokt, a lease), not a regular file, or unreadable
};

/// Tests the proof for `lock_id` under `dir` (ROOT/held); never creates or blocks.
HeldProof probe_held(const std::string& dir, std::string_view lock_id);

/// Removes the proof of `lock_id` (after its lock file is gone); a missing one is fine.
void remove_held(const std::string& dir, std::string_view lock_id);

} // namespace lokt
