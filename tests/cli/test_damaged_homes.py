"""Damaged homes and bad databases, as a user meets them: one line, exit 1, nothing changed.

Every case is a real file or a real mount: a zero-length ``hitl.sqlite``, random bytes,
a real home with half its pages overwritten, a disk that is full (a small tmpfs), a
read-only bind mount, another process holding the write lock, a URL of another kind.
Mounting needs root (or CAP_SYS_ADMIN); where it is refused those tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

HITL = Path(sys.executable).with_name("hitl")
EMAIL_TASK = "email the Q3 report to boss@company.com"
PAGE = 4096


def hitl(
    home: Path, *args: str, env: dict[str, str] | None = None, as_: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``hitl --home HOME ARGS``; ``as_`` is a command prefix that changes who runs it."""
    clean = {**os.environ, "HITL_OPERATOR": "carol", **(env or {})}
    for inherited in ("HITL_HOME", "HITL_DATABASE_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        clean.pop(inherited, None)
    return subprocess.run(
        [*as_, str(HITL), "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 1 and exactly one line on stderr, holding each of ``words``; no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file of the home and its bytes. SQLite's ``-shm`` index is left out (it is
    scratch, rebuilt at will); a ``-wal`` counts only when it holds something."""
    files: dict[str, bytes] = {}
    for path in sorted(home.rglob("*")):
        if path.is_dir() or path.name.endswith("-shm"):
            continue
        if path.name.endswith("-wal") and path.stat().st_size == 0:
            continue
        files[str(path.relative_to(home))] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real home with one pending approval, made by `hitl run` (copied per test)."""
    home = tmp_path_factory.mktemp("template") / "home"
    assert hitl(home, "run", EMAIL_TASK).returncode == 0
    [approval] = json.loads(hitl(home, "pending", "--json").stdout)
    for leftover in home.glob("hitl.sqlite-*"):  # a closed home is its file alone
        leftover.unlink()
    return home, str(approval["id"])


@pytest.fixture
def made(template: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    source, approval = template
    home = tmp_path / "home"
    shutil.copytree(source, home)
    return home, approval


def writers(approval: str) -> list[list[str]]:
    return [["run", "email the deck to cto@company.com"], ["approve", approval], ["resume"]]


def readers() -> list[list[str]]:
    return [["pending"], ["threads"], ["audit"], ["audit", "verify"]]


# --- damaged files ------------------------------------------------------------------


def overwrite_half_the_pages(db: Path) -> None:
    """Random bytes over the second half of the pages; page 1 (the header) stays."""
    pages = db.stat().st_size // PAGE
    noise = random.Random(7)
    with db.open("r+b") as file:
        for page in range(pages // 2, pages):
            file.seek(page * PAGE)
            file.write(noise.randbytes(PAGE))


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda db: db.write_bytes(b""), "it is empty: 0 bytes"),
        (lambda db: db.write_bytes(random.Random(3).randbytes(10_000)), "file is not a database"),
        (overwrite_half_the_pages, "database disk image is malformed"),
    ],
    ids=["zero-length", "not-sqlite", "half-overwritten"],
)
def test_a_damaged_database_is_refused_by_every_command_and_left_as_it_is(
    made: tuple[Path, str], damage: object, says: str
) -> None:
    home, approval = made
    db = home / "hitl.sqlite"
    damage(db)  # type: ignore[operator]
    before = snapshot(home)
    for command in [*readers(), *writers(approval)]:
        line = refused(hitl(home, *command), f"the database {db} is damaged", says)
        assert "nothing was changed" in line and "hitl doctor" in line, line
        assert snapshot(home) == before, command
    assert not list((home / "outbox").iterdir())


def test_a_zero_length_file_alone_is_not_turned_into_a_new_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "hitl.sqlite").touch()
    refused(hitl(home, "run", EMAIL_TASK), "is damaged", "it is empty")
    assert (home / "hitl.sqlite").stat().st_size == 0
    assert not list(home.glob("hitl.sqlite-*"))


