"""The README says what is true: its Python example runs, and the paths it names exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"### {title}\n")
    end = README.find("\n#", start + 1)
    return README[start:end]


def test_the_python_example_runs_against_a_new_home(tmp_path: Path) -> None:
    [example] = re.findall(r"```python\n(.*?)```", _section("Use the engine from Python"), re.S)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HITL_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "send_email boss@company.com medium"
    assert lines[1].startswith("done [demo model] Done.")
    assert any(line.endswith("decision send_email alice") for line in lines)
    assert any(line.endswith("tool_executed send_email None") for line in lines)
    assert lines[-1] == "audit chain intact: True"
    assert (tmp_path / "example-home" / "hitl.sqlite").exists()


def test_every_path_the_readme_names_exists() -> None:
    named = set(re.findall(r"\b((?:engine|tui|tests|bench)/[\w/.]*\w/?)", README))
    assert "engine/storage/schema.py" in named
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == []
