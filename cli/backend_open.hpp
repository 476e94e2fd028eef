#pragma once
// Choosing and opening the lock backend for a command (see backend_open.cpp).

#include "lokt/backend.hpp"
#include "lokt/result.hpp"
#include "lokt/root.hpp"

#include <memory>
#include <string>

namespace lokt::cli {

/// The configured backend: $LOKT_BACKEND, else the `backend = …` line of ROOT/config, else "".
Result<std::string> backend_setting(const Root& root);
/// True for the file backend ("" or "file").
bool is_file_backend(const std::string& setting);
/// The configured backend, ready to use; `create` as for open_store. An etcd cluster that
/// cannot be reached fails on first use with `lock backend etcd://… unreachable: …`.
Result<std::unique_ptr<Backend>> open_backend(bool create);

} // namespace lokt::cli
