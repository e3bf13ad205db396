"""Validation as you type: parse errors with line and column, schema errors by field."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message

from tui.widgets.json_editor import JsonEditor, check

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "to": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
        "amount": {"type": "number", "exclusiveMinimum": 0},
    },
    "required": ["to"],
}


def test_valid_arguments_pass() -> None:
    assert check('{"to": "a@b.co", "amount": 3}', SCHEMA) == ({"to": "a@b.co", "amount": 3}, [])


def test_a_parse_error_names_line_and_column() -> None:
    value, problems = check('{\n  "to": "a@b.co",\n}', SCHEMA)
    assert value is None
    assert problems == ["line 3, column 1: Expecting property name enclosed in double quotes"]


def test_schema_errors_name_each_field() -> None:
    value, problems = check('{"amount": -1, "extra": 1}', SCHEMA)
    assert value is None
    assert "to: required field is missing" in problems
    assert "amount: -1 is less than or equal to the minimum of 0" in problems
    assert any("'extra' was unexpected" in p for p in problems)


def test_arguments_must_be_an_object() -> None:
    assert check("[1, 2]", SCHEMA)[1][0].startswith("the arguments must be a JSON object")


async def test_the_editor_reports_each_change() -> None:
    seen: list[Message] = []

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield JsonEditor({"to": "a@b.co"}, SCHEMA)

    app = Host()
    async with app.run_test(message_hook=seen.append) as pilot:
        editor = app.query_one(JsonEditor)
        assert editor.value == {"to": "a@b.co"}
        editor.text_area.load_text('{"to": 1}')
        await pilot.pause()
        assert editor.value is None
        assert editor.has_class("-invalid")
    results = [m.value for m in seen if isinstance(m, JsonEditor.Validated)]
    assert results[0] == {"to": "a@b.co"} and results[-1] is None
