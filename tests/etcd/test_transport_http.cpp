// The socket transport against a scripted HTTP server on loopback (http_test_server.hpp).
#include "http_test_server.hpp"

#include "lokt/etcd/transport_http.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace lokt;
using namespace lokt::etcd;
using lokt::etcd::test::chunked;
using lokt::etcd::test::HttpTestServer;
using lokt::etcd::test::ServerConn;
using json = nlohmann::json;

namespace {

std::unique_ptr<Transport> transport_for(const std::string& url, Nanos timeout = std::chrono::seconds(5)) {
    auto u = parse_backend_url(url);
    REQUIRE(u.ok());
    ClientOptions o;
    o.url = *u;
    o.request_timeout = timeout;
    auto t = http_transport(o);
    REQUIRE(t.ok());
    return std::move(*t);
}

Result<json> post(Transport& t, const json& body = json{{"k", "v"}}) {
    return t.post("/v3/kv/range", body, t.options().request_timeout);
}

const std::string kOk = R"({"ok":true})";

} // namespace

TEST_CASE("http transport: a Content-Length reply, the request's head, and keep-alive reuse", "[etcd-http]") {
    HttpTestServer server(HttpTestServer::always(kOk));
    auto t = transport_for(server.url());
    t->set_token("tok123");
    auto a = post(*t, json{{"key", "a"}});
    REQUIRE(a.ok());
    CHECK((*a)["ok"] == true);
    REQUIRE(post(*t).ok());
    // Both requests went over the one connection.
    CHECK(server.connections() == 1);
    auto seen = server.requests();
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].connection == 0);
    CHECK(seen[1].connection == 0);
    const std::string& head = seen[0].head;
    CHECK(head.starts_with("POST /v3/kv/range HTTP/1.1\r\n"));
    CHECK(head.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") != std::string::npos);
    CHECK(head.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
    CHECK(head.find("\r\nAuthorization: tok123\r\n") != std::string::npos);
    CHECK(json::parse(seen[0].body) == json{{"key", "a"}});
}

TEST_CASE("http transport: a chunked reply sent a few bytes at a time", "[etcd-http]") {
    const std::string reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                              chunked({"{\"res", "ult\":{\"TTL\":", "\"30\"}", "}\n"});
    HttpTestServer server([&](ServerConn& c) {
        while (c.read_request())
            for (size_t i = 0; i < reply.size(); i += 3) c.send(std::string_view(reply).substr(i, 3));
    });
    auto t = transport_for(server.url());
    for (int i = 0; i < 2; ++i) {
        auto r = post(*t);
        REQUIRE(r.ok());
        CHECK((*r)["result"]["TTL"] == "30");
    }
    CHECK(server.connections() == 1);  // a chunked reply read to its end leaves it reusable
}

TEST_CASE("http transport: a stream hands out each message and its connection is not reused", "[etcd-http]") {
    // Messages split across chunks mid-line; the stream stays open after the third.
    HttpTestServer server([](ServerConn& c) {
        if (!c.read_request()) return;
        if (c.index() > 0) return c.reply(kOk);
        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (std::string piece : {"{\"n\":1}\n{\"n\"", ":2}", "\n\n{\"n\":3}\n{\"n\":4}"}) {
            char size[16];
            std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
            c.send(size + piece + "\r\n");
        }
        c.wait_stop();
    });
    auto t = transport_for(server.url());
    std::vector<int> seen;
    auto r = t->stream("/v3/watch", json::object(), Deadline::after(std::chrono::seconds(10)), nullptr,
                       [&](const json& m) {
                           seen.push_back(m["n"].get<int>());
                           return seen.size() < 3;
                       });
    REQUIRE(r.ok());
    CHECK(seen == std::vector<int>{1, 2, 3});
    // The stream's connection was left half-read: the next request needs a connection of its own.
    REQUIRE(post(*t).ok());
    CHECK(server.connections() == 2);
}

TEST_CASE("http transport: a pooled connection the server closed is replaced", "[etcd-http]") {
    SECTION("closed while idle") {
        HttpTestServer server([](ServerConn& c) {
            if (c.read_request()) c.reply(kOk);
            c.close();
        });
        auto t = transport_for(server.url());
        REQUIRE(post(*t).ok());
        REQUIRE(post(*t).ok());
        CHECK(server.connections() == 2);
        CHECK(server.requests().size() == 2);
    }
    SECTION("closed on receiving the next request, before any byte of the reply: sent again once") {
        HttpTestServer server([](ServerConn& c) {
            if (!c.read_request()) return;
            c.reply(kOk);
            if (c.index() == 0 && c.read_request()) c.close();  // the first connection dies here
        });
        auto t = transport_for(server.url());
        REQUIRE(post(*t).ok());
        auto second = post(*t, json{{"n", 2}});
        REQUIRE(second.ok());
        auto seen = server.requests();
        REQUIRE(seen.size() == 3);
        CHECK(seen[1].body == seen[2].body);
        CHECK(seen[2].connection == 1);
    }
    SECTION("closed with the reply half sent: an error, never sent twice") {
        HttpTestServer server([](ServerConn& c) {
            if (!c.read_request()) return;
            c.reply(kOk);
            if (c.index() > 0 || !c.read_request()) return;
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"partial");
            c.close();
        });
        auto t = transport_for(server.url());
        REQUIRE(post(*t).ok());
        auto second = post(*t);
        REQUIRE_FALSE(second.ok());
        CHECK(second.error().message.find("connection closed in the middle of the reply") != std::string::npos);
        CHECK(server.requests().size() == 2);
    }
}

