"""The lines the ``hitl`` listings print: threads, pending approvals, a thread's story.

A person tells calls apart by what the lines show, so what they show must be the truth
(every hidden character made visible, as ``⟨U+202E⟩``) and must differ where the calls
do: a value too long for its share keeps its start, its end and where it first differs
from its most similar neighbour.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import time
from collections.abc import Sequence
from typing import Any

from engine.durations import age
from engine.events import ApprovalDecided, MessageAdded, ThreadFailed
from engine.hidden import has_hidden, is_hidden, marker
from engine.views import FORMAT_LABELS, ApprovalView, ThreadView

# --- listing lines -----------------------------------------------------------------
#
# A person tells calls apart by what the lines show, so what the lines show must be
# the truth (every hidden character made visible) and must differ where the calls do.


def _marked(text: str, keep: str = "") -> list[str]:
    """``text`` as what a listing shows of each character: itself, or ``⟨U+202E⟩`` for
    one that could hide or reorder text (as the console's Call panel shows them)."""
    if not has_hidden(text):
        return list(text)
    return [marker(char) if char not in keep and is_hidden(char) else char for char in text]


def visible(text: str, keep: str = "") -> str:
    return "".join(_marked(text, keep))


def _spaced(text: str) -> str:
    return re.sub(r"[ \t\n]+", " ", text).strip()


def one_line(text: str, limit: int | None = None) -> str:
    """Free text (a task, an error, a reason) on one listing line: runs of spaces, tabs
    and newlines become one space; every other hidden character is shown. ``limit``:
    at most that many characters of it, then "…"."""
    marked = _marked(_spaced(text))
    if limit is not None and len(marked) > limit:
        return "".join(marked[:limit]) + "…"
    return "".join(marked)


def _width() -> int:
    """The terminal's width ($COLUMNS wins); 100 columns when there is no terminal."""
    return max(40, shutil.get_terminal_size((100, 24)).columns)


Field = tuple[str, str]
"""One part of a summary: its label ("" for none) and its text, before marking."""

MIN_FIELD = 16
"""Columns a value keeps however many share the line."""


def _summaries(rows: Sequence[tuple[str, Sequence[Field]]], width: int) -> list[str]:
    """One line of at most ``width`` columns per row (``(group, fields)``) that shows
    what sets it apart from the rows of its group.

    A value too long for its share is cut in the middle, keeping its start and end, and
    also the stretch where it first differs from the most similar value the same field
    has in another row of the group: two emails whose bodies differ only after 300
    characters show that place, not 80 identical characters."""
    focus: dict[tuple[str, str, str], int] = {}
    columns: dict[tuple[str, str], set[str]] = {}
    for group, fields in rows:
        for label, text in fields:
            columns.setdefault((group, label), set()).add(text)
    for (group, label), values in columns.items():
        ordered = sorted(values)
        for i, text in enumerate(ordered):
            near = [ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered)]
            if near:
                focus[group, label, text] = max(_common_prefix(text, n) for n in near)
    out = []
    for group, fields in rows:
        marked = [(visible(label), _marked(text)) for label, text in fields]
        costs = [len(label) + bool(label) + sum(map(len, tokens)) for label, tokens in marked]
        budgets = _shares(costs, width - max(0, len(fields) - 1))
        parts = []
        for (label, tokens), (_, text), budget in zip(marked, fields, budgets, strict=True):
            prefix = f"{label}=" if label else ""
            room = max(budget - len(prefix), MIN_FIELD)
            parts.append(prefix + _elide(tokens, room, focus.get((group, label, text))))
        out.append(" ".join(parts))
    return out


def _common_prefix(a: str, b: str) -> int:
    low, high = 0, min(len(a), len(b))
    while low < high:  # by halves: slices compare in C, long values stay cheap
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _shares(costs: Sequence[int], width: int) -> list[int]:
    """Columns for each field: all it needs when everything fits; else short fields
    whole and the long ones an equal share of what is left."""
    shares = list(costs)
    if sum(costs) <= width:
        return shares
    left = width
    order = sorted(range(len(costs)), key=costs.__getitem__)
    for position, index in enumerate(order):
        fair = left // (len(order) - position)
        if costs[index] > fair:
            for rest in order[position:]:
                shares[rest] = fair
            break
        left -= costs[index]
    return shares


