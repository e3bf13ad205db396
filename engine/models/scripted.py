"""An offline, deterministic chat model that plans realistic calls of the demo tools.

It reads the task ("email the Q3 report to boss@company.com") and asks for the tool
calls a capable assistant would, reacts to results and rejections, and can pause to
"think" so a demo looks alive. It is a demo model and says so.

How it reads a task, so that a person can predict it:

* Steps and clauses. "then" ("search for X and then email Y") starts a new step; ";",
  or "and" or "," before a verb, starts a new clause of the same step. A step asks for
  its look-ups first, then for all its actions in one parallel turn. Quoted text ('Note
  1', "Q3 and Q4") is taken as written: never split, never read for verbs or addresses
  (a quoted address on its own is still an address).
* A clause does what its first verb says (``_VERBS``); when that reading finds nothing,
  the next verb is tried.
* Money needs a money cue: a currency sign, code or word next to the amount ($5, €200,
  1,500 EUR, 300 dollars), or an amount right after transfer/pay/wire ("wire 2k to
  acct-7"). A bare number is never money: "send" is an email when it names one ("send
  an email", "a message", "a note"), or has no money cue and an address.
* An email's subject, first found: quoted text after "subject"/"titled"; "subject: X";
  any other quoted text not marked as the body ("saying '…'"); "about/regarding X";
  "email X to <address>"; "email <address> the X"; else what an earlier step looked up.
  Addresses after "cc" or "copy" (also in a clause of their own) are copied.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from engine.slots import waiting

Call = tuple[str, dict[str, Any]]

_VERBS = {
    "email": r"e-?mail|mail|message|write|forward|reply|notify|tell",
    "send": r"send",
    "money": r"transfer|pay|wire",
    "order": r"order|buy|purchase",
    "delete": r"delete|remove|purge|erase|wipe",
    "read": r"read|open|show|view",
    "search": r"search|find|look\s+(?:up|for)|lookup|research|check",
}
"""Verbs by what they ask for; the first verb of a clause decides what it does."""
_VERB = re.compile("|".join(rf"\b(?P<{k}>{v})\b" for k, v in _VERBS.items()), re.I)
_AHEAD = rf"(?=(?:(?:please|also)\s+)*(?:(?:{'|'.join(_VERBS.values())})\b|b?cc\b))"
_THEN = re.compile(rf"[,;]?\s+(?:and\s+)?(?:then|after\s+that|afterwards),?\s+{_AHEAD}", re.I)
_AND = re.compile(rf"\s*;\s*|\s*,\s*(?:and\s+)?{_AHEAD}|\s+and\s+{_AHEAD}", re.I)
_CC = re.compile(r"\b(?:b?cc|copy(?:ing)?(?:\s+in|\s+to)?)\b:?\s*(?=[\w.+-]+@)", re.I)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_QUOTED = re.compile(
    "(?<!\\w)(?:'([^']+)'|\"([^\"]+)\"|\u2018([^\u2019]+)\u2019|\u201c([^\u201d]+)\u201d)(?!\\w)"
)
_HOLE = re.compile("\x00(\\d+)\x00")

_CODES = ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD")
_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "yen": "JPY", "bucks": "USD"}
_CURRENCIES |= {"dollars": "USD", "dollar": "USD", "euros": "EUR", "euro": "EUR"}
_CURRENCIES |= {"pounds": "GBP", "pound": "GBP"} | {code.lower(): code for code in _CODES}
_AMOUNT = r"(?<![\w.,#/-])(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?:\s?(?P<k>k)\b)?"
_WORDS = "|".join(word for word in _CURRENCIES if word.isalpha())
_MONEY = (
    re.compile(rf"(?P<cur>[$€£¥]|\b(?:{'|'.join(_CODES)})\b)\s?{_AMOUNT}", re.I),
    re.compile(rf"{_AMOUNT}\s?(?P<cur>[$€£¥]|\b(?:{_WORDS})\b)", re.I),
)
"""An amount with a currency before it ($5, EUR 20) or after it (5 EUR, 300 dollars)."""

_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_COUNTS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "a dozen": 12, "dozen": 12}
_PRONOUNS = {"it", "them", "this", "that", "those", "these", "the results", "the result"}
_PAYEE = (
    r"\b(?:to|into)\s+(?:the\s+)?(?:(?:account|acct\.?)\s+)?(?:(?:no\.?|number)\s+)?#?([\w.@+-]*\w)"
)
_UNTIL = r"(?=\s+(?:to|cc|bcc)\s+[\w.+-]+@|\s+(?:saying|with\s+the\s+body)\b|\s*[,;]|$)"
"""Where a subject written out in words ends."""


def _clip(text: str, limit: int = 60) -> str:
    text = text.strip(" .")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _upper_first(text: str) -> str:
    """As str.capitalize, but "meeting with ACME" keeps its capitals."""
    return text[:1].upper() + text[1:]


def _number(match: re.Match[str]) -> float:
    value = float(match["num"].replace(",", "") + (match["frac"] or ""))
    return value * 1000 if match["k"] else value


def _path(raw: str) -> str:
    """A path as written, less the sentence's closing punctuation ("../x" keeps its dots)."""
    return re.sub(r"(?<=\w)\.$", "", raw.rstrip(",;:!?")) or raw


