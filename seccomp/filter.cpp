#include "filter.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "lokt/seccomp_pass.hpp"
#include "lokt/sys.hpp"

namespace lokt::seccomp {
namespace {

struct CtxDeleter {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};

Error lib_error(const char* what, int rc) { return Error::from_errno(what, rc < 0 ? -rc : EINVAL); }

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
constexpr uint32_t kX32Bit = 0x40000000u;  // __X32_SYSCALL_BIT
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#endif

} // namespace

Result<FilterProgram> build_exec_filter(uint64_t pass_word) {
    std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) return Error{"seccomp_init failed"};
    // libseccomp kills foreign-architecture syscalls by default: a 32-bit helper would die.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW); rc < 0)
        return lib_error("seccomp_attr_set(ACT_BADARCH)", rc);
    // The compat ABIs get the same NOTIFY rules, so a 32-bit exec is seen too. A kernel or
    // libseccomp without one of them is not an error: that ABI is then merely allowed.
#if defined(__x86_64__)
    (void)seccomp_arch_add(ctx.get(), SCMP_ARCH_X86);
    (void)seccomp_arch_add(ctx.get(), SCMP_ARCH_X32);
#elif defined(__aarch64__)
    (void)seccomp_arch_add(ctx.get(), SCMP_ARCH_ARM);
#endif
    for (const char* call : {"execve", "execveat"}) {
        int nr = seccomp_syscall_resolve_name(call);
        if (nr == __NR_SCMP_ERROR) return Error{std::string("libseccomp does not know ") + call};
        if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_NOTIFY, nr, 0); rc < 0)
            return lib_error("seccomp_rule_add", rc);
    }
    if (pass_word != 0) {
        // The native execve with the pass word in its unused argument is let through: the rule
        // is compiled into the native architecture's branch only (a 32-bit or x32 process never
        // loads the 64-bit library that sends the word), then merged with the one above.
        std::unique_ptr<void, CtxDeleter> native(seccomp_init(SCMP_ACT_ALLOW));
        if (!native) return Error{"seccomp_init failed"};
        if (int rc = seccomp_attr_set(native.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW); rc < 0)
            return lib_error("seccomp_attr_set(ACT_BADARCH)", rc);
        const int nr = seccomp_syscall_resolve_name("execve");
        if (int rc = seccomp_rule_add(native.get(), SCMP_ACT_NOTIFY, nr, 1,
                                      SCMP_CMP(seccomp_pass::kArgIndex, SCMP_CMP_NE, pass_word));
            rc < 0)
            return lib_error("seccomp_rule_add(pass word)", rc);
        if (int rc = seccomp_rule_add(native.get(), SCMP_ACT_NOTIFY, seccomp_syscall_resolve_name("execveat"), 0);
            rc < 0)
            return lib_error("seccomp_rule_add", rc);
        if (int rc = seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE); rc < 0)
            return lib_error("seccomp_arch_remove", rc);
        // On success the merge frees the filter merged in.
        if (int rc = seccomp_merge(native.get(), ctx.get()); rc < 0) return lib_error("seccomp_merge", rc);
        (void)ctx.release();
        ctx = std::move(native);
    }
    int mfd = ::memfd_create("lokt-seccomp-bpf", MFD_CLOEXEC);
    if (mfd < 0) return Error::from_errno("memfd_create", errno);
    sys::UniqueFd fd(mfd);
    if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc < 0)
        return lib_error("seccomp_export_bpf", rc);
    if (::lseek(fd.get(), 0, SEEK_SET) < 0) return Error::from_errno("lseek", errno);
    auto bytes = sys::read_all(fd.get(), 1 << 20);
    if (!bytes) return bytes.error();
    if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0)
        return Error{"seccomp_export_bpf produced " + std::to_string(bytes->size()) + " bytes"};
    FilterProgram out;
    out.insns.resize(bytes->size() / sizeof(sock_filter));
    std::memcpy(out.insns.data(), bytes->data(), bytes->size());
    return out;
}

ExecCall classify_call(uint32_t arch, int32_t nr, int* ptr_size) noexcept {
    const auto n = static_cast<uint32_t>(nr);
    *ptr_size = 8;
#if defined(__x86_64__)
    if (arch == kNativeArch) {
        if (n & kX32Bit) {
            *ptr_size = 4;
            const uint32_t x = n & ~kX32Bit;
            return x == 520 ? ExecCall::execve : x == 545 ? ExecCall::execveat : ExecCall::other;
        }
        return n == SYS_execve ? ExecCall::execve : n == SYS_execveat ? ExecCall::execveat : ExecCall::other;
    }
    if (arch == AUDIT_ARCH_I386) {
        *ptr_size = 4;
        return n == 11 ? ExecCall::execve : n == 358 ? ExecCall::execveat : ExecCall::other;
    }
#elif defined(__aarch64__)
    if (arch == kNativeArch)
        return n == SYS_execve ? ExecCall::execve : n == SYS_execveat ? ExecCall::execveat : ExecCall::other;
    if (arch == AUDIT_ARCH_ARM) {
        *ptr_size = 4;
        return n == 11 ? ExecCall::execve : n == 387 ? ExecCall::execveat : ExecCall::other;
    }
#else
    (void)arch;
    *ptr_size = static_cast<int>(sizeof(void*));
    return n == SYS_execve ? ExecCall::execve : n == SYS_execveat ? ExecCall::execveat : ExecCall::other;
#endif
    return ExecCall::other;
}

int install_filter(const sock_fprog* prog, bool set_nnp, bool wait_killable,
                   InstallReport* report) noexcept {
    *report = InstallReport{};
    if (set_nnp && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        report->err = errno;
        return -1;
    }
    unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (wait_killable) flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    for (;;) {
        long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
        if (fd >= 0) {
            report->wait_killable = (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) != 0;
            return static_cast<int>(fd);
        }
        const int err = errno;
        // Kernels before 5.19 reject the unknown flag with EINVAL: go without it.
        if (err == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
            flags &= ~static_cast<unsigned long>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
            continue;
        }
        // Root without CAP_SYS_ADMIN in its user namespace still needs NO_NEW_PRIVS.
        if (err == EACCES && !set_nnp && !report->nnp_forced &&
            ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
            report->nnp_forced = true;
            continue;
        }
        report->err = err;
        return -1;
    }
}

} // namespace lokt::seccomp
