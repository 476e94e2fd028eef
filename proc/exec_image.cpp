#include "lokt/proc/exec_image.hpp"

#include <unistd.h>

#include <cerrno>

namespace lokt::proc {

std::vector<char*> c_array(const std::vector<std::string>& words) {
    std::vector<char*> out;
    out.reserve(words.size() + 1);
    for (const auto& w : words) out.push_back(const_cast<char*>(w.c_str()));
    out.push_back(nullptr);
    return out;
}

ExecImage::ExecImage(std::string path, std::vector<std::string> argv)
    : path_(std::move(path)), words_(std::move(argv)) {
    const size_t argc = words_.size();
    words_.push_back("/bin/sh");
    // Pointers only after the last change to words_: a reallocation moves short strings.
    argv_.reserve(argc + 1);
    for (size_t i = 0; i < argc; ++i) argv_.push_back(words_[i].data());
    argv_.push_back(nullptr);
    sh_argv_ = {words_[argc].data(), path_.data()};
    for (size_t i = 1; i < argc; ++i) sh_argv_.push_back(words_[i].data());
    sh_argv_.push_back(nullptr);
}

int ExecImage::exec(char* const envp[]) const noexcept {
    ::execve(path_.c_str(), argv_.data(), envp);
    const int err = errno;
    if (err == ENOEXEC) ::execve(sh_argv_[0], sh_argv_.data(), envp);
    return err;
}

} // namespace lokt::proc
