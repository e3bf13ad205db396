"""The OpenAPI document: served, describing every route and its refusals, and
fuzzed by schemathesis against the real server (no request gets a 5xx)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.api.served import Served

EMAIL = "email the Q3 report to boss@company.com"


async def test_the_openapi_document_describes_every_route(served: Served) -> None:
    async with served.client() as anyone:  # the document itself needs no token
        document = (await anyone.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths) == {
        "/threads",
        "/threads/{thread}",
        "/approvals",
        "/approvals/{approval}",
        "/approvals/{approval}/decide",
        "/policy",
        "/audit",
        "/audit.jsonl",
        "/audit/verify",
        "/events",
    }
    operations = [op for path in paths.values() for op in path.values()]
    assert all(op.get("security") == [{"HTTPBearer": []}] for op in operations)
    decide = paths["/approvals/{approval}/decide"]["post"]
    assert {"403", "404", "409", "410", "422"} <= set(decide["responses"])
    body = decide["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["discriminator"]["mapping"]) == {
        "approve",
        "edit",
        "reject",
        "respond",
        "answer",
    }
    assert "text/event-stream" in paths["/events"]["get"]["responses"]["200"]["content"]


async def test_schemathesis_finds_no_server_error(served: Served, tmp_path: Path) -> None:
    thread = await served.engine.start(EMAIL)
    await served.engine.wait(thread.id)
    [approval] = await served.engine.pending()
    # Real ids for the path parameters, so generated decisions reach the engine.
    (tmp_path / "schemathesis.toml").write_text(
        "[[operations]]\n"
        'include-path-regex = "^/approvals/\\\\{approval\\\\}"\n'
        f'parameters = {{ approval = "{approval.id}" }}\n'
        "[[operations]]\n"
        'include-path = "/threads/{thread}"\n'
        f'parameters = {{ thread = "{thread.id}" }}\n'
    )
    command = Path(sys.executable).parent / "schemathesis"
    fuzz = await asyncio.create_subprocess_exec(
        str(command),
        "run",
        f"{served.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {served.secrets['alice']}",
        "--max-examples",
        "10",
        "--exclude-path",
        "/events",  # endless by design; its parameters are tested in test_events
        "--seed",
        "1",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await fuzz.communicate()
    assert fuzz.returncode == 0, output.decode()[-4000:]
    assert (await served.engine.approval(approval.id)).status != "pending"  # it got through
