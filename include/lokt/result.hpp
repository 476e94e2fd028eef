#pragma once
// Errors as values: every fallible library function returns Result<T>.
// Only the CLI turns an Error into the one-line "error: ..." and an exit code.

#include <string>
#include <utility>
#include <variant>

namespace lokt {

/// What went wrong: a human-readable message and, for OS failures, the errno.
struct Error {
    std::string message;
    int sys_errno = 0;

    /// An error from a failed syscall: "<what>: <strerror(err)>".
    static Error from_errno(std::string what, int err);
};

/// A value or an Error (a small std::expected for C++20).
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

/// Result of an operation that yields nothing but may fail.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

/// Propagates the error of a Result expression out of the enclosing function.
#define LOKT_TRY(expr)                                   \
    do {                                                 \
        auto lokt_try_r_ = (expr);                       \
        if (!lokt_try_r_) return lokt_try_r_.error();    \
    } while (0)

} // namespace lokt
