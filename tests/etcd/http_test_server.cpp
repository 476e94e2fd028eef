#include "http_test_server.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace lokt::etcd::test {
namespace {

size_t content_length(const std::string& head) {
    // Enough for the transport's own requests: "Content-Length: N" exactly as it writes it.
    const auto at = head.find("Content-Length: ");
    if (at == std::string::npos) return 0;
    return std::stoul(head.substr(at + 16));
}

} // namespace

bool ServerConn::wait_readable() {
    struct pollfd fds[2] = {{fd_.get(), POLLIN, 0}, {server_.stop_.get(), POLLIN, 0}};
    while (true) {
        auto n = sys::poll(fds, 2, std::nullopt);
        if (!n) return false;
        if (fds[1].revents) return false;
        if (fds[0].revents) return true;
    }
}

std::optional<SeenRequest> ServerConn::read_request() {
    if (!fd_.valid()) return std::nullopt;
    SeenRequest r{{}, {}, index_};
    size_t end;
    char buf[4096];
    while ((end = buffered_.find("\r\n\r\n")) == std::string::npos ||
           buffered_.size() < end + 4 + content_length(buffered_.substr(0, end + 4))) {
        if (!wait_readable()) return std::nullopt;
        auto n = sys::read_some(fd_.get(), buf, sizeof buf);
        if (!n || *n == 0) return std::nullopt;
        buffered_.append(buf, *n);
    }
    r.head = buffered_.substr(0, end + 4);
    const size_t len = content_length(r.head);
    r.body = buffered_.substr(end + 4, len);
    buffered_.erase(0, end + 4 + len);
    server_.record(r);
    return r;
}

void ServerConn::send(std::string_view data) {
    while (fd_.valid() && !data.empty()) {
        auto n = sys::send_some(fd_.get(), data);
        if (!n) return;
        data.remove_prefix(*n);
    }
}

void ServerConn::reply(std::string_view body, std::string_view headers) {
    send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + std::string(headers) + "\r\n" + std::string(body));
}

void ServerConn::wait_stop() {
    struct pollfd p{server_.stop_.get(), POLLIN, 0};
    while (true) {
        auto n = sys::poll(&p, 1, std::nullopt);
        if (!n || *n > 0) return;
    }
}

HttpTestServer::HttpTestServer(Handler handler, const std::string& address)
    : handler_(std::move(handler)), address_(address) {
    auto stop = sys::eventfd(0, EFD_NONBLOCK);
    REQUIRE(stop.ok());
    stop_ = std::move(*stop);
    const bool v6 = address.find(':') != std::string::npos;
    auto fd = sys::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM);
    REQUIRE(fd.ok());
    listen_ = std::move(*fd);
    struct sockaddr_storage ss {};
    socklen_t len;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        REQUIRE(::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) == 1);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, address.c_str(), &a->sin_addr) == 1);
        len = sizeof *a;
    }
    auto bound = sys::bind_listen(listen_.get(), reinterpret_cast<sockaddr*>(&ss), len, 16);
    REQUIRE(bound.ok());
    auto port = sys::local_port(listen_.get());
    REQUIRE(port.ok());
    port_ = *port;
    acceptor_ = std::thread([this] { accept_loop(); });
}

HttpTestServer::~HttpTestServer() {
    (void)sys::eventfd_signal(stop_.get());
    acceptor_.join();
    for (auto& t : handlers_) t.join();
}

std::string HttpTestServer::url() const {
    const bool v6 = address_.find(':') != std::string::npos;
    return "etcd://" + (v6 ? "[" + address_ + "]" : address_) + ":" + std::to_string(port_);
}

void HttpTestServer::accept_loop() {
    struct pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    while (true) {
        auto n = sys::poll(fds, 2, std::nullopt);
        if (!n || fds[1].revents) return;
        if (!fds[0].revents) continue;
        auto c = sys::accept(listen_.get());
        if (!c) continue;
        std::lock_guard lock(mu_);
        const size_t index = accepted_++;
        changed_.notify_all();
        handlers_.emplace_back([this, fd = std::make_shared<sys::UniqueFd>(std::move(*c)), index] {
            ServerConn conn(*this, std::move(*fd), index);
            handler_(conn);
        });
    }
}

void HttpTestServer::record(const SeenRequest& r) {
    std::lock_guard lock(mu_);
    seen_.push_back(r);
    changed_.notify_all();
}

size_t HttpTestServer::connections() const {
    std::lock_guard lock(mu_);
    return accepted_;
}

std::vector<SeenRequest> HttpTestServer::requests() const {
    std::lock_guard lock(mu_);
    return seen_;
}

bool HttpTestServer::wait_requests(size_t n) const {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.size() >= n; });
}

HttpTestServer::Handler HttpTestServer::always(std::string body) {
    return [body](ServerConn& c) {
        while (c.read_request()) c.reply(body);
    };
}

std::string chunked(const std::vector<std::string>& pieces) {
    std::string out;
    for (const auto& p : pieces) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", p.size());
        out += size + p + "\r\n";
    }
    return out + "0\r\n\r\n";
}

} // namespace lokt::etcd::test
