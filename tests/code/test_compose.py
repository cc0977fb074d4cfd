"""The compose stack cannot run here (no Docker engine): validate its files against the
compose-spec schema, check its wiring, run its preflight script, and read the images'
Dockerfiles."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
LONG_RUNNING = {"postgres", "minio", "mlflow", "api", "ui", "mailpit", "proxy"}
# only the proxy: HTTP (redirects and ACME), the console, MLflow, the API, the Mailpit inbox
PUBLISHED = {"proxy": ["80", "443", "5000", "8000", "8025"]}
# what `caddy hash-password` writes (bcrypt, cost 14)
PASSWORD_HASH = "$2a$14$gwKIohA6ez4lIF8VJ9FSVeB5O17N4tlH7UlIu2y5q31hzeZJW2ZQy"
DOCKERFILES = {
    "api": COMPOSE / "api.Dockerfile",
    "ui": COMPOSE / "ui.Dockerfile",
    "mlflow": COMPOSE / "mlflow" / "Dockerfile",
}


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())


def test_the_file_follows_the_compose_spec() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run(
        [
            str(checker),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_service_waits_for_what_it_needs_to_be_healthy(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert set(services) == LONG_RUNNING | {"preflight", "minio-init", "mlflow-reader"}
    needs = {
        "postgres": {"preflight": "service_completed_successfully"},
        "minio": {"preflight": "service_completed_successfully"},
        "minio-init": {"minio": "service_healthy"},
        "mlflow": {"postgres": "service_healthy", "minio-init": "service_completed_successfully"},
        "mlflow-reader": {"mlflow": "service_healthy"},
        "api": {
            "mlflow": "service_healthy",
            "mlflow-reader": "service_completed_successfully",
            "mailpit": "service_healthy",
        },
        "ui": {"api": "service_healthy"},
        "proxy": {"preflight": "service_completed_successfully"},
    }
    for name, expected in needs.items():
        depends = {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
        assert depends == expected, name


def test_long_running_services_are_checked_limited_rotated_and_restarted(
    stack: dict[str, Any],
) -> None:
    for name in LONG_RUNNING:
        service = stack["services"][name]
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "unless-stopped", name
        assert service["mem_limit"], name
        assert service["logging"]["options"]["max-size"], name


def test_only_the_ports_the_owner_uses_are_published(stack: dict[str, Any]) -> None:
    published = {
        name: [str(port).split(":")[0] for port in service.get("ports", [])]
        for name, service in stack["services"].items()
        if service.get("ports")
    }
    assert published == PUBLISHED


def test_the_proxy_holds_the_caddyfile_and_keeps_its_certificates(stack: dict[str, Any]) -> None:
    proxy = stack["services"]["proxy"]
    assert re.fullmatch(r"caddy:\d+\.\d+\.\d+-alpine", proxy["image"])  # pinned, official
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert "caddy-data:/data" in proxy["volumes"]  # the local CA: a new one would be untrusted
    environment = proxy["environment"]
    assert environment["BADBUZZ_PROXY_PASSWORD_HASH"] == "${BADBUZZ_PROXY_PASSWORD_HASH}"
    assert environment["BADBUZZ_PROXY_HOST"].startswith("${BADBUZZ_PROXY_HOST:?")
    # the console relies on the proxy's login, and says so (ui refuses production otherwise)
    assert stack["services"]["ui"]["environment"]["BADBUZZ_CONSOLE_LOGIN"] == "proxy"


def test_services_reach_each_other_by_name(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert services["api"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert "@postgres:5432/" in services["api"]["environment"]["BADBUZZ_DATABASE_URL"]
    assert services["api"]["environment"]["BADBUZZ_SMTP_HOST"] == "${BADBUZZ_SMTP_HOST:-mailpit}"
    assert services["ui"]["environment"]["BADBUZZ_API_URL"] == "http://api:8000"
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_mlflow_proxies_artifacts_behind_basic_auth(stack: dict[str, Any]) -> None:
    environment = stack["services"]["mlflow"]["environment"]
    assert environment["ARTIFACTS_DESTINATION"].startswith("s3://")
    assert environment["BACKEND_STORE_URI"].startswith("postgresql+psycopg://")
    command = DockerfileParser(path=str(DOCKERFILES["mlflow"])).cmd or ""
    assert "--serve-artifacts" in command and "--app-name basic-auth" in command
    api = stack["services"]["api"]["environment"]
    assert api["MLFLOW_TRACKING_PASSWORD"] == "${MLFLOW_READER_PASSWORD}"
    # a checked password is kept a while: checking it costs ~0.2 s (bench.mlflow_auth)
    auth = configparser.ConfigParser()
    auth.read(COMPOSE / "mlflow" / "basic_auth.ini")
    assert auth["mlflow"]["database_uri"] == "sqlite:////auth/basic_auth.db"
    assert 0 < auth["mlflow"].getint("auth_cache_ttl_seconds") <= 300


def test_the_api_holds_no_admin_secret(stack: dict[str, Any]) -> None:
    services = stack["services"]
    api = services["api"]["environment"]
    # MLflow: the user mlflow-reader makes, as the admin, who is not the API
    reader = services["mlflow-reader"]["environment"]
    assert reader["MLFLOW_TRACKING_USERNAME"] == "${MLFLOW_ADMIN_USER:-admin}"
    assert reader["MLFLOW_READER_USER"] == api["MLFLOW_TRACKING_USERNAME"]
    assert reader["MLFLOW_READER_PASSWORD"] == api["MLFLOW_TRACKING_PASSWORD"]
    assert services["mlflow-reader"]["command"] == ["python", "/app/create_reader.py"]
    assert not any("ADMIN" in str(value) for value in api.values())
    # PostgreSQL: the role create-app-db.sh makes, never the superuser
    postgres = services["postgres"]["environment"]
    url = api["BADBUZZ_DATABASE_URL"]
    assert url.startswith(
        f"postgresql+psycopg://{postgres['BADBUZZ_APP_DB_USER']}:"
        f"{postgres['BADBUZZ_APP_DB_PASSWORD']}@postgres:5432/"
    )
    assert "POSTGRES_USER" not in url and "POSTGRES_PASSWORD" not in url
    assert (
        "./postgres/create-app-db.sh:/docker-entrypoint-initdb.d/create-app-db.sh:ro"
        in (services["postgres"]["volumes"])
    )


def test_no_secret_is_written_in_the_file(stack: dict[str, Any]) -> None:
    secret_keys = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|API_KEY")
    for name, service in stack["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secret_keys.search(key):
                assert str(value).startswith("${"), f"{name}.{key} must come from .env"


def env_example() -> dict[str, str]:
    lines = (COMPOSE / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_env_example_documents_every_variable_the_stack_reads() -> None:
    text = (COMPOSE / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{(\w+)", text))
    assert used and used <= set(env_example())


def preflight(stack: dict[str, Any], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The preflight service's script, run by this machine's sh (compose's $$ unescaped)."""
    script = stack["services"]["preflight"]["command"][2].replace("$$", "$")
    return subprocess.run(
        ["/bin/sh", "-c", script], env=env, capture_output=True, text=True, check=False
    )


