#include "etcd_server.hpp"

#include "lokt/etcd/client.hpp"
#include "lokt/etcd/transport_http.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

extern char** environ;

namespace lokt::etcd::test {

Client plain_client(ClientOptions options) {
    auto t = http_transport(std::move(options));
    REQUIRE(t.ok());
    return Client(std::move(*t));
}

uint16_t free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(s >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(s);
    return ntohs(a.sin_port);
}

EtcdServer::EtcdServer() {
    REQUIRE(::access("/usr/bin/etcd", X_OK) == 0);  // installed by scripts/install-deps.sh
    char tmpl[] = "/tmp/lokt-etcd-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    // free_port() only finds a port that was free a moment ago: a test running beside us may
    // bind it first. That shows as etcd exiting on "address already in use": new ports.
    for (int attempt = 0; attempt < 5; ++attempt) {
        client_port_ = free_port();
        peer_port_ = free_port();
        if (launch(attempt < 4)) break;
    }
}

EtcdServer::~EtcdServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string EtcdServer::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

std::string EtcdServer::url(const std::string& prefix) const { return "etcd://" + endpoint() + "/" + prefix; }

void EtcdServer::start() {
    if (pid_ > 0) return;
    REQUIRE(launch(false));
}

bool EtcdServer::launch(bool retry_on_busy_port) {
    const std::string c = "http://" + endpoint();
    const std::string p = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {"etcd", "--name", "t", "--data-dir", dir_ + "/data",
                                     "--listen-client-urls", c, "--advertise-client-urls", c,
                                     "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                                     "--initial-cluster", "t=" + p, "--initial-cluster-state", "new",
                                     "--log-outputs", dir_ + "/log", "--logger", "zap"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, (dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int rc = posix_spawn(&pid_, "/usr/bin/etcd", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    // Ready when a read succeeds; 30 s is a backstop for a loaded machine.
    auto url = parse_backend_url(this->url());
    REQUIRE(url.ok());
    ClientOptions o;
    o.url = *url;
    o.request_timeout = std::chrono::milliseconds(500);
    o.connect_timeout = std::chrono::milliseconds(200);
    Client client = plain_client(o);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (true) {
        if (client.range(RangeRequest{"ready-probe", ""}).ok()) return true;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != 0) {
            pid_ = -1;
            std::ifstream log(dir_ + "/log");
            const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
            if (retry_on_busy_port && text.find("address already in use") != std::string::npos) {
                // The next attempt starts from nothing: no half-made member, no old log.
                std::error_code ec;
                std::filesystem::remove_all(dir_ + "/data", ec);
                std::filesystem::remove(dir_ + "/log", ec);
                return false;
            }
            FAIL("etcd exited on start: see " << dir_ << "/log and " << dir_ << "/stderr");
        }
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void EtcdServer::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
}

} // namespace lokt::etcd::test
