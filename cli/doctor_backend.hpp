#pragma once
// `lokt doctor`'s checks of the lock backend (see doctor_backend.cpp).

#include "doctor_checks.hpp"

#include <vector>

namespace lokt::cli::doctor {

/// Which backend lokt uses, and how each of its servers answers: reached or not, its
/// version, the round trip and its clock's skew (nothing more for the file backend).
std::vector<Check> backend_checks();

} // namespace lokt::cli::doctor
