"""``hitl_tokens``: bearer tokens for the HTTP API, each bound to one operator.

Only a SHA-256 of each secret is stored. The secret is 32 random bytes, so a hash
without a salt or a slow function is enough: nobody can guess their way back to it,
and a lookup by hash is one index probe. A leaked database names who holds tokens but
lets nobody use one.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any, cast

from engine.errors import HitlError
from engine.storage.audit import AuditNote, commit
from engine.storage.database import Database, Write
from engine.storage.lookup import Naming, find_by_prefix
from engine.views import TOKEN_SCOPES, TokenScope, TokenView

PREFIX = "hitl_"
"""Every secret starts so: a scanner for leaked credentials (or a person) can tell one."""

_SELECT = "SELECT id, operator, scopes, created_at, created_by, revoked_at FROM hitl_tokens"
_NAMING = Naming(
    HitlError,
    needed="a token id is needed; `hitl token list` lists them",
    missing="no token {ref!r}; `hitl token list` lists them",
    ambiguous="token {ref!r} is ambiguous ({ids}, ...); give more of the id",
)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def token_scopes(raw: Sequence[str]) -> tuple[TokenScope, ...]:
    """The scopes named, in their canonical order; HitlError for an unknown one."""
    named = {s.strip() for s in raw if s.strip()}
    if unknown := sorted(named - set(TOKEN_SCOPES)):
        raise HitlError(
            f"unknown token scope {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(TOKEN_SCOPES)})"
        )
    if not named:
        raise HitlError(f"a token needs at least one scope ({', '.join(TOKEN_SCOPES)})")
    return tuple(s for s in TOKEN_SCOPES if s in named)


def _token(row: Sequence[Any]) -> TokenView:
    id_, operator, scopes, created_at, created_by, revoked_at = row
    return TokenView(
        id=id_,
        operator=operator,
        scopes=cast(tuple[TokenScope, ...], tuple(json.loads(scopes))),
        created_at=created_at,
        created_by=created_by,
        revoked_at=revoked_at,
    )


class Tokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, operator: str, scopes: Sequence[TokenScope], created_by: str
    ) -> tuple[TokenView, str]:
        """(the token, its secret): the secret exists only in what this returns. The
        token's creation is audited in the same transaction."""
        secret = PREFIX + secrets.token_urlsafe(32)
        token = TokenView(
            id=secrets.token_hex(4),
            operator=operator,
            scopes=tuple(scopes),
            created_at=time.time(),
            created_by=created_by,
        )
        insert = Write(
            "INSERT INTO hitl_tokens (id, secret_hash, operator, scopes, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token.id,
                secret_hash(secret),
                token.operator,
                json.dumps(list(token.scopes)),
                token.created_at,
                created_by,
            ),
        )
        body = {"token": token.id, "for": operator, "scopes": list(token.scopes)}
        await commit(
            self.db, [insert], [(0, AuditNote("token_created", body, operator=created_by))]
        )
        return token, secret

    async def all(self) -> list[TokenView]:
        rows = await self.db.fetchall(f"{_SELECT} ORDER BY created_at")
        return [_token(r) for r in rows]

    async def find(self, ref: str) -> TokenView:
        return _token(await find_by_prefix(self.db, _SELECT, "id", ref, _NAMING))

    async def revoke(self, ref: str, revoked_by: str) -> TokenView:
        """Revokes at once: the next request with it is refused. Revoking a revoked
        token is refused, saying when it was."""
        token = await self.find(ref)
        if token.revoked_at is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(token.revoked_at))
            raise HitlError(f"token {token.id} ({token.operator}) was already revoked at {stamp}")
        now = time.time()
        update = Write(
            "UPDATE hitl_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, token.id),
            guard=True,
        )
        body = {"token": token.id, "for": token.operator}
        # A guard that finds it revoked meanwhile writes nothing; either way it is now.
        await commit(
            self.db, [update], [(0, AuditNote("token_revoked", body, operator=revoked_by))]
        )
        return await self.find(token.id)

    async def holder(self, secret: str) -> TokenView | None:
        """The active token whose secret this is; None for a wrong or revoked one."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE secret_hash = ? AND revoked_at IS NULL", (secret_hash(secret),)
        )
        return _token(rows[0]) if rows else None