TEST_CASE("http transport: a server that never answers times out", "[etcd-http]") {
    HttpTestServer server([](ServerConn& c) {
        (void)c.read_request();
        c.wait_stop();
    });
    auto t = transport_for(server.url(), std::chrono::milliseconds(200));
    auto r = post(*t);
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().message.starts_with("lock backend " + server.url() + " unreachable: 127.0.0.1:" +
                                        std::to_string(server.port()) + ": timed out after "));
}

TEST_CASE("http transport: Cancel from another thread ends a request and a stream at once", "[etcd-http]") {
    HttpTestServer server([](ServerConn& c) {
        (void)c.read_request();
        c.wait_stop();
    });
    auto t = transport_for(server.url(), std::chrono::hours(1));
    const bool streaming = GENERATE(false, true);
    Cancel cancel;
    std::thread canceller([&] {
        // Cancelled once the server holds the request: the transfer is blocked by then.
        REQUIRE(server.wait_requests(1));
        cancel.cancel();
    });
    if (streaming) {
        bool called = false;
        auto r = t->stream("/v3/watch", json::object(), Deadline::forever(), &cancel, [&](const json&) {
            called = true;
            return true;
        });
        CHECK(r.ok());
        CHECK_FALSE(called);
    } else {
        auto r = t->post("/v3/kv/range", json::object(), std::chrono::hours(1), &cancel);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "etcd request cancelled");
    }
    canceller.join();
}

TEST_CASE("http transport: a reply that is not HTTP is an error", "[etcd-http]") {
    HttpTestServer server([](ServerConn& c) {
        if (c.read_request()) c.send("SSH-2.0-OpenSSH_9.2\r\n");
        c.wait_stop();
    });
    auto t = transport_for(server.url());
    auto r = post(*t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("malformed HTTP reply: status line") != std::string::npos);
}

TEST_CASE("http transport: a refused port is the unreachable error", "[etcd-http]") {
    uint16_t dead;
    {
        HttpTestServer gone(HttpTestServer::always(kOk));
        dead = gone.port();
    }
    const std::string url = "etcd://127.0.0.1:" + std::to_string(dead);
    auto t = transport_for(url);
    auto r = post(*t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "lock backend " + url + " unreachable: 127.0.0.1:" + std::to_string(dead) +
                                   ": connect: Connection refused");
}

TEST_CASE("http transport: host names resolve; localhost and [::1] both work", "[etcd-http]") {
    SECTION("localhost (whichever of ::1 and 127.0.0.1 it lists first)") {
        HttpTestServer server(HttpTestServer::always(kOk));
        auto t = transport_for("etcd://localhost:" + std::to_string(server.port()));
        REQUIRE(post(*t).ok());
    }
    SECTION("[::1]") {
        // Without IPv6 on loopback (some containers) there is nothing to test.
        auto probe = sys::socket(AF_INET6, SOCK_STREAM);
        auto addr = sys::resolve_tcp("::1", 0);
        if (!probe || !addr || addr->empty() ||
            !sys::bind_listen(probe->get(), addr->front().get(), addr->front().len, 1)) {
            WARN("no IPv6 on loopback: not tested");
            return;
        }
        HttpTestServer server(HttpTestServer::always(kOk), "::1");
        auto t = transport_for(server.url());
        auto r = post(*t);
        REQUIRE(r.ok());
        CHECK(server.requests().at(0).head.find("\r\nHost: [::1]:") != std::string::npos);
    }
}

TEST_CASE("http transport: probe reads the Date header for the clock skew", "[etcd-http]") {
    HttpTestServer server([](ServerConn& c) {
        while (c.read_request()) c.reply(kOk, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    });
    auto t = transport_for(server.url());
    auto p = t->probe(0, "/v3/maintenance/status", json::object());
    REQUIRE(p.ok());
    REQUIRE(p->clock_skew);
    const auto want = TimePoint(std::chrono::seconds(784111777)) - now();
    CHECK(std::chrono::abs(*p->clock_skew - want) < std::chrono::seconds(5));
}

TEST_CASE("http transport: threads share one transport", "[etcd-http]") {
    HttpTestServer server(HttpTestServer::always(kOk));
    auto t = transport_for(server.url());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            for (int j = 0; j < 25; ++j)
                if (auto r = post(*t, json{{"i", i}, {"j", j}}); r.ok() && (*r)["ok"] == true) ++ok;
        });
    for (auto& th : threads) th.join();
    CHECK(ok == 100);
    CHECK(server.requests().size() == 100);
    CHECK(server.connections() <= 8);  // connections are pooled, not one per request
}

TEST_CASE("http transport: post_pair sends both requests before reading either reply", "[etcd-http]") {
    HttpTestServer* self = nullptr;
    HttpTestServer server([&](ServerConn& c) {
        auto req = c.read_request();
        if (!req) return;
        // No reply until both requests are in: a transport that waited for the first reply
        // before sending the second would time out here.
        if (!self->wait_requests(2)) return;
        c.reply(json{{"got", json::parse(req->body)}}.dump());
        while (c.read_request()) c.reply(kOk);
    });
    self = &server;
    auto t = transport_for(server.url(), std::chrono::seconds(5));
    auto [a, b] = t->post_pair("/v3/kv/range", json{{"n", 1}}, "/v3/lease/grant", json{{"n", 2}},
                               std::chrono::seconds(5));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK((*a)["got"]["n"] == 1);
    CHECK((*b)["got"]["n"] == 2);
    CHECK(server.connections() == 2);
    // Both connections went back to the pool.
    REQUIRE(post(*t).ok());
    REQUIRE(post(*t).ok());
    CHECK(server.connections() == 2);
}
