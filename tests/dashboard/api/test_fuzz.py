"""Schemathesis against /openapi.json of a live dashboard: no input makes a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from dashboard.app import create_app
from tests.dashboard.conftest import SITE
from tests.dashboard.live import serve

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
                tsdb_url: str) -> Iterator[tuple[str, str]]:
    base = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings(redis_url=redis_url, tsdb_url=tsdb_url, data_dir=base / "data",
                         tokens_file=base / "tokens.json")
    token = add_token(base / "tokens.json", "fuzz-admin", Role.ADMIN)
    app = create_app(settings_, Site.model_validate(SITE))
    with serve(app) as url:
        yield url, token


@pytest.fixture(scope="module")
def api_schema(fuzz_server: tuple[str, str]) -> schemathesis.BaseSchema:
    url, _ = fuzz_server
    # The event stream never ends by design; test_stream.py covers it.
    return schemathesis.openapi.from_url(f"{url}/openapi.json").exclude(
        path="/api/alerts/stream")


MAX_EXAMPLES = 40


def test_no_input_makes_a_server_error(api_schema: schemathesis.BaseSchema,
                                       fuzz_server: tuple[str, str]) -> None:
    _, token = fuzz_server
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1
        # Valid input and input that breaks the schema on purpose, one strategy.
        strategy = (operation.as_strategy(GenerationMode.POSITIVE)
                    | operation.as_strategy(GenerationMode.NEGATIVE))

        @given(case=strategy)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} query={case.query} "
                                f"body={case.body!r:.200} -> {response.status_code} "
                                f"{response.text[:200]}")

        check()
    assert operations >= 20
    assert not failures, "\n".join(failures[:20])
