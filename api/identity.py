"""Who is calling: a bearer token, looked up by its hash, bound to one operator.

No token, a wrong one or a revoked one is 401; a token without the scope a route
needs is 403. The operator a decision is recorded as comes from here and nowhere else,
so four-eyes counts tokens' people, not what a request says about itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine import Engine, TokenScope, TokenView

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `hitl token create --operator NAME`; sent as "
    "`Authorization: Bearer hitl_…`",
)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _refused(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenView:
    """The token the request carries, if it is one of the home's active tokens."""
    if credentials is None:
        raise _refused("a bearer token is needed (Authorization: Bearer …)")
    token = await engine_of(request).token_holder(credentials.credentials)
    if token is None:
        raise _refused("the bearer token is unknown or was revoked")
    return token


def allowed(scope: TokenScope) -> Callable[..., Awaitable[TokenView]]:
    """A dependency: the caller, when its token has ``scope``; else 403."""

    async def check(token: Annotated[TokenView, Depends(caller)]) -> TokenView:
        if scope not in token.scopes:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"token {token.id} ({token.operator}) lacks the {scope!r} scope "
                f"(it has: {', '.join(token.scopes)})",
            )
        return token

    return check


Reading = Annotated[TokenView, Depends(allowed("read"))]
Starting = Annotated[TokenView, Depends(allowed("start"))]
Deciding = Annotated[TokenView, Depends(allowed("decide"))]
EngineHere = Annotated[Engine, Depends(engine_of)]
