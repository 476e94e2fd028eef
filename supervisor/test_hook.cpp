#include "test_hook.hpp"

#include "lokt/sys.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace lokt::sup {

void test_pause(const char* stage) {
    const char* hook = std::getenv("LOKT_TEST_HOOK_PAUSE");
    if (!hook) return;
    const size_t n = std::strlen(stage);
    if (std::strncmp(hook, stage, n) != 0 || hook[n] != ':') return;
    const std::string file = hook + n + 1;
    auto fd = sys::open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0644);
    if (!fd) return;
    (void)sys::write_all(fd->get(), std::to_string(::getpid()) + "\n");
    fd->reset();
    // A bounded wait: a test that forgets to resume us does not leave a guard behind forever.
    for (int i = 0; i < 6000 && sys::exists(file); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

} // namespace lokt::sup
