"""A JSON editor that validates as you type against a JSON schema.

Parse errors name the line and column; schema errors name the field. The schema is the
tool's own (``ApprovalView.args_schema``), checked with ``jsonschema``; the engine checks
again when the edit is submitted.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea


def check(text: str, schema: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """(the arguments, []) when ``text`` is valid, else (None, problems a person can fix)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [f"line {error.lineno}, column {error.colno}: {error.msg}"]
    if not isinstance(value, dict):
        return None, ['the arguments must be a JSON object: { "name": value, … }']
    if not schema:
        return value, []
    try:
        validator = Draft202012Validator(schema)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
    except SchemaError:  # the tool's own schema is broken: leave the judgement to the engine
        return value, []
    problems: list[str] = []
    for problem in errors:
        field = ".".join(str(part) for part in problem.absolute_path)
        if problem.validator == "required" and isinstance(problem.validator_value, list):
            missing = [name for name in problem.validator_value if name not in value]
            problems.extend(f"{name}: required field is missing" for name in missing)
            continue
        if problem.validator == "pattern":  # a regular expression tells a person little
            what = str(problem.schema.get("description") or "value").lower()
            shown = json.dumps(problem.instance, ensure_ascii=False)
            problems.append(f"{field or '(arguments)'}: {shown} is not a valid {what}")
            continue
        problems.append(f"{field or '(arguments)'}: {problem.message}")
    return (None if problems else value), problems


class JsonEditor(Vertical):
    DEFAULT_CSS = """
    JsonEditor { height: auto; }
    JsonEditor > TextArea { height: 14; }
    JsonEditor > #problems { height: auto; max-height: 6; }
    """

    class Validated(Message):
        """The text changed and was checked: ``value`` is None while it is invalid."""

        def __init__(self, editor: JsonEditor, value: dict[str, Any] | None, problems: list[str]):
            super().__init__()
            self.editor = editor
            self.value = value
            self.problems = problems

        @property
        def control(self) -> JsonEditor:
            return self.editor

    def __init__(
        self,
        value: dict[str, Any],
        schema: dict[str, Any],
        *,
        cursor_blink: bool = True,
        text: str | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.schema = schema
        self.cursor_blink = cursor_blink
        pretty = json.dumps(value, indent=2, ensure_ascii=False)
        self.initial_text = pretty if text is None else text
        """What the editor opens with: ``value`` as pretty JSON, or ``text`` as given (what
        a person wrote in their own editor, valid or not, is never rewritten)."""
        self.value: dict[str, Any] | None = value
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        editor = TextArea.code_editor(self.initial_text, language="json", id="json", soft_wrap=True)
        editor.cursor_blink = self.cursor_blink
        yield editor
        yield Static(id="problems")

    @property
    def text_area(self) -> TextArea:
        return self.query_one("#json", TextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    def on_mount(self) -> None:
        self._validate(self.initial_text)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._validate(event.text_area.text)

    def _validate(self, text: str) -> None:
        self.value, self.problems = check(text, self.schema)
        self.set_class(bool(self.problems), "-invalid")
        problems = Text()
        if self.problems:
            for problem in self.problems:
                problems.append(f"✗ {problem}\n", style="bold red")
            problems.rstrip()
        else:
            problems.append("✓ valid", style="green")
        self.query_one("#problems", Static).update(problems)
        self.post_message(self.Validated(self, self.value, self.problems))
