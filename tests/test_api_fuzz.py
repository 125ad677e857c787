"""Schema fuzzing: every operation in the server's own OpenAPI document, called with inputs
schemathesis generates from it, valid ones and invalid ones, must never answer 5xx, must
answer only documented status codes, content types and bodies, and must explain every 4xx
in a `detail` sentence.

Short and reproducible: 20 examples per operation and mode, derandomized. (Schemathesis'
pytest plugin does not run under this pytest, so each operation's strategy is driven with
Hypothesis directly, which is what the plugin does.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reelrank.home import DataHome
from tests.test_api_support import Server, copy_home, token


@pytest.fixture(scope="module")
def server(scored_home: DataHome, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("api-fuzz")
    home = copy_home(scored_home, root / "home")
    with Server(home, root / "server.log") as running:
        yield running


@schemathesis.check
def explained(ctx, response, case) -> None:
    """A 4xx says what was wrong, in words."""
    if 400 <= response.status_code < 500:
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), response.text


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, explained]
FAST = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("scope", ["service", "user"])
def test_no_generated_request_gets_a_server_error_or_an_unexplained_refusal(
        server: Server, scope: str, mode: GenerationMode) -> None:
    bearer = token(server.home, scope, "fuzz" if scope == "service" else "u0000010")
    headers = {"Authorization": f"Bearer {bearer}"}
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    schema.config.generation.update(deterministic=True)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    fuzzed = 0
    for operation in operations:
        @FAST
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case) -> None:
            case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS)

        try:
            call()
        except Unsatisfiable:
            # Nothing to make invalid: no parameters and no body (/healthz, /metrics).
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue
        fuzzed += 1
    assert fuzzed >= len(operations) - 4