class _Clause:
    """One clause of a task; its quoted passages are numbered holes until restored."""

    def __init__(self, text: str, quotes: Sequence[tuple[str, str]]) -> None:
        self.text = text.strip()
        self.quotes = quotes
        # Addresses blanked, so that "order@company.com" names no verb and no "mail".
        self.plain = _EMAIL.sub(lambda m: "\x01" * len(m.group(0)), self.text)

    def at(self, start: int) -> _Clause:
        return _Clause(self.text[start:], self.quotes)

    def find(self, pattern: str) -> re.Match[str] | None:
        return re.search(pattern, self.text, re.I)

    def restore(self, text: str) -> str:
        """The text as the person wrote it; a quoted passage on its own loses its quotes."""
        text = text.strip()
        if whole := _HOLE.fullmatch(text):
            return self.quotes[int(whole.group(1))][1]
        return _HOLE.sub(lambda m: self.quotes[int(m.group(1))][0], text)


def _mask(task: str) -> tuple[str, list[tuple[str, str]]]:
    """The task with each quoted passage (a quoted address aside) replaced by a hole."""
    quotes: list[tuple[str, str]] = []
    task = task.replace("\x00", " ")  # holes are written with it

    def hole(match: re.Match[str]) -> str:
        inner = next(g for g in match.groups() if g)
        if not inner.strip() or _EMAIL.fullmatch(inner.strip()):
            return inner
        quotes.append((match.group(0), inner))
        return f"\x00{len(quotes) - 1}\x00"

    return _QUOTED.sub(hole, task), quotes


def _money(text: str) -> tuple[float, str] | None:
    """The first amount with a currency beside it, and that currency's code."""
    found = [m for pattern in _MONEY if (m := pattern.search(text))]
    if not found:
        return None
    first = min(found, key=lambda m: m.start())
    return _number(first), _CURRENCIES[first["cur"].lower()]


def _subject(raw: str | None, topic: str | None) -> str:
    """An email subject from "email <raw> to …"; a pronoun refers to the task's topic."""
    text = re.sub(r"^(?:the|a|an)\s+", "", (raw or "").strip(" ."), flags=re.I)
    if topic and (not text or text.lower() in _PRONOUNS):
        return _upper_first(_clip(re.sub(r"^(?:the|a|an)\s+", "", topic, flags=re.I)))
    if topic and text.lower() in ("summary", "a summary", "report", "update"):
        return f"{text.capitalize()} of {topic}"
    return _upper_first(_clip(text)) if text else "Update"


