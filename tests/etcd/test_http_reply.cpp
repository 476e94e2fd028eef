// The HTTP/1.1 reply parser, fed every way a reply can be split across reads.
#include "lokt/etcd/http_reply.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace lokt;
using namespace lokt::etcd;

namespace {

struct Parsed {
    bool ok = true;
    std::string error;
    std::string body;
    ReplyParser parser;
};

/// Feeds `reply` in pieces of `step` bytes (then finish() if `at_eof`).
Parsed parse_in_steps(const std::string& reply, size_t step, bool at_eof = false) {
    Parsed p;
    for (size_t i = 0; i < reply.size() && p.ok; i += step) {
        auto r = p.parser.feed(std::string_view(reply).substr(i, step), [&](std::string_view piece) {
            p.body.append(piece);
            return true;
        });
        if (!r) {
            p.ok = false;
            p.error = r.error().message;
        }
    }
    if (p.ok && at_eof) {
        auto f = p.parser.finish();
        if (!f) {
            p.ok = false;
            p.error = f.error().message;
        }
    }
    return p;
}

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
    "5\r\n{\"a\":\r\n"
    "1c;ext=1\r\n1}\n{\"b\":2}\n{\"c\":\"0123456789\"\r\n"
    "2\r\n}\n\r\n"
    "0\r\nX-Trailer: t\r\n\r\n";

} // namespace

TEST_CASE("http reply: a chunked body split at every byte boundary decodes the same", "[etcd-unit]") {
    const size_t step = GENERATE(1, 2, 3, 5, 7, 13, 64, 4096);
    auto p = parse_in_steps(kChunked, step);
    INFO("step " << step << ": " << p.error);
    REQUIRE(p.ok);
    CHECK(p.parser.done());
    CHECK(p.parser.reusable());
    CHECK(p.parser.status() == 200);
    CHECK(p.body == "{\"a\":1}\n{\"b\":2}\n{\"c\":\"0123456789\"}\n");
    REQUIRE(p.parser.date());
    CHECK(p.parser.date()->time_since_epoch() == std::chrono::seconds(784111777));
}

TEST_CASE("http reply: Content-Length, Connection: close and a body up to the end", "[etcd-unit]") {
    SECTION("Content-Length") {
        auto p = parse_in_steps("HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"x\":1}", 3);
        REQUIRE(p.ok);
        CHECK(p.parser.done());
        CHECK(p.parser.reusable());
        CHECK(p.body == "{\"x\":1}");
        CHECK_FALSE(p.parser.date());
    }
    SECTION("Connection: close keeps the connection from being reused") {
        auto p = parse_in_steps("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", 100);
        REQUIRE(p.ok);
        CHECK(p.parser.status() == 404);
        CHECK(p.parser.done());
        CHECK_FALSE(p.parser.reusable());
    }
    SECTION("no length: the body runs to the end of the connection") {
        auto p = parse_in_steps("HTTP/1.0 200 OK\r\n\r\n{\"y\":2}", 4, true);
        REQUIRE(p.ok);
        CHECK(p.parser.done());
        CHECK_FALSE(p.parser.reusable());
        CHECK(p.body == "{\"y\":2}");
    }
    SECTION("an interim 100 Continue is skipped") {
        auto p = parse_in_steps("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1);
        REQUIRE(p.ok);
        CHECK(p.parser.status() == 200);
        CHECK(p.body == "ok");
    }
}

TEST_CASE("http reply: malformed or cut replies are errors", "[etcd-unit]") {
    auto [reply, at_eof, want] = GENERATE(table<std::string, bool, std::string>({
        {"SSH-2.0-OpenSSH_9.2\r\n", false, "malformed HTTP reply: status line"},
        {"HTTP/1.1 2x0 OK\r\n", false, "malformed HTTP reply: status line"},
        {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false, "malformed HTTP reply: header line"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, "malformed HTTP reply: Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", false, "malformed HTTP reply: Content-Length"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, "malformed HTTP reply: transfer coding"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, "malformed HTTP reply: chunk size"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", false, "malformed HTTP reply: chunk not"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", false, "malformed HTTP reply: bytes after"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true, "connection closed in the middle of the reply"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", true, "connection closed in the middle"},
        {"", true, "connection closed before a reply"},
        {"HTTP/1.1 200 OK\r\nX: " + std::string(9000, 'a'), false, "malformed HTTP reply: a line longer than 8 KiB"},
    }));
    auto p = parse_in_steps(reply, 5, at_eof);
    INFO(reply.substr(0, 60));
    CHECK_FALSE(p.ok);
    CHECK(p.error.starts_with(want));
}

TEST_CASE("http reply: a consumer that stops ends the parse", "[etcd-unit]") {
    ReplyParser parser;
    int calls = 0;
    auto r = parser.feed(kChunked, [&](std::string_view) { return ++calls < 2; });
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
    CHECK(calls == 2);
    CHECK_FALSE(parser.reusable());
}
