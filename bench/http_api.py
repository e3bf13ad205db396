"""HTTP API benchmark: ``hitl serve`` in its own process, clients in this one.

    .venv/bin/python bench/http_api.py          # full sizes (a few minutes on 2 cores)
    .venv/bin/python bench/http_api.py --quick  # tiny: a smoke run (CI), not numbers

(Not ``http.py``: run as a script, it would shadow the standard library's ``http``.)

The server is the real command (``hitl --home TMP serve --port P --think T``) on a
fresh SQLite home; every request carries a bearer token made by ``hitl token create``.
Three measurements, each in a fresh home and server:

1. ``POST /approvals/{id}/decide`` -> the tool executed, with ``busy`` threads running.
   The server's demo model thinks ``--think`` seconds per turn, so threads keep the
   engine busy. ``busy`` threads are started ("search the web for … then email the
   report to boss@company.com": two model turns, a low-tier search, then a pause for
   the email) and each one that pauses is approved at once and replaced by a new
   thread, so ``busy`` threads run throughout. The time is from sending the decision
   to the ``ToolExecuted`` of that thread's ``send_email`` arriving on ``/events``
   (one SSE connection): what a web app that approves and watches sees.
2. ``GET /approvals`` with ``pending`` approvals waiting (threads paused at the email),
   repeated ``repeats`` times: the full listing, decoded as JSON.
3. ``subscribers`` SSE connections to ``/events`` while threads are started at a pace
   that makes ``rate`` events a second, for ``seconds``: every subscriber must get every
   journaled event of the window (by id), and delivery latency is the arrival time
   minus the event's ``at`` (one machine, one clock).

Each table row gives p50/p90/p99 (ms) and whether the target holds. The client shares
the machine's cores with the server, so the numbers include its cost too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine_info, percentile, print_table, verdict

HITL = Path(sys.executable).with_name("hitl")
BUSY_TASK = "search the web for topic {n} then email the report to boss@company.com"
PAUSING_TASK = "email the report number {n} to boss@company.com"
EVENTFUL_TASK = "search the web for subject {n}"
LOW_TASK = "search the web for subject {n} and read notes.txt"
"""A busy thread: low-tier tools only, so it runs to its end without a decision."""


class Server:
    """``hitl serve`` on a fresh home, and a token for it."""

    def __init__(self, home: Path, think: float, run_slots: int | None = None) -> None:
        self.home = home
        env = {**os.environ, "HITL_OPERATOR": "bench"}
        env.pop("HITL_DATABASE_URL", None)
        subprocess.run(
            [str(HITL), "--home", str(home), "run", "search the web for warm-up"],
            check=True,
            capture_output=True,
            env=env,
        )
        made = subprocess.run(
            [
                str(HITL),
                "--home",
                str(home),
                "token",
                "create",
                "--operator",
                "bench",
                "--scope",
                "read,start,decide",
            ],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        self.secret = made.stdout.splitlines()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen(
            [
                str(HITL),
                "--home",
                str(home),
                "serve",
                "--port",
                str(self.port),
                "--think",
                str(think),
                *(["--run-slots", str(run_slots)] if run_slots else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        if "serving" not in self.proc.stdout.readline():
            raise SystemExit(f"hitl serve did not start: {self.proc.stderr.read()}")  # type: ignore[union-attr]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=120,
            limits=httpx.Limits(max_connections=500, max_keepalive_connections=500),
        )

    def cpu_seconds(self) -> float:
        """The server process's CPU time so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say so, but keep the row just measured
            self.proc.kill()
            self.proc.wait()
            print("bench: hitl serve did not stop within 60 s of SIGTERM; killed", file=sys.stderr)