def _email_subject(c: _Clause, to: str, body: re.Match[str] | None, topic: str | None) -> str:
    titled = c.find(
        r"\b(?:subject(?:\s+line)?|titled|entitled|headed)\s*(?:is\s+|:\s*)?(\x00\d+\x00)"
    )
    holes = [h.group(0) for h in _HOLE.finditer(c.text) if not body or h.start() != body.start(1)]
    if quoted := (titled.group(1) if titled else None) or next(iter(holes), None):
        if subject := c.restore(quoted).strip():
            return _clip(subject, 200)
    titling = (
        r"\bwith\s+(?:the\s+|a\s+)?subject(?:\s+line)?\s*:?|\bsubject(?:\s+line)?\s*(?::|is\b)"
    )
    if m := c.find(rf"(?:{titling})\s*(.+?){_UNTIL}"):
        return _subject(c.restore(m.group(1)).strip("'\""), None)
    if m := c.find(rf"\b(?:about|regarding|concerning|re:)\s+(.+?){_UNTIL}"):
        return _subject(c.restore(m.group(1)), topic)
    raw = None
    if m := c.find(r"\b(?:e-?mail|send|forward|mail|write)\s+(.+?)\s+to\s+[\w.+-]+@"):
        sending = r"(?:(?:an?|the)\s+)?(?:(?:quick|short|brief)\s+)?(?:e-?mail|mail|message|note)"
        raw = None if re.fullmatch(sending, m.group(1), re.I) else m.group(1)
    elif m := c.find(
        rf"{re.escape(to)}\s+(?:that\s+)?((?:the|a|an|our|my|this|these|those)\s.+?){_UNTIL}"
    ):
        raw = m.group(1)
    return _subject(c.restore(raw) if raw else None, topic)


def _read_email(c: _Clause, topic: str | None) -> list[Call]:
    addresses = list(_EMAIL.finditer(c.text))
    if not addresses:
        return []
    copied = _CC.search(c.text)
    named = [a.group(0) for a in addresses if not copied or a.start() < copied.start()]
    to, *cc = dict.fromkeys([*named, *(a.group(0) for a in addresses)])
    body = c.find(r"\b(?:saying|says|reading|body|text)\b\s*(?:is\s+|:\s*)?(\x00\d+\x00)")
    subject = _email_subject(c, to, body, topic)
    text = c.restore(body.group(1)) if body else ""
    text = text or f"Hello,\n\nAs requested: {subject}.\n\nBest regards,\nYour agent"
    return [("send_email", {"to": to, "subject": subject, "body": text, "cc": cc})]


def _read_send(c: _Clause, topic: str | None) -> list[Call]:
    """ "Send" moves money only with a money cue, and never when it names an email."""
    if re.search(r"\b(?:e-?mail|mail|message|note)\b", c.plain, re.I) or not _money(c.text):
        return _read_email(c, topic)
    return _read_money(c, topic)


def _read_money(c: _Clause, topic: str | None) -> list[Call]:
    if cued := _money(c.text):
        amount, currency = cued
    elif m := c.find(rf"^(?:transfer|pay|wire)\s+{_AMOUNT}(?=\s+(?:to|into|for|from)\b|\s*$)"):
        amount, currency = _number(m), "USD"
    else:
        return []
    rest = c.text
    payees = list(re.finditer(_PAYEE, rest, re.I))
    # "for the trip to Paris to acct-7": an account has a digit or an @ in it.
    to = next((p for p in payees if re.search(r"[\d@]", p.group(1))), next(iter(payees), None))
    if to:
        rest = rest[: to.start()] + rest[to.end() :]
    else:
        to = c.find(r"^\w+\s+([\w.+-]+@[\w.-]*\w|[a-z][\w-]*\d[\w-]*)\b")
    quoted = _HOLE.search(rest)
    memo = c.restore(quoted.group(0)) if quoted else ""
    if not quoted and (m := re.search(r"\bfor\s+(.+)$", rest, re.I)):
        memo = _clip(c.restore(m.group(1)))
    account = to.group(1) if to else "unknown"
    args = {"amount": amount, "currency": currency, "to_account": account, "memo": memo}
    return [("transfer_money", args)]


