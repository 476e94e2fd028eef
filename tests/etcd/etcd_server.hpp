#pragma once
// A private etcd for one test: `etcd` on 127.0.0.1 with free ports and a temp data dir,
// stopped (and the dir removed) by the destructor. Fails the test when etcd is missing:
// scripts/install-deps.sh installs etcd-server, so a missing binary is a broken setup.

#include "lokt/etcd/client.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace lokt::etcd::test {

class EtcdServer {
public:
    EtcdServer();
    ~EtcdServer();
    EtcdServer(const EtcdServer&) = delete;
    EtcdServer& operator=(const EtcdServer&) = delete;

    /// Starts etcd (again, on the same ports and data) and waits until it serves.
    void start();
    /// Stops etcd (SIGTERM, then SIGKILL) and reaps it; the data dir stays.
    void stop();
    uint16_t client_port() const { return client_port_; }
    /// "etcd://127.0.0.1:PORT/PREFIX".
    std::string url(const std::string& prefix = "lokt") const;
    /// "127.0.0.1:PORT" for etcdctl --endpoints.
    std::string endpoint() const;

private:
    /// Starts etcd and waits until it serves; false (nothing left running) when it exited
    /// because a port was taken and `retry_on_busy_port` is set. Fails the test otherwise.
    bool launch(bool retry_on_busy_port);

    std::string dir_;
    uint16_t client_port_ = 0;
    uint16_t peer_port_ = 0;
    pid_t pid_ = -1;
};

/// A client over the socket transport (etcd:// URLs), as the default module makes them.
Client plain_client(ClientOptions options);

/// A loopback port nobody listens on at the time of the call.
uint16_t free_port();

} // namespace lokt::etcd::test