async def sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The events of a text/event-stream, each as its decoded ``data``, stamped on arrival."""
    data = ""
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data:
            event = json.loads(data)
            event["arrived"] = time.time()
            yield event
            data = ""


async def bench_decide(server: Server, busy: int, samples: int) -> list[float]:
    """Decision -> ToolExecuted, ms, of ``samples`` decisions sent one at a time while
    ``busy`` threads run (closed loops of low-tier threads, each started again when it
    ends), as ``bench/engine.py``'s latency measures the engine: a person deciding while
    the fleet works."""
    latencies: list[float] = []
    counter = iter(range(10**9))
    busy_ids: set[str] = set()
    asked: dict[str, asyncio.Future[dict[str, Any]]] = {}
    seen: dict[str, dict[str, Any]] = {}
    executed: dict[str, asyncio.Future[float]] = {}
    async with server.client() as client, client.stream("GET", "/events") as stream:

        async def start(task: str) -> str:
            answer = await client.post("/threads", json={"task": task.format(n=next(counter))})
            answer.raise_for_status()
            thread_id: str = answer.json()["id"]
            return thread_id

        async def start_busy() -> None:
            busy_ids.add(await start(LOW_TASK))

        async def follow() -> None:
            async for event in sse(stream):
                kind, body = event["kind"], event["body"]
                thread_id = event.get("thread_id") or body.get("thread", {}).get("id")
                if kind in ("ThreadFinished", "ThreadFailed") and thread_id in busy_ids:
                    busy_ids.discard(thread_id)
                    tasks.add(task := asyncio.create_task(start_busy()))
                    task.add_done_callback(tasks.discard)
                elif kind == "ApprovalRequested":
                    approval = body["approval"]
                    seen[approval["thread_id"]] = approval  # may come before its POST returns
                    if (ask := asked.get(approval["thread_id"])) and not ask.done():
                        ask.set_result(approval)
                elif kind == "ToolExecuted" and body["tool"] == "send_email":
                    if (ran := executed.get(event["thread_id"])) and not ran.done():
                        ran.set_result(time.perf_counter())

        tasks: set[asyncio.Task[None]] = set()
        follower = asyncio.create_task(follow())
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(start_busy() for _ in range(busy)))
        await asyncio.sleep(2.0)  # the fleet at full load before the first decision
        while len(latencies) < samples:  # ten calls paused at a time, decided one by one
            batch = await asyncio.gather(*(start(PAUSING_TASK) for _ in range(10)))
            for gated in batch:
                asked[gated], executed[gated] = loop.create_future(), loop.create_future()
                if gated in seen:
                    asked[gated].set_result(seen[gated])
            for gated in batch[: samples - len(latencies)]:
                approval = await asyncio.wait_for(asked[gated], 120)
                sent = time.perf_counter()
                decide = f"/approvals/{approval['id']}/decide"
                (await client.post(decide, json={"type": "approve"})).raise_for_status()
                latencies.append((await asyncio.wait_for(executed[gated], 120) - sent) * 1000)
        follower.cancel()
        for task in list(tasks):
            task.cancel()
    return latencies


async def bench_decide_fleet(server: Server, busy: int, samples: int) -> list[float]:
    """Decision -> ToolExecuted, ms, for ``samples`` decisions with ``busy`` threads that
    each pause for one and are approved at once: every busy thread is itself decided, so
    decisions queue behind one another (``--every-busy-decided``; the default before)."""
    latencies: list[float] = []
    sent: dict[str, float] = {}  # thread id -> when its decision was sent
    counter = iter(range(10**9))
    async with server.client() as client, client.stream("GET", "/events") as stream:

        async def start_one() -> None:
            answer = await client.post("/threads", json={"task": BUSY_TASK.format(n=next(counter))})
            answer.raise_for_status()

        async def decide(approval: dict[str, Any]) -> None:
            sent[approval["thread_id"]] = time.perf_counter()
            answer = await client.post(
                f"/approvals/{approval['id']}/decide", json={"type": "approve"}
            )
            answer.raise_for_status()

        await asyncio.gather(*(start_one() for _ in range(busy)))
        tasks: set[asyncio.Task[None]] = set()
        async for event in sse(stream):
            if event["kind"] == "ApprovalRequested":
                task = asyncio.create_task(decide(event["body"]["approval"]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif event["kind"] == "ToolExecuted" and event["body"]["tool"] == "send_email":
                began = sent.pop(event["thread_id"], None)
                if began is not None:
                    latencies.append((time.perf_counter() - began) * 1000)
                    if len(latencies) >= samples:
                        break
                    task = asyncio.create_task(start_one())  # keep `busy` threads running
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        for task in list(tasks):
            task.cancel()
    return latencies


async def bench_listing(server: Server, pending: int, repeats: int) -> list[float]:
    """``GET /approvals`` with ``pending`` waiting, ms each."""
    async with server.client() as client, client.stream("GET", "/events") as stream:
        for first in range(0, pending, 50):
            await asyncio.gather(
                *(
                    client.post("/threads", json={"task": PAUSING_TASK.format(n=n)})
                    for n in range(first, min(pending, first + 50))
                )
            )
        asked = 0
        async for event in sse(stream):  # until every thread has paused
            asked += event["kind"] == "ApprovalRequested"
            if asked >= pending:
                break
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            listed = (await client.get("/approvals")).json()
            times.append((time.perf_counter() - began) * 1000)
            assert len(listed) >= pending
    return times


_STAMP = re.compile(rb'data: \{"seq": (\d+), "at": ([0-9.e+-]+)')
"""An event's seq and time, read off the raw stream without decoding it."""


