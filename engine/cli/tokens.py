"""``hitl token create|list|revoke``: the HTTP API's bearer tokens, each bound to an
operator. A secret is printed once, when it is made; only its hash is kept."""

from __future__ import annotations

import argparse
import json
import time

from engine.cli.output import jsonable
from engine.errors import HitlError
from engine.home import Home
from engine.views import TokenView


def _line(token: TokenView) -> str:
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime(token.created_at))
    state = "active"
    if token.revoked_at is not None:
        state = "revoked " + time.strftime("%Y-%m-%d %H:%M", time.localtime(token.revoked_at))
    return f"{token.id}  {token.operator:16} {','.join(token.scopes):18} made {made}  {state}"


async def tokens(home: Home, args: argparse.Namespace) -> int:
    if args.token_command == "list":
        from engine.reader import Reader

        async with Reader.open(home) as reader:
            listed = await reader.tokens()
        if args.json:
            print(json.dumps(jsonable(listed), indent=2))
        for token in listed if not args.json else ():
            print(_line(token))
        if not listed and not args.json:
            print("no tokens")
        return 0
    if args.token_command == "create" and not args.operator:
        raise HitlError("`hitl token create` needs --operator NAME: whom the token decides as")
    from engine.engine import Engine
    from engine.options import one_job

    async with Engine.open(
        home,
        policy=args.policy,
        create=False,
        **one_job(operator=args.operator),
    ) as engine:
        if args.token_command == "revoke":
            print(f"revoked {_line(await engine.revoke_token(args.token))}")
            return 0
        token, secret = await engine.create_token(args.operator, args.scope.split(","))
    if args.json:
        print(json.dumps({"token": jsonable(token), "secret": secret}, indent=2))
        return 0
    print(_line(token))
    print(secret)
    print("shown once: keep it now (only its hash is stored)")
    return 0
