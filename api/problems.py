"""The engine's refusals as HTTP statuses, each with the engine's own one-line message.

Most specific first: ``Expired`` is an ``AlreadyDecided``, ``InvalidArguments`` and
``FourEyes`` are ``InvalidDecision``s.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from engine import (
    AlreadyDecided,
    DatabaseUnavailable,
    EditDenied,
    Expired,
    FourEyes,
    HitlError,
    InvalidArguments,
    InvalidDecision,
    InvalidOperator,
    UnknownApproval,
    UnknownThread,
)

STATUSES: tuple[tuple[type[HitlError], int], ...] = (
    (Expired, status.HTTP_410_GONE),
    (AlreadyDecided, status.HTTP_409_CONFLICT),
    (UnknownApproval, status.HTTP_404_NOT_FOUND),
    (UnknownThread, status.HTTP_404_NOT_FOUND),
    (FourEyes, status.HTTP_403_FORBIDDEN),
    (EditDenied, status.HTTP_403_FORBIDDEN),
    (InvalidArguments, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (InvalidDecision, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (InvalidOperator, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (DatabaseUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
)
"""Every other HitlError is a 400: the request was understood and refused."""


def status_of(error: HitlError) -> int:
    return next((code for kind, code in STATUSES if isinstance(error, kind)), 400)


async def _hitl_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HitlError)
    body: dict[str, object] = {"detail": str(error)}
    if isinstance(error, InvalidArguments) and error.problems:
        body["errors"] = error.problems
    return JSONResponse(body, status_code=status_of(error))


def install(app: FastAPI) -> None:
    app.add_exception_handler(HitlError, _hitl_error)