async def raw_events(port: int, secret: str) -> AsyncIterator[tuple[int, float, float]]:
    """(seq, at, arrived) of each event of /events, read from a bare socket: a client
    that costs next to nothing, to tell the server's cost from httpx's and json's."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {secret}\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    rest = b""
    try:
        while chunk := await reader.read(1 << 16):
            arrived = time.time()
            *events, rest = (rest + chunk).split(b"\n\n")  # the last may be cut short
            for event in events:
                if found := _STAMP.search(event):
                    yield int(found[1]), float(found[2]), arrived
    finally:
        writer.close()


async def bench_subscribers(
    server: Server, subscribers: int, rate: int, seconds: float, raw: bool = False
) -> tuple[list[float], int, int]:
    """(delivery latencies ms, events journaled in the window, subscribers missing any).
    ``raw``: the subscribers read bare sockets instead of httpx streams."""
    received: list[set[int]] = [set() for _ in range(subscribers)]
    latencies: list[float] = []
    connected = 0
    all_connected = asyncio.Event()

    async def subscribe(index: int, client: httpx.AsyncClient) -> None:
        nonlocal connected
        if raw:
            connected += 1
            if connected == subscribers:
                all_connected.set()
            async for seq, at, arrived in raw_events(server.port, server.secret):
                received[index].add(seq)
                latencies.append((arrived - at) * 1000)
            return
        async with client.stream("GET", "/events") as stream:
            connected += 1
            if connected == subscribers:
                all_connected.set()
            async for event in sse(stream):
                received[index].add(event["seq"])
                latencies.append((event["arrived"] - event["at"]) * 1000)

    async with server.client() as client:
        readers = [asyncio.create_task(subscribe(i, client)) for i in range(subscribers)]
        await all_connected.wait()
        [warm_up] = (await client.get("/threads")).json()  # the events one such thread makes
        per_thread = len((await client.get(f"/threads/{warm_up['id']}")).json()["history"])
        interval = per_thread / rate
        deadline = time.perf_counter() + seconds
        starts = []
        n = 0
        while time.perf_counter() < deadline:
            task = {"task": EVENTFUL_TASK.format(n=n)}
            starts.append(asyncio.create_task(client.post("/threads", json=task)))
            n += 1
            await asyncio.sleep(interval)  # the pace of the load, not a wait for a result
        await asyncio.gather(*starts)
        await asyncio.sleep(2.0)  # the last threads run to their end, their events arrive
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    async with server.client() as client:
        seen = set().union(*received)
        journaled = await _journaled(client, min(seen) - 1, max(seen)) if seen else set()
        missing = sum(1 for got in received if got != journaled)
    return latencies, len(journaled), missing


async def _journaled(client: httpx.AsyncClient, after: int, last: int) -> set[int]:
    """The journal's ids from ``after`` (exclusive) to ``last``, read back by a replay."""
    seqs: set[int] = set()
    async with client.stream("GET", "/events", params={"after": after}) as stream:
        async for event in sse(stream):
            if event["seq"] > last:
                break
            seqs.add(event["seq"])
            if event["seq"] == last:
                break
    return seqs


