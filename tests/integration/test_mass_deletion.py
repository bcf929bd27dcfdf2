"""The mass-deletion guard with real daemons: `rm -rf` of most of a vault on one device
leaves the other untouched until `deletions apply`; `restore` puts every file back."""

from __future__ import annotations

import shutil
import time

from .conftest import in_sync, pair_running, wait_until

N = 60


def _fill(d) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    for i in range(N):
        d.write(f"notes/{i % 4}/n{i}.md", f"note {i}\n" if i % 7 else "")  # some empty twins
    (d.root / "img").mkdir()
    (d.root / "img" / "a.png").write_bytes(bytes(range(256)) * 64)
    return d.files()


def _wipe(d) -> None:  # type: ignore[no-untyped-def]
    shutil.rmtree(d.root / "notes")
    (d.root / "img" / "a.png").unlink()


def _synced_pair(make_device):  # type: ignore[no-untyped-def]
    a, b = make_device("A"), make_device("B")
    a.start()
    pair_running(a, b)
    files = _fill(a)
    wait_until(in_sync(a, b), what="initial sync")
    return a, b, files


def test_rm_rf_is_held_until_apply(make_device):
    a, b, files = _synced_pair(make_device)
    _wipe(a)
    wait_until(lambda: a.status()["held_deletions"]["count"] == N + 1, what="deletions held on A")
    st = a.status()
    assert "delete_guard" in st["held_deletions"]["reason"]
    assert set(st["held_deletions"]["paths"]) == set(files)
    b.write("still-syncing.md", "other changes keep flowing\n")
    wait_until(lambda: a.read("still-syncing.md") == "other changes keep flowing\n", what="sync goes on")
    time.sleep(3)  # longer than the settle period: had they been published, B would delete now
    assert {k: v for k, v in b.files().items() if k != "still-syncing.md"} == files
    log = (a.logs / "A-1.log").read_text()
    assert sum("WARNING" in line and "holding" in line and "deletions apply" in line for line in log.splitlines()) == 1
    listed = a.cli("deletions", "list", str(a.root), "--json").stdout
    assert "notes/0/n0.md" in listed
    res = a.cli("deletions", "apply", str(a.root))
    assert f"Published {N + 1} deletion(s)" in res.stderr
    wait_until(lambda: set(b.files()) == {"still-syncing.md"}, what="B applies the deletions")
    assert a.status()["held_deletions"]["count"] == 0
    assert b.status()["peer_mass_deletion"]["count"] == N + 1  # B shows what A did


def test_restore_puts_every_file_back_byte_for_byte(make_device):
    a, b, files = _synced_pair(make_device)
    _wipe(a)
    wait_until(lambda: a.status()["held_deletions"]["count"] == N + 1, what="deletions held on A")
    res = a.cli("deletions", "restore", str(a.root), "--json")
    assert f'"done": {N + 1}' in res.stdout
    wait_until(lambda: a.files() == files, what="A's files back")
    assert b.files() == files
    a.write("notes/0/n0.md", "an edit after the restore\n")  # sync as usual afterwards
    wait_until(lambda: b.read("notes/0/n0.md") == "an edit after the restore\n", what="edit after restore")


def test_held_deletions_survive_a_restart_and_apply_offline(make_device):
    a, b, files = _synced_pair(make_device)
    _wipe(a)
    wait_until(lambda: a.status()["held_deletions"]["count"] == N + 1, what="deletions held on A")
    a.stop()
    assert a.status()["held_deletions"]["count"] == N + 1
    res = a.cli("deletions", "apply", str(a.root))  # no daemon: in-process
    assert "at the next `peervault run`" in res.stderr
    a.start()
    wait_until(lambda: not any(k.startswith("notes/") for k in b.files()), what="B applies after A restarts")


def test_a_vanished_vault_folder_stops_sync_and_deletes_nothing(make_device, tmp_path):
    a, b, files = _synced_pair(make_device)
    shutil.move(a.root, tmp_path / "moved-away")
    a.root.mkdir()  # an empty folder where the vault was, as an unmounted drive leaves
    assert a.proc is not None
    rc = a.proc.wait(20)  # the watcher sees the root move (the periodic reconcile would, in 60 s)
    a.proc = None
    a._log.close()
    assert rc == 1
    log = (a.logs / "A-1.log").read_text()
    assert "has disappeared or was replaced" in log
    time.sleep(3)
    assert b.files() == files


