"""The etcd backend over TLS (LOKT_ETCD_CACERT, LOKT_ETCD_CERT, LOKT_ETCD_KEY) and with etcd
auth (LOKT_ETCD_USER, LOKT_ETCD_PASSWORD), each against an etcd of the test's own on
127.0.0.1 with random ports. Certificates are made with openssl(1) (scripts/install-deps.sh)."""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "etcd"))
from etcd_harness import etcd, free_port, healthy, terminate  # noqa: E402,F401 (etcd is a fixture)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    assert shutil.which("openssl"), "openssl missing: run scripts/install-deps.sh"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lokt-test-ca",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    # etcd 3.4's HTTP gateway dials its own gRPC port with the server certificate as a client
    # certificate, so with --client-cert-auth that one needs clientAuth too.
    for who, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                     ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, who + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN=lokt-test-{who}",
                "-keyout", who + ".key", "-out", who + ".csr", cwd=d)
        openssl("x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", who + ".ext", "-out", who + ".crt", cwd=d)
    return {k: os.path.join(d, k) for k in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


class TlsEtcd:
    """One etcd member whose client port speaks TLS and wants a client certificate."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lokt-etcd-tls-")
        self.pki = make_pki(self.dir)
        self.proc = None
        for _ in range(5):  # a port found free may be taken by a test beside us: new ports
            self.port, peer = free_port(), free_port()
            c, p = f"https://127.0.0.1:{self.port}", f"http://127.0.0.1:{peer}"
            shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)
            self.log = open(os.path.join(self.dir, "log"), "wb")
            self.proc = subprocess.Popen(
                ["etcd", "--name", "t", "--data-dir", os.path.join(self.dir, "data"),
                 "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
                 "--initial-advertise-peer-urls", p, "--initial-cluster", f"t={p}",
                 "--initial-cluster-state", "new", "--cert-file", self.pki["server.crt"],
                 "--key-file", self.pki["server.key"], "--trusted-ca-file", self.pki["ca.crt"],
                 "--client-cert-auth"], stdout=self.log, stderr=self.log)
            if self.wait_healthy():
                return
        raise AssertionError("etcd with TLS did not start")

    def wait_healthy(self):
        ctx = ssl.create_default_context(cafile=self.pki["ca.crt"])
        ctx.load_cert_chain(self.pki["client.crt"], self.pki["client.key"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if healthy(f"https://127.0.0.1:{self.port}", ctx):
                return True
            if self.proc.poll() is not None:
                self.log.close()
                return False
            time.sleep(0.02)
        return False

    def stop(self):
        terminate(self.proc)
        if not self.log.closed:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def tls_etcd():
    e = TlsEtcd()
    yield e
    e.stop()


def test_every_command_reaches_a_tls_cluster_with_a_client_certificate(lokt, tls_etcd):
    env = lokt.env(owner="a", LOKT_BACKEND=f"https://127.0.0.1:{tls_etcd.port}/tls",
                   LOKT_ETCD_CACERT=tls_etcd.pki["ca.crt"], LOKT_ETCD_CERT=tls_etcd.pki["client.crt"],
                   LOKT_ETCD_KEY=tls_etcd.pki["client.key"])
    r = lokt.run("lock", "deploy", "--ttl", "5m", env=env)
    assert r.returncode == 0, r.stderr
    st = json.loads(lokt.run("status", "deploy", "--json", env=env).stdout)
    assert st["owner"] == "a" and st["fence"] > 0
    r = lokt.run("guard", "deploy", "--", "true", env=dict(env, LOKT_OWNER="b"))
    assert r.returncode == 2 and 'held by a@' in r.stderr, r.stderr
    assert lokt.run("unlock", "deploy", env=env).returncode == 0
    r = lokt.run("guard", "build", "--", "sh", "-c", 'echo "fence=$LOKT_FENCE"', env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("fence=") and int(r.stdout.strip().split("=")[1]) > st["fence"]


@pytest.mark.parametrize("drop", ["LOKT_ETCD_CACERT", "LOKT_ETCD_CERT"])
def test_a_missing_ca_or_client_certificate_is_a_clear_error(lokt, tls_etcd, drop):
    env = lokt.env(owner="a", LOKT_BACKEND=f"https://127.0.0.1:{tls_etcd.port}/tls",
                   LOKT_ETCD_CACERT=tls_etcd.pki["ca.crt"], LOKT_ETCD_CERT=tls_etcd.pki["client.crt"],
                   LOKT_ETCD_KEY=tls_etcd.pki["client.key"])
    del env[drop]
    if drop == "LOKT_ETCD_CERT":
        del env["LOKT_ETCD_KEY"]
    r = lokt.run("lock", "deploy", env=env)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"error: lock backend https://127.0.0.1:{tls_etcd.port}"), r.stderr
    assert r.stderr.count("\n") == 1, r.stderr  # one line


def test_etcd_auth_with_user_and_password(lokt, etcd):
    def ctl(*args, user=None):
        extra = ["--user", user] if user else []
        p = etcd.etcdctl(*extra, *args)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        return out

    ctl("user", "add", "root:rootpw")
    ctl("user", "add", "agent:agentpw")
    ctl("role", "add", "locks")
    ctl("role", "grant-permission", "locks", "--prefix=true", "readwrite", "auth/")
    ctl("user", "grant-role", "agent", "locks")
    ctl("auth", "enable")
    try:
        base = lokt.env(owner="a", LOKT_BACKEND=etcd.url("auth"))
        r = lokt.run("lock", "deploy", env=base)
        assert r.returncode == 1 and r.stderr.startswith("error: "), (r.stdout, r.stderr)
        env = dict(base, LOKT_ETCD_USER="agent", LOKT_ETCD_PASSWORD="agentpw")
        r = lokt.run("lock", "deploy", "--ttl", "5m", env=env)
        assert r.returncode == 0, r.stderr
        assert lokt.run("exists", "deploy", env=env).returncode == 0
        r = lokt.run("guard", "deploy", "--", "true", env=dict(env, LOKT_OWNER="b"))
        assert r.returncode == 2, r.stderr
        assert lokt.run("unlock", "deploy", env=env).returncode == 0
        bad = dict(base, LOKT_ETCD_USER="agent", LOKT_ETCD_PASSWORD="wrong")
        r = lokt.run("lock", "deploy", env=bad)
        assert r.returncode == 1 and r.stderr.startswith("error: "), (r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr
    finally:
        ctl("auth", "disable", user="root:rootpw")


def supervisor_maps(lokt, env):
    """The memory map of a guard's supervisor on `env`'s backend (the command's parent)."""
    r = lokt.run("guard", "maps", "--", "sh", "-c", 'cat "/proc/$PPID/maps"', env=env)
    assert r.returncode == 0, r.stderr
    return {line.split()[-1] for line in r.stdout.splitlines() if "/" in line}


def test_the_scheme_picks_the_module_and_only_https_loads_libcurl(lokt, tls_etcd, etcd):
    tls = lokt.env(owner="a", LOKT_BACKEND=f"https://127.0.0.1:{tls_etcd.port}/tls",
                   LOKT_ETCD_CACERT=tls_etcd.pki["ca.crt"], LOKT_ETCD_CERT=tls_etcd.pki["client.crt"],
                   LOKT_ETCD_KEY=tls_etcd.pki["client.key"])
    loaded = {os.path.basename(p) for p in supervisor_maps(lokt, tls)}
    assert "liblokt_backend_etcd_tls.so" in loaded and "liblokt_backend_etcd.so" not in loaded, loaded
    assert any(p.startswith("libcurl") for p in loaded), loaded

    loaded = {os.path.basename(p) for p in supervisor_maps(lokt, lokt.env(owner="a", LOKT_BACKEND=etcd.url("m")))}
    assert "liblokt_backend_etcd.so" in loaded and "liblokt_backend_etcd_tls.so" not in loaded, loaded
    assert not any(p.startswith(("libcurl", "libssl", "libcrypto")) for p in loaded), loaded

    # The plain module, made to serve https://, says so in one line.
    plain = os.path.join(os.path.dirname(os.path.dirname(lokt.bin)), "lib", "lokt", "liblokt_backend_etcd.so")
    r = lokt.run("lock", "x", env=dict(tls, LOKT_ETCD_MODULE=plain))
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "unavailable: this module has no TLS" in r.stderr, r.stderr
