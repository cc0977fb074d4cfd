"""Property-based fuzzing of the live API from its own OpenAPI schema (schemathesis 4): every
operation, with valid and with invalid generated requests, a bounded number of each, with the
API key. Every response must pass all of schemathesis' checks: no 5xx, and the schema tells the
truth (each status code and content type documented, bodies as described, what the schema
allows accepted and what it forbids refused, the key enforced where the schema asks for it).

schemathesis' pytest loader for a fixture (`schemathesis.pytest.from_fixture`) fails under
pytest 9 (it reads `request.node._nodeid`), so each operation's hypothesis strategy is driven
here directly; the checks are schemathesis' own.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.result import Ok

from .support import KEY_HEADER, Api

OPERATIONS = [
    ("POST", "/predict"),
    ("POST", "/predict/batch"),
    ("POST", "/feedback"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/model"),
    ("GET", "/metrics"),
    ("POST", "/admin/reload"),
    ("GET", "/alerts"),
    ("GET", "/buzz"),
]
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}
load_all_checks()  # the OpenAPI checks register themselves on import
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture(scope="module")
def api_schema(api: Api) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api.url}/openapi.json")


def test_the_fuzzed_operations_are_all_the_schema_has(
    api_schema: schemathesis.BaseSchema,
) -> None:
    results = list(api_schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "the schema has operations it cannot describe"
    assert {(op.method.upper(), op.path) for op in operations} == set(OPERATIONS)


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda mode: mode.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_keeps_its_contract(
    api_schema: schemathesis.BaseSchema, api: Api, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not operation.body:
        pytest.skip("no body, nothing to make invalid")

    statuses: list[int] = []

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,  # no .hypothesis folder in the checkout
        derandomize=True,  # the same requests on every run
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=api.url, headers=KEY_HEADER, checks=ALL_CHECKS)
        statuses.append(response.status_code)

    fuzz()
    # not vacuous: requests went out (an operation without inputs has a single example)
    assert len(statuses) >= (10 if operation.body else 1), statuses
    if mode is GenerationMode.NEGATIVE:
        assert all(400 <= status < 500 for status in statuses), statuses