LIMIT = 10  # delete_guard_files for the slow wipe: it trips at the 11th deletion


def _slow_pair(make_device):  # type: ignore[no-untyped-def]
    a, b = make_device("A"), make_device("B")
    (a.root / ".peervault" / "config.toml").write_text(f"delete_guard_files = {LIMIT}\n")
    a.start()
    pair_running(a, b)
    files = _fill(a)
    wait_until(in_sync(a, b), what="initial sync")
    return a, b, files


def _delete_slowly(a, b, gone: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A script deleting file after file, each well apart from the last (the watcher's
    batching and the settle see them one by one); B is seen to delete the first ones."""
    for i, rel in enumerate(gone):
        (a.root / rel).unlink()
        time.sleep(0.4)
        if i == 3:
            wait_until(lambda: not b.exists(gone[0]), what="B deletes the first one: it was published")


def test_a_slow_wipe_is_taken_back_and_restored(make_device):
    a, b, files = _slow_pair(make_device)
    gone = ["img/a.png", *sorted(f for f in files if f.endswith(".md"))[: 2 * LIMIT]]
    _delete_slowly(a, b, gone)
    wait_until(lambda: a.status()["held_deletions"]["count"] == len(gone), what="every deletion held on A")
    assert set(a.status()["held_deletions"]["paths"]) == set(gone)
    listed = a.cli("deletions", "list", str(a.root), "--json").stdout
    assert all(rel in listed for rel in gone)
    wait_until(lambda: b.files() == files, what="B keeps every file, or writes it back")
    time.sleep(3)  # longer than the settle period: nothing more is deleted on B, nor written on A
    assert b.files() == files
    assert not any(a.exists(rel) for rel in gone)
    log = (a.logs / "A-1.log").read_text()
    assert "published before the guard tripped, now taken back" in log
    res = a.cli("deletions", "restore", str(a.root), "--json")
    assert f'"done": {len(gone)}' in res.stdout
    wait_until(lambda: a.files() == files, what="A's files back (the picture from B's store)")
    assert b.files() == files
    assert a.status()["held_deletions"]["count"] == 0


def test_apply_after_a_slow_wipe_deletes_them_all_everywhere(make_device):
    a, b, files = _slow_pair(make_device)
    gone = ["img/a.png", *sorted(f for f in files if f.endswith(".md"))[: 2 * LIMIT]]
    _delete_slowly(a, b, gone)
    wait_until(lambda: a.status()["held_deletions"]["count"] == len(gone), what="every deletion held on A")
    wait_until(lambda: b.files() == files, what="B keeps every file, or writes it back")
    res = a.cli("deletions", "apply", str(a.root))
    assert f"Published {len(gone)} deletion(s)" in res.stderr
    rest = {k: v for k, v in files.items() if k not in gone}
    wait_until(lambda: b.files() == rest, what="B applies every deletion")
    assert a.files() == rest


def test_a_take_back_leaves_a_delete_made_on_the_other_device(make_device):
    """B, offline, deletes a note that A's slow wipe deletes too; A's guard takes its own
    deletes back: once B is back, that note stays deleted on both (B meant it), the rest
    stay on B, and A's restore brings back only A's own."""
    a, b, files = _slow_pair(make_device)
    gone = ["img/a.png", *sorted(f for f in files if f.endswith(".md"))[: 2 * LIMIT]]
    mine = gone[5]  # among the deletions A published before its guard tripped
    b.stop()
    (b.root / mine).unlink()
    for rel in gone:
        (a.root / rel).unlink()
        time.sleep(0.4)
    wait_until(lambda: a.status()["held_deletions"]["count"] == len(gone), what="every deletion held on A")
    b.start()
    wanted = {k: v for k, v in files.items() if k != mine}
    wait_until(lambda: b.files() == wanted, what="B writes A's deletions back, not its own")
    time.sleep(3)  # longer than the settle period: nothing more changes
    assert b.files() == wanted and not a.exists(mine)
    wait_until(lambda: a.status()["held_deletions"]["count"] == len(gone) - 1, what="A no longer holds B's")
    assert mine not in a.status()["held_deletions"]["paths"]
    res = a.cli("deletions", "restore", str(a.root), "--json")
    assert f'"done": {len(gone) - 1}' in res.stdout
    wait_until(lambda: a.files() == wanted, what="A's own deletions restored")
    time.sleep(2)
    assert b.files() == wanted and a.files() == wanted
