"""Property-based testing of the web API from its own OpenAPI document (Schemathesis).

Every operation the document describes is called with requests generated from its schema, valid
ones and invalid ones, as an admin and as an officer of one commune (API tokens), against the app
in process. Every response must be no server error, have a documented status code, content type
and headers, and match its documented schema; invalid input must be rejected.

``positive_data_acceptance`` (a schema-valid request must succeed) is left out on purpose: the
schema cannot say which unit codes, model ids or files exist, so a well-formed request for an
unknown unit rightly answers 4xx. The examples are seeded (derandomised): a run is reproducible.
"""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web_fixtures import WEB_USERS  # noqa: E402

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 15  # per operation, role and mode


def _failures(app: Any, token: str) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/openapi", app, headers=headers)
    found: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=checks)  # noqa: B023 (run() is called at once, below)

            try:
                run()
            except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                found.append(f"{op.label} ({mode.value}): {str(exc)[:1500]}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("role", ["admin", "officer"])
def test_every_documented_operation_holds_its_schema(app, web_store, role: str) -> None:
    token = web_store.create_token(WEB_USERS[role][0], label="schemathesis", user=None)
    found = _failures(app, token)
    assert not found, "\n\n".join(found)