def _elide(tokens: Sequence[str], room: int, focus: int | None) -> str:
    """``tokens`` in about ``room`` columns: whole, or the start, "…", the end. Two
    places are never cut out: ``focus`` (where the value first differs from its most
    similar neighbour) and the first hidden character (a ``⟨U+…⟩`` marker): each gets
    a stretch of its own between them."""
    widths = [len(token) for token in tokens]
    if sum(widths) <= room:
        return "".join(tokens)
    n = len(tokens)

    def right(start: int, columns: int) -> int:
        end = start
        while end < n and widths[end] <= columns:
            columns -= widths[end]
            end += 1
        return end

    def left(end: int, columns: int) -> int:
        start = end
        while start > 0 and widths[start - 1] <= columns:
            start -= 1
            columns -= widths[start]
        return start

    head, tail = right(0, room // 2), left(n, (room - 1) // 2)
    hidden = next((i for i, width in enumerate(widths) if width > 1), None)
    marks = sorted({f for f in (focus, hidden) if f is not None and head <= f < tail})
    if marks:  # the ends get a quarter each, the marks share the half between
        ends = (room - 1 - len(marks)) // 4
        head, tail = right(0, ends), left(n, ends)
        each = (room - 1 - len(marks) - 2 * ends) // len(marks)
    spans = [(0, head)]
    for mark in marks:  # a little before the mark, the mark itself whatever its width
        start = max(spans[-1][1], left(mark, min(each // 4, each - widths[mark])))
        spans.append((start, max(mark + 1, right(start, each))))
    spans.append((max(spans[-1][1], tail), n))
    shown = "".join(tokens[spans[0][0] : spans[0][1]])
    for (_, before), (start, end) in itertools.pairwise(spans):
        shown += ("…" if start > before else "") + "".join(tokens[start:end])
    return shown


def _call_fields(approval: ApprovalView) -> list[Field]:
    """The arguments in a stable order: the tool's schema's, then the rest by name."""
    properties = approval.args_schema.get("properties", {})
    known = [k for k in properties if k in approval.args] if isinstance(properties, dict) else []
    order = known + sorted(k for k in approval.args if k not in known)
    return [(k, json.dumps(approval.args[k], ensure_ascii=False)) for k in order]


def call_summaries(approvals: Sequence[ApprovalView], width: int) -> list[str]:
    """Each call's arguments on one line of about ``width`` columns, told apart from
    those of the other calls of the same tool in ``approvals`` (the listing's and the
    console's cards' rule: never cut what tells two calls apart)."""
    return _summaries([(a.tool, _call_fields(a)) for a in approvals], width)


def text_summaries(texts: Sequence[str], width: int) -> list[str]:
    """Each free text (a task) on one line of about ``width`` columns, shortened so
    that it still differs from the others."""
    return _summaries([("", [("", _spaced(text))]) for text in texts], width)


def approval_lines(approvals: Sequence[ApprovalView]) -> list[str]:
    """Two lines per approval: what it is, then its arguments, told apart from those
    of the other calls of the same tool listed with it."""
    summaries = call_summaries(approvals, _width() - 10)
    return [
        _approval_head(a) + "\n          " + _approval_body(a, summary)
        for a, summary in zip(approvals, summaries, strict=True)
    ]


def _approval_body(approval: ApprovalView, summary: str) -> str:
    if approval.kind == "interrupt":  # answer with `hitl answer ID JSON`
        value = json.dumps(approval.value, ensure_ascii=False)
        return "asks: " + one_line(value, _width() - 20) + "  (answer: hitl answer ID JSON)"
    return summary if approval.args else "(no arguments)"


def _approval_head(approval: ApprovalView) -> str:
    kind = " OUTCOME UNKNOWN" if approval.kind == "outcome_unknown" else ""
    if approval.format != "engine" and approval.kind != "interrupt":
        # On one listing line: "(LangChain HITL, per call)", no brackets in brackets.
        label = FORMAT_LABELS[approval.format].replace(" (", ", ").removesuffix(")")
        kind += f" ({label})"
        if approval.status == "pending":
            kind += f" allows {'/'.join(approval.choices)}"
    if not approval.protected:
        kind += " ⚠ not protected against re-running after a crash"
    state = "" if approval.status == "pending" else f" [{one_line(approval.outcome)}]"
    if approval.status == "pending" and approval.expires_at and approval.expires_at <= time.time():
        state = " [expired: refused if decided; rejected when an engine next opens the home]"
    arguments = json.dumps(approval.args, ensure_ascii=False)
    flag = "  ⚠ hidden characters" if has_hidden(arguments) else ""
    tool = approval.tool or "unrecognised interrupt"
    return (
        f"{approval.id}  {tool:14} {approval.tier:6} "
        f"{approval.received}/{approval.required}  {visible(approval.thread_id)}{kind}{state}{flag}"
    )


def thread_lines(threads: Sequence[ThreadView]) -> list[str]:
    """One line per thread, its task shortened so that it still differs from theirs."""
    ids = max((len(t.id) for t in threads), default=0)
    heads = [_thread_head(t, ids) for t in threads]
    room = max(MIN_FIELD, _width() - max((len(h) for h in heads), default=0) - 2)
    tasks = text_summaries([t.task for t in threads], room)
    return [
        f"{head}  {task}{_thread_error(t)}"
        for head, task, t in zip(heads, tasks, threads, strict=True)
    ]


def thread_line(thread: ThreadView) -> str:
    [line] = thread_lines([thread])
    return line


def _thread_head(thread: ThreadView, id_width: int) -> str:
    extra = f"  {thread.pending} pending" if thread.pending else ""
    since = age(time.time() - thread.created_at)
    return f"{thread.status:8} {visible(thread.id):{id_width}}  {since:>4}{extra}"


def _thread_error(thread: ThreadView) -> str:
    return f"  error: {one_line(thread.error)}" if thread.error else ""


def story_line(kind: str, body: dict[str, Any], at: float) -> str | None:
    stamp = time.strftime("%H:%M:%S", time.localtime(at))
    if kind == MessageAdded.KIND:
        text = one_line(str(body.get("content", "")), limit=200)
        calls = "".join(
            f"\n           -> {c['name']}({visible(json.dumps(c['args'], ensure_ascii=False))})"
            for c in body.get("tool_calls", [])
        )
        return f"{stamp} {body['role']:9} {text}{calls}"
    if kind == ApprovalDecided.KIND:
        a = body["approval"]
        who = one_line(str(body["operator"]))
        return f"{stamp} decision  {body['decision']} {a['id']} {a['tool']} by {who}"
    if kind == ThreadFailed.KIND:
        return f"{stamp} failed    {one_line(str(body['thread'].get('error')))}"
    return None