# --- unsupported databases ----------------------------------------------------------


@pytest.mark.parametrize("url", ["mysql://u:secret@x/db", "sqlite:///x.db", "garbage"])
def test_an_unsupported_database_url_names_the_supported_ones(
    made: tuple[Path, str], url: str
) -> None:
    home, approval = made
    before = snapshot(home)
    for command in [*readers(), *writers(approval)]:
        line = refused(hitl(home, "--database", url, *command), "postgresql://", "hitl.sqlite")
        assert "secret" not in line
    assert snapshot(home) == before
    # The flag must not fall back to the home's SQLite file, nor the environment.
    env = {"HITL_DATABASE_URL": url}
    refused(
        subprocess.run(
            [str(HITL), "--home", str(home), "pending"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
        ),
        "postgresql://",
    )


# --- another process holds the write lock --------------------------------------------


def hold_write_lock(db: Path) -> subprocess.Popen[str]:
    """A process in the middle of a write transaction on ``db``, until its stdin closes."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"db = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def release(holder: subprocess.Popen[str]) -> None:
    if holder.stdin is not None and not holder.stdin.closed:
        holder.stdin.close()
    holder.wait(timeout=10)


@pytest.fixture
def lock_holder(made: tuple[Path, str]) -> Iterator[subprocess.Popen[str]]:
    holder = hold_write_lock(made[0] / "hitl.sqlite")
    yield holder
    release(holder)


def test_a_write_blocked_by_another_process_says_who_and_changes_nothing(
    made: tuple[Path, str], lock_holder: subprocess.Popen[str]
) -> None:
    home, approval = made
    db = home / "hitl.sqlite"
    before = snapshot(home)
    quick = {"HITL_BUSY_TIMEOUT": "0.5"}
    for command in writers(approval):
        line = refused(
            hitl(home, *command, env=quick),
            f"another process (pid {lock_holder.pid}",
            f"is writing to {db}",
            "nothing was changed",
            "Try again",
        )
        assert "0.5 s" in line
    # Readers never wait for a writer.
    listing = hitl(home, "pending", env=quick)
    assert listing.returncode == 0 and approval in listing.stdout
    release(lock_holder)
    assert snapshot(home) == before
    [still] = json.loads(hitl(home, "pending", "--json").stdout)
    assert still["id"] == approval and still["received"] == 0


def test_a_busy_timeout_that_is_not_a_number_is_refused(made: tuple[Path, str]) -> None:
    home, _ = made
    refused(hitl(home, "resume", env={"HITL_BUSY_TIMEOUT": "soon"}), "HITL_BUSY_TIMEOUT")


# --- mounts: a full disk, a read-only home -------------------------------------------


def mount(*args: str) -> None:
    """Runs mount(8), or skips the test saying why it cannot."""
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) here: cannot make a real full disk or read-only mount")
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(
            f"mount refused ({result.stderr.strip() or result.returncode}): a full disk and "
            "a read-only home need a real mount (root or CAP_SYS_ADMIN)"
        )


def unmount(point: Path) -> None:
    if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.fixture
def full_disk(made: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The home on a 1 MB tmpfs with not one byte left."""
    point = tmp_path / "disk"
    point.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(point))
    try:
        shutil.copytree(made[0], point / "home")
        filler = os.open(point / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 512):
                pass
        except OSError:
            pass  # no space left: as meant
        finally:
            os.close(filler)
        assert shutil.disk_usage(point).free == 0
        yield point / "home", made[1]
    finally:
        unmount(point)


def test_a_full_disk_is_named_and_nothing_changes(full_disk: tuple[Path, str]) -> None:
    home, approval = full_disk
    db = home / "hitl.sqlite"
    before = snapshot(home)
    # Listings too: SQLite reads a WAL database through an index file it must grow.
    for command in [*writers(approval), ["pending"]]:
        line = refused(hitl(home, *command), f"the disk holding {db} is full")
        assert "nothing was changed" in line and "Free some space" in line
        assert snapshot(home) == before, command
    (home.parent / "filler").unlink()
    [still] = json.loads(hitl(home, "pending", "--json").stdout)
    assert still["id"] == approval and still["received"] == 0


