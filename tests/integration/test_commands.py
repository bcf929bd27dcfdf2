"""One-shot commands and larger set-ups: `sync`, `invite` with no daemon, three devices, 1,000 files."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ENV, in_sync, pair_running, wait_until


def test_sync_one_shot_converges_and_reports_unreachable(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("a.md", "from A\n")
    a.start()
    pair_running(a, b)
    assert b.stop() == 0
    b.write("offline.md", "made while B's daemon was off\n")
    a.write("a.md", "from A, edited\n")
    res = b.cli("sync", str(b.root), "--bind", "127.0.0.1:0")
    assert res.returncode == 0
    wait_until(in_sync(a, b), what="one-shot sync converged")
    assert a.read("offline.md") == "made while B's daemon was off\n"
    assert b.read("a.md") == "from A, edited\n"
    assert a.stop() == 0
    res = b.cli("sync", str(b.root), "--timeout", "8", "--bind", "127.0.0.1:0", check=False)
    assert res.returncode == 5 and "no paired device was reachable" in res.stderr


def test_invite_without_daemon_waits_for_join(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("hello.md", "hi\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "peervault", "invite", str(a.root), "--bind", "127.0.0.1:0"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ticket = proc.stdout.readline().strip()
    assert ticket.startswith("pv1")
    b.join(ticket)
    assert proc.wait(30) == 0
    proc.stdout.close()
    proc.stderr.close()
    assert b.read("hello.md") == "hi\n"
    # The daemon on A later listens at the same address, so B reconnects by itself.
    a.start()
    b.start()
    b.write("later.md", "after pairing\n")
    wait_until(lambda: a.read("later.md") == "after pairing\n", what="live sync after invite/join")


def test_three_devices_converge(make_device):
    a, b, c = make_device("A"), make_device("B"), make_device("C")
    a.start()
    pair_running(a, b)
    c.join(a.invite())
    c.start()
    wait_until(lambda: a.connected() == 2, what="A connected to B and C")
    b.write("from-b.md", "B wrote this\n")  # B and C never paired: A forwards
    wait_until(lambda: c.read("from-b.md") == "B wrote this\n", what="B's note reaches C through A")
    c.write("from-c.md", "C wrote this\n")
    wait_until(lambda: b.read("from-c.md") == "C wrote this\n", what="C's note reaches B")
    assert c.stop() == 0
    b.write("from-b.md", "B wrote this\nB again while C was off\n")
    c.write("from-c.md", "C wrote this\nC again while offline\n")
    c.start()
    wait_until(in_sync(a, b, c), what="three vaults identical")
    assert "C again while offline" in b.read("from-c.md")
    assert "B again while C was off" in c.read("from-b.md")


def test_thousand_files_reach_an_empty_joined_vault(make_device):
    a, b = make_device("A"), make_device("B")
    for i in range(1000):
        a.write(f"notes/{i // 100:02d}/note-{i:04d}.md", f"# Note {i}\n\n" + "Some text about things. " * (i % 40 + 5) + "\n")
    a.start()
    wait_until(lambda: a.status()["files"]["tracked"] == 1000, what="A tracked 1,000 files")
    b.join(a.invite())
    assert len(b.files()) == 1000
    assert b.files() == a.files()


def test_join_while_inviter_is_off_completes_when_both_run(make_device):
    a, b = make_device("A"), make_device("B")
    a.write("from-a.md", "A's note\n")
    ticket = a.invite("--no-wait", "--bind", "127.0.0.1:0")
    res = b.cli("join", str(b.root), ticket, "--timeout", "3", "--bind", "127.0.0.1:0", check=False)
    assert res.returncode == 5 and "pairing is saved" in res.stderr
    assert [p["paired"] for p in b.status()["peers"]] == [False]
    a.start()  # listens where the ticket says (the port is remembered)
    b.start()  # dials with the saved pairing secret
    wait_until(lambda: b.read("from-a.md") == "A's note\n", what="pairing completed by the daemons")
    assert [p["paired"] for p in b.status()["peers"]] == [True]
    assert [p["paired"] for p in a.status()["peers"]] == [True]
