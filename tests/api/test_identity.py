"""Who may do what: a bearer token per operator, its scopes, and revocation."""

from __future__ import annotations

import pytest

from engine import HitlError, InvalidOperator
from tests.api.served import Served


async def test_no_token_a_wrong_one_and_a_revoked_one_are_401(served: Served) -> None:
    async with served.client() as nobody:
        answer = await nobody.get("/threads")
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        for secret in ("hitl_wrong", served.secrets["alice"] + "x", "hitl_", "hitl_" + "x" * 5000):
            headers = {"Authorization": f"Bearer {secret}"}
            assert (await nobody.get("/threads", headers=headers)).status_code == 401
        basic = {"Authorization": "Basic YWxpY2U6YWxpY2U="}
        assert (await nobody.get("/threads", headers=basic)).status_code == 401
    async with served.client("bob") as bob:
        assert (await bob.get("/threads")).status_code == 200
        [token] = [t for t in await served.engine.tokens() if t.operator == "bob"]
        await served.engine.revoke_token(token.id)
        revoked = await bob.get("/threads")
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["detail"]


async def test_a_token_without_the_scope_is_403_and_changes_nothing(served: Served) -> None:
    async with served.client("alice") as alice, served.client("watcher") as watcher:
        assert (await watcher.get("/approvals")).status_code == 200
        refused = await watcher.post("/threads", json={"task": "search the web for hitl"})
        assert refused.status_code == 403
        assert "'start' scope" in refused.json()["detail"]
        assert await served.engine.threads() == []
        started = await alice.post("/threads", json={"task": "email bob@company.com"})
        await served.engine.wait(started.json()["id"])
        [pending] = await served.engine.pending()
        decide = await watcher.post(f"/approvals/{pending.id}/decide", json={"type": "approve"})
        assert decide.status_code == 403
        assert "'decide' scope" in decide.json()["detail"]
        assert (await served.engine.approval(pending.id)).status == "pending"


async def test_tokens_are_stored_hashed_and_bound_to_normalised_names(served: Served) -> None:
    token, secret = await served.engine.create_token(" \uff21LICE ", ["read"])  # a full-width A
    assert token.operator == "ALICE"  # NFKC and trimmed; compared case-folded
    assert secret.startswith("hitl_") and len(secret) > 40
    assert secret not in repr(await served.engine.tokens())
    for bad in ("al\u200bice", "policy:auto", ""):
        with pytest.raises(InvalidOperator):
            await served.engine.create_token(bad, ["read"])
    for scopes in (["admin"], [], ["read", "sudo"]):
        with pytest.raises(HitlError, match="scope"):
            await served.engine.create_token("carol", scopes)
    kinds = [e.kind for e in await served.engine.audit()]
    assert kinds.count("token_created") == 4  # the three of the fixture and this one