def _read_order(c: _Clause, topic: str | None) -> list[Call]:
    counts = "|".join(_COUNTS)
    m = c.find(rf"^\w+\s+(?P<qty>\d{{1,3}}(?:,\d{{3}})+|\d+|{counts})\s+(?P<rest>.+)$")
    if not m:
        return []
    quantity = _COUNTS.get(m["qty"].lower()) or int(m["qty"].replace(",", ""))
    rest, unit_price = m["rest"], 10.0
    if price := re.search(rf"\s+(?P<at>at|for|@)\s+(?:[$€£¥]\s?)?{_AMOUNT}", rest, re.I):
        unit_price = _number(price)
        apiece = re.search(r"\b(?:each|apiece|a\s+piece|per)\b", rest[price.end() :], re.I)
        if price["at"].lower() == "for" and not apiece:
            unit_price = round(unit_price / quantity, 2)  # "2 desks for $600": the total
        rest = rest[: price.start()]
    item = _clip(c.restore(re.sub(r"\s+(?:each|apiece)$", "", rest, flags=re.I)))
    return [("create_order", {"item": item, "quantity": quantity, "unit_price": unit_price})]


def _read_delete(c: _Clause, topic: str | None) -> list[Call]:
    if m := c.find(r"^\w+\s+(?:the\s+)?file\s+(\S+)"):
        return [("delete_file", {"path": _path(c.restore(m.group(1)))})]
    if (m := c.find(r"^\w+\s+(?:the\s+)?(\S+)")) and "@" not in m.group(1):
        path = _path(c.restore(m.group(1)))
        if "/" in path or re.search(r"\w\.[a-z]\w{0,4}$", path, re.I):
            return [("delete_file", {"path": path})]
    records = r"(?:data|records|rows|entries)"
    if m := c.find(
        rf"^\w+\s+(?:all\s+)?(?:(?:the|of|their)\s+)*{records}\s+(?:of|for|from|about|on)\s+"
        r"(?:the\s+)?(.+?)(?:\s+(?:where|with|whose)\s+(.+))?$"
    ):
        target, where = m.group(1), m.group(2) or "all"
    elif m := c.find(rf"^\w+\s+(?:all\s+)?(?:the\s+)?(.+?)(?:'s)?\s+{records}\b(.*)"):
        target = m.group(1)
        where = re.sub(r"^(?:of|for|where)\s+", "", m.group(2).strip(), flags=re.I) or "all"
    elif m := c.find(r"^\w+\s+(?:the\s+)?([a-z]\w*\s+#?\d+)\s*$"):
        target, where = m.group(1), "all"
    else:
        return []
    if numbered := re.fullmatch(r"(\w+?)s?\s+#?(\d+)", target.strip()):
        noun, number = numbered.groups()
        return [("delete_data", {"dataset": f"{noun}s", "where": f"{noun}_id = {number}"})]
    return [
        ("delete_data", {"dataset": _clip(c.restore(target)), "where": _clip(c.restore(where))})
    ]


def _read_file(c: _Clause, topic: str | None) -> list[Call]:
    m = c.find(r"^\w+(?:\s+me)?\s+(?:the\s+)?(?:file\s+(\S+)|(\x00\d+\x00|[^\s@]+\.\w+))")
    return [("read_file", {"path": _path(c.restore(m.group(1) or m.group(2)))})] if m else []


def _read_search(c: _Clause, topic: str | None) -> list[Call]:
    if not (m := c.find(r"^(?:look\s+(?:up|for)|\w+)\s+(?:for\s+|up\s+|on\s+)?(.+)$")):
        return []
    query = m.group(1)
    if where := re.match(r"(?:the\s+)?(?:sandbox|docs|documents|files)\s+for\s+(.+)$", query):
        query = where.group(1)
    return [("search", {"query": _clip(c.restore(query), 40)})]