def row(label: str, values: list[float], target: float, extra: str = "") -> list[str]:
    p99 = percentile(values, 0.99)
    return [
        label,
        str(len(values)),
        f"{percentile(values, 0.5):.1f}",
        f"{percentile(values, 0.9):.1f}",
        f"{p99:.1f}",
        f"< {target:g} ms: {verdict(p99 < target)}{extra}",
    ]


async def report(args: argparse.Namespace) -> None:
    print("# hitl serve: the HTTP API\n")
    print(machine_info())
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        if "decide" in args.only:
            measure = bench_decide_fleet if args.every_busy_decided else bench_decide
            load = "each decided" if args.every_busy_decided else "low tier, closed loops"
            with Server(Path(scratch) / "decide", args.think, args.run_slots) as server:
                took = await measure(server, args.busy, args.samples)
            name = f"POST decide -> tool executed, {args.busy} busy threads ({load}), "
            rows.append(row(name + f"run slots {args.run_slots or 'default'}", took, 100))
        if "listing" in args.only:
            with Server(Path(scratch) / "listing", 0.0) as server:
                took = await bench_listing(server, args.pending, args.repeats)
            rows.append(row(f"GET /approvals, {args.pending} pending", took, 150))
        if "events" in args.only:
            await _bench_events(args, Path(scratch), rows)
    print()
    print_table(["measurement", "n", "p50 ms", "p90 ms", "p99 ms", "target"], rows, 1)


async def _bench_events(args: argparse.Namespace, scratch: Path, rows: list[list[str]]) -> None:
    server = Server(scratch / "events", 0.0)
    try:
        server_cpu, client_cpu, began = server.cpu_seconds(), time.process_time(), time.time()
        latencies, events, missing = await bench_subscribers(
            server, args.subscribers, args.rate, args.seconds, args.raw_clients
        )
        wall = time.time() - began
        server_cpu, client_cpu = (
            server.cpu_seconds() - server_cpu,
            time.process_time() - client_cpu,
        )
        rows.append(
            row(
                f"SSE delivery, {args.subscribers} {'bare-socket ' if args.raw_clients else ''}"
                f"subscribers, {args.rate} events/s target",
                latencies,
                100,
                f"; {events} events ({events / args.seconds:.0f}/s), subscribers missing "
                f"any: {missing}; CPU over {wall:.0f} s: server {server_cpu:.1f} s, "
                f"clients {client_cpu:.1f} s",
            )
        )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--busy", type=int, default=200)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--think", type=float, default=0.2)
    parser.add_argument("--run-slots", type=int, default=None, help="hitl serve --run-slots")
    parser.add_argument("--pending", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--every-busy-decided",
        action="store_true",
        help="the decide row's busy threads each pause and are approved at once (decisions "
        "queue behind one another), instead of low-tier closed loops",
    )
    parser.add_argument(
        "--raw-clients",
        action="store_true",
        help="SSE subscribers on bare sockets (no httpx, no JSON): the server's cost alone",
    )
    parser.add_argument(
        "--only",
        type=lambda given: set(given.split(",")),
        default={"decide", "listing", "events"},
        help="comma-separated: decide, listing, events (default: all three)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.busy, args.samples, args.pending, args.repeats = 10, 20, 30, 5
        args.subscribers, args.rate, args.seconds = 5, 50, 1.0
    asyncio.run(report(args))


if __name__ == "__main__":
    main()
