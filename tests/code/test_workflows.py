"""The GitHub workflows and the Cloud Run service file cannot run here: validate them
against their schemas and check the gates (a deploy only after a release, a release only
after the tests passed). actionlint is not installable here (its PyPI package downloads the
binary from GitHub at build time), so the vendored GitHub-workflow schema checks syntax."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def triggers(loaded: dict[str, Any]) -> dict[str, Any]:
    on: dict[str, Any] = loaded[True]  # YAML 1.1 reads the key `on` as True
    return on


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_each_workflow_follows_the_schema(name: str) -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOWS / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_image_compose_builds_is_released() -> None:
    compose = yaml.safe_load((REPO / "compose" / "docker-compose.yml").read_text())
    built = set()
    for service in compose["services"].values():
        build = service.get("build")
        if isinstance(build, str):
            build = {"context": build}
        if build:
            context = (REPO / "compose" / build["context"]).resolve()
            built.add((context, (context / build.get("dockerfile", "Dockerfile")).resolve()))
    matrix = workflow("release.yml")["jobs"]["images"]["strategy"]["matrix"]["include"]
    released = {
        ((REPO / m["context"]).resolve(), (REPO / m["dockerfile"]).resolve()) for m in matrix
    }
    assert built and released == built


def test_ci_runs_what_a_new_user_runs_with_pip_caching() -> None:
    ci = workflow("ci.yml")
    assert set(triggers(ci)) == {"push", "pull_request"}
    steps = ci["jobs"]["test"]["steps"]
    assert [s["run"] for s in steps if s.get("run", "").startswith("make")] == [
        "make lint",
        "make test",
    ]
    [python] = [s for s in steps if s.get("uses", "").startswith("actions/setup-python")]
    assert python["with"]["cache"] == "pip"


def test_a_release_follows_only_a_passing_ci_and_a_deploy_only_a_release() -> None:
    release, deploy = workflow("release.yml"), workflow("deploy-cloudrun.yml")
    assert triggers(release) == {"workflow_run": {"workflows": ["ci"], "types": ["completed"]}}
    assert "conclusion == 'success'" in release["jobs"]["images"]["if"]
    assert triggers(deploy) == {"workflow_run": {"workflows": ["release"], "types": ["completed"]}}
    assert "conclusion == 'success'" in deploy["jobs"]["mirror"]["if"]


def test_the_deploy_uses_workload_identity_and_the_service_file() -> None:
    deploy = workflow("deploy-cloudrun.yml")
    assert deploy["permissions"]["id-token"] == "write"
    steps = deploy["jobs"]["mirror"]["steps"]
    [auth] = [s for s in steps if s.get("uses", "").startswith("google-github-actions/auth")]
    assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
    text = (WORKFLOWS / "deploy-cloudrun.yml").read_text()
    assert "credentials_json" not in text
    assert "badbuzz export" in text and "compose/cloudrun/service.yaml" in text


def test_the_cloud_run_service_serves_the_baked_bundle_with_secrets_by_reference() -> None:
    service = yaml.safe_load((REPO / "compose" / "cloudrun" / "service.yaml").read_text())
    assert service["apiVersion"] == "serving.knative.dev/v1" and service["kind"] == "Service"
    template = service["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert {"autoscaling.knative.dev/minScale", "autoscaling.knative.dev/maxScale"} <= set(
        annotations
    )
    assert template["spec"]["containerConcurrency"] > 0
    [container] = template["spec"]["containers"]
    assert container["image"] == "IMAGE"  # filled in by the deploy workflow
    assert container["resources"]["limits"]["memory"]
    env = {e["name"]: e for e in container["env"]}
    for secret in ("BADBUZZ_API_KEY", "BADBUZZ_DATABASE_URL"):
        assert "value" not in env[secret] and env[secret]["valueFrom"]["secretKeyRef"]
    assert container["startupProbe"]["httpGet"]["path"] == "/health/ready"
