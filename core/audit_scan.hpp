#pragma once
// Internal to the audit log (core/audit_read.cpp, core/audit_follow.cpp): reading the
// generation files and handing matching lines to a sink.

#include "lokt/audit.hpp"
#include "lokt/sys.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lokt::audit_detail {

/// decode_event; without `full` only ts, event and name are filled in (the rest of the line
/// is still validated), which is all that filtering and printing raw lines need.
Result<AuditEvent> decode_event(std::string_view line, bool full);

/// Applies `q` to one line (without its newline) and passes a match to `sink`.
void deliver(std::string_view line, const AuditQuery& q, const AuditSink& sink, AuditReadStats& st);

/// Reads `fd` from `offset` to its current end, delivering every complete line. Returns the
/// offset just past the last complete line. A trailing fragment without a newline (a reader
/// can observe an append half-copied) is left for a later call, or, with `take_fragment`,
/// delivered as a line of its own.
Result<uint64_t> scan(int fd, uint64_t offset, bool take_fragment, const AuditQuery& q,
                      const AuditSink& sink, AuditReadStats& st);

/// One generation file, opened.
struct GenFile {
    sys::UniqueFd fd;       ///< invalid for a live audit.log that does not exist
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t size = 0;
};

/// audit.log.N .. audit.log opened, oldest first, each file once even if a rotation runs
/// meanwhile; the last element is always the live file as it was first opened.
Result<std::vector<GenFile>> open_generations(const AuditLog& log);

/// Where a history read stopped in the live file, so that following continues seamlessly.
struct LivePosition {
    sys::UniqueFd fd;       ///< the live audit.log as it was opened (invalid: none existed)
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t offset = 0;    ///< just past the last complete line read
};

/// The history part of read()/follow(): every generation, oldest first, from `q.since` on.
Result<void> read_history(const AuditLog& log, const AuditQuery& q, const AuditSink& sink,
                          AuditReadStats& st, LivePosition* live);

} // namespace lokt::audit_detail
