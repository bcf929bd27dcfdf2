"""`peervault demo`: two throw-away vaults on this machine, paired and syncing live.

It drives real `peervault run` daemons in child processes over loopback Iroh,
exactly as two devices would run, and shows each step's result and timing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ..errors import PeerVaultError

NOTES_A = {
    "Welcome.md": "# Welcome\n\nThis vault lives on two devices.\nEdits on either side merge.\n",
    "projects/Garden.md": "# Garden\n\n- tomatoes\n- basil\n",
    "daily/2026-11-26.md": "# Thursday\n\nMorning: write the demo.\n",
}
NOTES_B = {"Ideas from B.md": "# Ideas\n\nB had this note before pairing.\n"}


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "peervault", "--log-level", "warning", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PEERVAULT_NO_RELAY": "1"}


def _wait(what: str, cond: Callable[[], bool], timeout: float = 20.0) -> float:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise PeerVaultError(f"demo: timed out waiting for {what}")
        time.sleep(0.01)
    return time.monotonic() - t0


def _read(p: Path) -> str | None:
    try:
        return p.read_text()
    except OSError:
        return None


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".peervault" not in p.relative_to(root).parts
    }


def run_demo(out: Console, keep: bool, base: Path | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="peervault-demo-", dir=base))
    a, b = work / "laptop", work / "desktop"
    daemons: list[subprocess.Popen[bytes]] = []
    out.print(Panel.fit("PeerVault demo: two devices on this machine, syncing over Iroh (loopback)", style="bold"))
    try:
        for root, notes in ((a, NOTES_A), (b, NOTES_B)):
            subprocess.run(_cmd("init", "--own-id", str(root)), check=True, env=_env(), capture_output=True)
            for rel, text in notes.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text)
        out.print(f"1. Two vaults: [cyan]{a}[/] (3 notes) and [cyan]{b}[/] (1 note)", highlight=False)

        daemons.append(subprocess.Popen(_cmd("run", str(a), "--bind", "127.0.0.1:0"), env=_env()))
        _wait("laptop daemon", lambda: (a / ".peervault" / "daemon.json").exists())
        ticket = subprocess.run(_cmd("invite", str(a)), check=True, env=_env(), capture_output=True, text=True).stdout.strip()
        out.print(f"2. Laptop invites: [dim]{ticket[:48]}…[/]", highlight=False)
        t0 = time.monotonic()
        subprocess.run(_cmd("join", str(b), ticket, "--bind", "127.0.0.1:0"), check=True, env=_env())
        out.print(f"3. Desktop joined and synced in {time.monotonic() - t0:.2f} s (process start included)")
        daemons.append(subprocess.Popen(_cmd("run", str(b), "--bind", "127.0.0.1:0"), env=_env()))
        _wait("both vaults identical", lambda: _snapshot(a) == _snapshot(b))

        # A live edit, then concurrent edits to the same note on both devices.
        _wait("desktop daemon", lambda: (b / ".peervault" / "daemon.json").exists())
        time.sleep(0.5)
        note = "projects/Garden.md"
        (a / note).write_text("# Garden\n\n- tomatoes\n- basil\n- mint (added on laptop)\n")
        dt = _wait("laptop edit on desktop", lambda: "mint" in (_read(b / note) or ""))
        out.print(f"4. Edit on laptop visible on desktop after [green]{dt * 1000:.0f} ms[/]")
        (a / "Welcome.md").write_text(NOTES_A["Welcome.md"].replace("two devices", "two devices (laptop says hi)"))
        (b / "Welcome.md").write_text(NOTES_A["Welcome.md"] + "Desktop added this line.\n")
        dt = _wait(
            "both edits merged",
            lambda: all(
                "laptop says hi" in (_read(r / "Welcome.md") or "") and "Desktop added" in (_read(r / "Welcome.md") or "")
                for r in (a, b)
            ),
        )
        out.print(
            f"5. Both devices edited Welcome.md at once: merged on both after [green]{dt * 1000:.0f} ms[/], no conflict copy\n"
            "   (a device writes a merge into a file only once it has been quiet for 2 s, so it never cuts into a save)"
        )
        (b / "projects" / "Garden.md").rename(b / "Garden (moved).md")
        dt = _wait("rename on laptop", lambda: (a / "Garden (moved).md").exists() and not (a / note).exists())
        out.print(f"6. Rename on desktop applied on laptop after [green]{dt * 1000:.0f} ms[/]")
        _wait("both vaults identical", lambda: _snapshot(a) == _snapshot(b))

        table = Table(title="Both vaults now hold", title_justify="left")
        table.add_column("file")
        table.add_column("laptop = desktop")
        for rel, text in _snapshot(a).items():
            table.add_row(rel, "yes" if _snapshot(b).get(rel) == text else "NO")
        out.print(table)
        out.print(Panel(_snapshot(a)["Welcome.md"].rstrip(), title="Welcome.md after the concurrent edits"))
    finally:
        for p in daemons:
            p.send_signal(signal.SIGTERM)
        for p in daemons:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if keep:
            out.print(f"Kept the vaults in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