def real_secrets(stack: dict[str, Any]) -> dict[str, str]:
    names = stack["services"]["preflight"]["environment"]
    secrets = {name: f"{name.lower()}-Zq8vT2mW9xK4" for name in names}
    return {**secrets, "BADBUZZ_PROXY_PASSWORD_HASH": PASSWORD_HASH, "BADBUZZ_CONSOLE_PASSWORD": ""}


def test_preflight_refuses_the_placeholders_and_short_secrets(stack: dict[str, Any]) -> None:
    names = list(stack["services"]["preflight"]["environment"])
    assert "BADBUZZ_PROXY_PASSWORD_HASH" in names
    example = env_example()
    refused = preflight(stack, {name: example[name] for name in names})
    assert refused.returncode == 1
    assert "BADBUZZ_API_KEY is still a placeholder" in refused.stdout
    assert "BADBUZZ_PROXY_PASSWORD_HASH is not a bcrypt hash" in refused.stdout
    short = preflight(stack, {**real_secrets(stack), "BADBUZZ_API_KEY": "s3cret-short"})
    assert short.returncode == 1 and "BADBUZZ_API_KEY must be 16+ characters" in short.stdout
    accepted = preflight(stack, real_secrets(stack))
    assert accepted.returncode == 0, accepted.stdout


def test_preflight_takes_no_console_password_or_a_real_one(stack: dict[str, Any]) -> None:
    short = preflight(stack, {**real_secrets(stack), "BADBUZZ_CONSOLE_PASSWORD": "team-2026"})
    assert short.returncode == 1
    assert "BADBUZZ_CONSOLE_PASSWORD must be 12+ characters" in short.stdout
    real = {**real_secrets(stack), "BADBUZZ_CONSOLE_PASSWORD": "correct-horse-battery"}
    assert preflight(stack, real).returncode == 0


@pytest.mark.parametrize(
    "written",
    [
        "a-plain-password-typed-here",  # the password instead of its hash
        PASSWORD_HASH.replace("$2", "", 1),  # compose read "$2" as a variable (no quotes)
        PASSWORD_HASH[:-1],  # cut when pasted
    ],
)
def test_preflight_refuses_a_proxy_password_that_is_no_bcrypt_hash(
    stack: dict[str, Any], written: str
) -> None:
    refused = preflight(stack, {**real_secrets(stack), "BADBUZZ_PROXY_PASSWORD_HASH": written})
    assert refused.returncode == 1
    assert "BADBUZZ_PROXY_PASSWORD_HASH is not a bcrypt hash" in refused.stdout


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_each_image_runs_as_a_user_and_checks_its_own_health_on_port(image: str) -> None:
    parser = DockerfileParser(path=str(DOCKERFILES[image]))
    values = {i["instruction"]: i["value"] for i in parser.structure}  # the last of each kind
    assert values["USER"] not in ("root", "0")
    assert "PORT" in parser.envs and "PORT" in values["HEALTHCHECK"]