@pytest.fixture
def read_only(made: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """(the home as a read-only bind mount, its writable source, the approval)."""
    source, approval = made
    point = tmp_path / "read-only"
    point.mkdir()
    mount("--bind", str(source), str(point))
    try:
        mount("-o", "remount,bind,ro", str(point))
        yield point, source, approval
    finally:
        unmount(point)


def test_listings_work_on_a_read_only_home_and_writes_are_refused(
    read_only: tuple[Path, Path, str],
) -> None:
    home, source, approval = read_only
    with pytest.raises(OSError):
        (home / "probe").touch()  # root included: the mount itself is read-only
    before = snapshot(source)
    assert approval in hitl(home, "pending").stdout
    [thread] = json.loads(hitl(home, "threads", "--json").stdout)
    show = hitl(home, "show", thread["id"])
    assert show.returncode == 0 and "send_email" in show.stdout
    assert "approval_requested" in hitl(home, "audit").stdout
    verify = hitl(home, "audit", "verify")
    assert verify.returncode == 0 and "audit log intact" in verify.stdout
    for command in writers(approval):
        refused(
            hitl(home, *command),
            f"the home {home} is read-only",
            "nothing was changed",
            "`hitl pending`",
        )
    assert snapshot(source) == before


def test_a_read_only_home_with_unapplied_changes_in_its_log_says_so(
    template: tuple[Path, str], tmp_path: Path
) -> None:
    """A copy of a live home: changes still in ``hitl.sqlite-wal``, no ``-shm`` beside
    it. SQLite can read that log only where it can write; reading the file alone would
    show an old state, so the listing refuses instead."""
    source = tmp_path / "source"
    shutil.copytree(template[0], source)
    import sqlite3

    live = sqlite3.connect(source / "hitl.sqlite")
    try:
        live.execute("PRAGMA wal_autocheckpoint=0")
        live.execute("UPDATE hitl_threads SET title = 'renamed while copied'")
        live.commit()
        copy = tmp_path / "copy"
        copy.mkdir()
        for name in ("hitl.sqlite", "hitl.sqlite-wal", "policy.toml"):
            shutil.copy(source / name, copy / name)
    finally:
        live.close()
    assert (copy / "hitl.sqlite-wal").stat().st_size > 0
    point = tmp_path / "read-only"
    point.mkdir()
    mount("--bind", str(copy), str(point))
    try:
        mount("-o", "remount,bind,ro", str(point))
        refused(hitl(point, "threads"), "read-only", "hitl.sqlite-wal", "nothing was changed")
    finally:
        unmount(point)


def test_a_directory_without_write_permission_reads_and_refuses_writes(
    made: tuple[Path, str],
) -> None:
    """chmod, not a mount. Root ignores permission bits, so as root the command runs
    without the capabilities that let it (still uid 0, so the files stay its own)."""
    as_: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip(
                "root ignores file permissions and setpriv(1) is missing to drop that "
                "power; the read-only bind mount test covers read-only homes"
            )
        as_ = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    home, approval = made
    (home / "hitl.sqlite").chmod(0o444)
    home.chmod(0o555)
    try:
        before = snapshot(home)
        listing = hitl(home, "pending", as_=as_)
        assert listing.returncode == 0 and approval in listing.stdout, listing.stderr
        verify = hitl(home, "audit", "verify", as_=as_)
        assert verify.returncode == 0 and "audit log intact" in verify.stdout
        for command in writers(approval):
            refused(hitl(home, *command, as_=as_), "is read-only", "no permission to write")
        assert snapshot(home) == before
    finally:
        home.chmod(0o755)
        (home / "hitl.sqlite").chmod(0o644)
