"""Run the OGC API - Features Part 1 conformance suite (``ogctests``) against a live server.

Runs inside the suite's own venv (scripts/ogctests-venv.sh):
``.venv-ogctests/bin/python scripts/ogctests_run.py URL TOKEN [pytest flags...]``; exits with
pytest's code. Every request carries ``Authorization: Bearer TOKEN``: the suite's own client is
replaced by one with the header (its ``test_client`` hook), and so are the bare ``httpx.get``
calls it makes besides (its ``api_model`` fixture fetches the OpenAPI document with
``httpx.get``, which would be an anonymous request, 401 on this service).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from ogctests.main import run_ogctests


def main(argv: list[str]) -> int:
    url, token, *flags = argv
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=url, headers=headers, timeout=120)
    plain_get = httpx.get

    def get(u, *args, **kwargs):
        kwargs["headers"] = {**headers, **(kwargs.get("headers") or {})}
        return plain_get(u, *args, timeout=120, **kwargs)

    httpx.get = get  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        # its own empty configuration: the suite's files lie under this checkout when the venv
        # does, and pytest would otherwise take pyproject.toml's (warnings as errors, -ra)
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")
        args = ["-c", str(ini), "--rootdir", tmp, "-p", "no:cacheprovider", *flags]
        return int(run_ogctests("features/core", flags=args, test_client=client))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
