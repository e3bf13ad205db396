"""``python -m engine.cli``: the command without the console."""

from engine.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
