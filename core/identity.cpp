#include "lokt/identity.hpp"

#include "lokt/proc_stat.hpp"
#include "lokt/sys.hpp"
#include "lokt/time.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace lokt {
namespace {

std::string hex(const unsigned char* bytes, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 0xf];
    }
    return out;
}

void random_bytes(unsigned char* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            // No entropy syscall: fall back to time and pid; ids only need to be unique.
            uint64_t seed = static_cast<uint64_t>(::getpid()) ^ static_cast<uint64_t>(now().time_since_epoch().count());
            for (; got < n; ++got) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                buf[got] = static_cast<unsigned char>(seed >> 56);
            }
            return;
        }
        got += static_cast<size_t>(r);
    }
}

std::string os_user_name() {
    if (const char* u = std::getenv("USER"); u && *u) return u;
    struct passwd pw;
    struct passwd* res = nullptr;
    char buf[4096];
    if (::getpwuid_r(::geteuid(), &pw, buf, sizeof buf, &res) == 0 && res) return res->pw_name;
    return "uid" + std::to_string(::geteuid());
}

} // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
    auto st = read_proc_stat(pid);
    if (!st) return std::nullopt;
    return st->start;
}

std::string current_boot_id() {
    auto data = sys::read_file("/proc/sys/kernel/random/boot_id", 64);
    if (!data) return {};
    std::string id = *data;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
}

uint64_t current_pid_ns() {
    // Each pid namespace is one nsfs inode; two processes see the same pids iff it matches.
    auto st = sys::stat("/proc/self/ns/pid");
    return st ? static_cast<uint64_t>(st->st_ino) : 0;
}

std::string random_lock_id() {
    unsigned char b[16];
    random_bytes(b, sizeof b);
    return hex(b, sizeof b);
}

Identity current_identity() {
    Identity id;
    if (const char* o = std::getenv("LOKT_OWNER"); o && *o) id.owner = o;
    else id.owner = os_user_name();
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0]) id.host = host;
    else id.host = "localhost";
    id.pid = ::getpid();
    id.pid_start = process_start_time(id.pid).value_or(0);
    id.boot_id = current_boot_id();
    id.pid_ns = current_pid_ns();
    if (const char* a = std::getenv("LOKT_AGENT_ID"); a && *a) {
        id.agent_id = a;
    } else {
        unsigned char b[2];
        random_bytes(b, sizeof b);
        id.agent_id = "agent-" + hex(b, sizeof b);
    }
    return id;
}

} // namespace lokt
