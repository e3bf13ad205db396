"""Tool specs: name, argument schema, and an implementation with a provable effect.

Email lands as an .eml file in ``<home>/outbox``, files are read, searched and deleted
only under ``<home>/sandbox``, and money and data tools write rows to the ledger, so a
test (or a doubtful person) can check exactly what ran.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.errors import InvalidArguments
from engine.tools.ledger import Ledger


class ToolRefused(Exception):
    """The tool declined to act (e.g. a path outside the sandbox); the model is told why."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may touch for one call: its own folders and the ledger, nothing of
    the engine's (a tool is code from elsewhere; the engine's tables are not its to
    write)."""

    thread_id: str
    tool_call_id: str
    sandbox: Path
    """The only folder files are read, searched and deleted in."""
    outbox: Path
    """Where sent email lands, one .eml file each."""
    ledger: Ledger


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


ADDRESS = r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"']+$"
"""One address, nothing a mail header would read as a second one (a comma, a quote)."""
Address = Annotated[str, Field(pattern=ADDRESS, description="email address")]


class SendEmailArgs(_Args):
    to: Address = Field(description="recipient address")
    subject: str = Field(min_length=1, max_length=200)
    body: str
    cc: list[Address] = Field(default_factory=list)


class PathArgs(_Args):
    path: str = Field(min_length=1, description="Path relative to the sandbox")


class SearchArgs(_Args):
    query: str = Field(min_length=1)


class CreateOrderArgs(_Args):
    item: str = Field(min_length=1)
    quantity: int = Field(gt=0, le=10_000)
    unit_price: float = Field(ge=0)


class TransferMoneyArgs(_Args):
    amount: float = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    to_account: str = Field(min_length=1)
    memo: str = ""


class DeleteDataArgs(_Args):
    dataset: str = Field(min_length=1)
    where: str = Field(min_length=1, description="Which records, e.g. customer_id = 42")


Impl = Callable[[ToolContext, Any], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    args_model: type[BaseModel]
    run: Impl

    @property
    def args_schema(self) -> dict[str, Any]:
        return self.args_model.model_json_schema()


def validate_args(spec: ToolSpec, args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as the tool will receive them, or InvalidArguments naming each field."""
    try:
        model = spec.args_model.model_validate(dict(args))
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
            for e in error.errors()
        ]
        raise InvalidArguments(
            f"arguments for {spec.name} are invalid: {'; '.join(problems)}", problems
        ) from None
    return model.model_dump(mode="json")


def _inside_sandbox(ctx: ToolContext, raw: str) -> Path:
    root = ctx.sandbox.resolve()
    target = (root / raw).resolve()
    if not target.is_relative_to(root):
        raise ToolRefused(f"{raw!r} is outside the sandbox {root}; refusing to touch it")
    return target


async def send_email(ctx: ToolContext, args: SendEmailArgs) -> str:
    message = EmailMessage()
    message["From"] = "agent@hitl.local"
    message["To"] = args.to
    if args.cc:
        message["Cc"] = ", ".join(args.cc)
    message["Subject"] = args.subject
    message["X-Hitl-Thread"] = ctx.thread_id
    message["X-Hitl-Tool-Call"] = ctx.tool_call_id
    message.set_content(args.body)
    ctx.outbox.mkdir(parents=True, exist_ok=True)
    path = ctx.outbox / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(bytes(message))
    return f"Email sent to {args.to} (saved as outbox/{path.name})"


async def delete_file(ctx: ToolContext, args: PathArgs) -> str:
    target = _inside_sandbox(ctx, args.path)
    if not target.is_file():
        raise ToolRefused(f"no file {args.path!r} in the sandbox")
    target.unlink()
    return f"Deleted {args.path}"


async def read_file(ctx: ToolContext, args: PathArgs) -> str:
    target = _inside_sandbox(ctx, args.path)
    if not target.is_file():
        raise ToolRefused(f"no file {args.path!r} in the sandbox")
    return target.read_text(errors="replace")[:4000]


def _sandbox_files(root: Path) -> list[Path]:
    """Every regular file under ``root``, never through a symlink: a link in the
    sandbox to a file or folder outside it must not let a tool read what it points at."""
    found: list[Path] = []
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return sorted(found)


async def search(ctx: ToolContext, args: SearchArgs) -> str:
    root = ctx.sandbox
    needle = args.query.lower()
    hits = []
    for path in _sandbox_files(root) if root.exists() else []:
        if needle in path.name.lower() or needle in path.read_text(errors="replace").lower():
            hits.append(str(path.relative_to(root)))
    if not hits:
        return f"No documents match {args.query!r}."
    return f"{len(hits)} document(s) match {args.query!r}: " + ", ".join(hits[:20])


async def create_order(ctx: ToolContext, args: CreateOrderArgs) -> str:
    body = args.model_dump() | {"total": round(args.quantity * args.unit_price, 2)}
    row = await ctx.ledger.add(ctx.thread_id, ctx.tool_call_id, "order", body)
    return f"Order #{row} placed: {args.quantity} x {args.item} (total {body['total']})"


async def transfer_money(ctx: ToolContext, args: TransferMoneyArgs) -> str:
    row = await ctx.ledger.add(ctx.thread_id, ctx.tool_call_id, "transfer", args.model_dump())
    return f"Transfer #{row}: {args.amount:.2f} {args.currency} to {args.to_account}"


async def delete_data(ctx: ToolContext, args: DeleteDataArgs) -> str:
    row = await ctx.ledger.add(ctx.thread_id, ctx.tool_call_id, "deletion", args.model_dump())
    return f"Deletion #{row}: records of {args.dataset} where {args.where}"


def _spec(name: str, description: str, model: type[BaseModel], run: Impl) -> ToolSpec:
    return ToolSpec(name, description, model, run)


CATALOGUE: Mapping[str, ToolSpec] = {
    s.name: s
    for s in (
        _spec("search", "Search the documents in the sandbox.", SearchArgs, search),
        _spec("read_file", "Read a file from the sandbox.", PathArgs, read_file),
        _spec("send_email", "Send an email.", SendEmailArgs, send_email),
        _spec("delete_file", "Delete a file in the sandbox.", PathArgs, delete_file),
        _spec("create_order", "Place a purchase order.", CreateOrderArgs, create_order),
        _spec("transfer_money", "Transfer money to an account.", TransferMoneyArgs, transfer_money),
        _spec("delete_data", "Delete records from a dataset.", DeleteDataArgs, delete_data),
    )
}
