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
/// For a process tree whose commands run lokt from any directory (`lokt shim`): the backend
/// it uses, spelled out for LOKT_BACKEND — etcd://…/PREFIX with the key namespace, so that a
/// tool started outside the repository still meets the others there, or "file" (LOKT_ROOT
/// pins the root). `opened`: that backend if the caller has it open already.
Result<std::string> pinned_backend(const Root& root, const Backend* opened = nullptr);

} // namespace lokt::cli
