#pragma once
// Process-global state a test changes, restored when the test ends even if an assertion
// throws: temp directories, environment variables, the syscall layer's fault injection.

#include "lokt/sys.hpp"

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

namespace lokt::test {

/// A fresh directory under /tmp, removed with its contents at the end of the test.
struct TempDir {
    std::string path;
    explicit TempDir(const char* prefix = "lokt-test") {
        std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

/// Sets (or with nullopt, unsets) one environment variable; the old value comes back after.
class ScopedEnv {
public:
    ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        apply(value);
    }
    ~ScopedEnv() { apply(old_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    void apply(const std::optional<std::string>& v) {
        if (v) ::setenv(name_.c_str(), v->c_str(), 1);
        else ::unsetenv(name_.c_str());
    }
    std::string name_;
    std::optional<std::string> old_;
};

/// Makes the syscall layer's writes fail with `err` after `after_bytes`; off again after.
struct ScopedWriteFailure {
    explicit ScopedWriteFailure(int err, size_t after_bytes = 0) { sys::inject_write_failure(err, after_bytes); }
    ~ScopedWriteFailure() { sys::inject_write_failure(0); }
    ScopedWriteFailure(const ScopedWriteFailure&) = delete;
    ScopedWriteFailure& operator=(const ScopedWriteFailure&) = delete;
};

} // namespace lokt::test
