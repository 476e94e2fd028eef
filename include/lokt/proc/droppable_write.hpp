#pragma once
// Diagnostics from the long-running loops (the guard supervisor, the seccomp broker): a full
// stderr pipe must never stall them.

#include <string_view>

namespace lokt::proc {

/// Writes `text` only if it cannot block (poll for POLLOUT first; at most PIPE_BUF bytes so
/// the write is atomic). Diagnostics go through this: a full stderr pipe must never stall a
/// loop. Returns false when the text was dropped.
bool write_droppable(int fd, std::string_view text);

} // namespace lokt::proc