_READERS: dict[str, Callable[[_Clause, str | None], list[Call]]] = {
    "email": _read_email,
    "send": _read_send,
    "money": _read_money,
    "order": _read_order,
    "delete": _read_delete,
    "read": _read_file,
    "search": _read_search,
}


def _plan_clause(clause: _Clause, topic: str | None = None) -> list[Call]:
    """The calls one clause of a task asks for (empty when it names no action)."""
    for verb in _VERB.finditer(clause.plain):
        if calls := _READERS[str(verb.lastgroup)](clause.at(verb.start()), topic):
            return calls
    return []


def plan(task: str, tools: Sequence[str]) -> list[list[Call]]:
    """Steps of calls: in each step ("… then …"), look-ups first, then every action in
    one parallel turn."""
    masked, quotes = _mask(task)
    steps: list[list[Call]] = []
    topic: str | None = None
    for segment in _THEN.split(masked):
        calls: list[Call] = []
        for clause in (_Clause(text, quotes) for text in _AND.split(segment) if text.strip()):
            emails = [args for name, args in calls if name == "send_email"]
            if re.match(r"(?:(?:please|also)\s+)*(?:b?cc|copy)\b", clause.text, re.I) and emails:
                known = [emails[-1]["to"], *emails[-1]["cc"]]
                emails[-1]["cc"] += [a for a in _EMAIL.findall(clause.text) if a not in known]
                continue
            for name, args in _plan_clause(clause, topic):
                calls.append((name, args))
                topic = args.get("query") or args.get("path") or topic
        calls = [c for c in calls if c[0] in tools]
        lookups = [c for c in calls if c[0] in ("search", "read_file")]
        actions = [c for c in calls if c not in lookups]
        steps += [step for step in (lookups, actions) if step]
    if not steps and "search" in tools:
        steps = [[("search", {"query": _clip(task, 40)})]]
    return steps


class ScriptedChatModel(BaseChatModel):
    """Deterministic demo model (no network): same task, same calls, every time."""

    think_seconds: float = 0.0
    tool_names: tuple[str, ...] = ()
    lends_run_slot: ClassVar[bool] = True
    """It gives its run slot back while it thinks, and only then (``engine.slots``)."""

    @property
    def _llm_type(self) -> str:
        return "scripted-demo"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        names = tuple(convert_to_openai_tool(t)["function"]["name"] for t in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.think_seconds:
            async with waiting():  # thinking is waiting: other threads may step meanwhile
                await asyncio.sleep(self.think_seconds)
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages: Sequence[BaseMessage]) -> AIMessage:
        task = next((str(m.content) for m in messages if isinstance(m, HumanMessage)), "")
        turn = sum(isinstance(m, AIMessage) for m in messages)
        results = [m for m in messages if isinstance(m, ToolMessage)]
        refused = [m for m in results if m.status == "error"]
        steps = plan(task, self.tool_names)
        if refused or turn >= len(steps):
            return AIMessage(content=_final_answer(results, refused))
        seed = hashlib.sha1(task.encode()).hexdigest()[:6]
        calls = [
            ToolCall(name=name, args=args, id=f"call_{seed}_{turn}{i}", type="tool_call")
            for i, (name, args) in enumerate(steps[turn])
        ]
        names = ", ".join(name for name, _ in steps[turn])
        return AIMessage(content=f"[demo model] Next I will call: {names}.", tool_calls=calls)


def _final_answer(results: Sequence[ToolMessage], refused: Sequence[ToolMessage]) -> str:
    if not results:
        return "[demo model] I have no tool for that task, so I did nothing."
    lines = [f"- {m.name}: {' '.join(str(m.content).split())[:200]}" for m in results]
    head = (
        "[demo model] I stopped: some actions were not carried out."
        if refused
        else "[demo model] Done."
    )
    return "\n".join([head, *lines])


ModelFactory = Callable[[], BaseChatModel]
