"""The API of every vault of a `peervault run` process, from outside: one per-user socket
(and one loopback port with a token) listing the vaults and answering each vault's routes
under /vaults/ID/, a vault that cannot be opened shown as failed while the others answer,
and a profile switched through it applied to the running daemon without a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import ENV, Device, pair_running, wait_until
from .test_control_api import UnixConnection, call, free_port
from .test_dashboard import ARGS, CHROMIUM, Browser, needs_chromium


class Together:
    """One `peervault run` process for several vaults, with its own per-user runtime folder."""

    def __init__(self, devices: list[Device], run_dir: Path, *extra: str) -> None:
        self.run_dir = run_dir
        self.env = {**ENV, "PEERVAULT_RUNTIME_DIR": str(run_dir)}
        first = devices[0]
        log = open(first.logs / "together.log", "wb")  # noqa: SIM115 - closed by shut_down through the devices
        roots = [str(d.root) for d in devices]
        cmd = [sys.executable, "-m", "peervault", "--log-level", "debug", "run", *roots, "--bind", "127.0.0.1:0", *extra]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        for d in devices:
            d.proc, d._log = self.proc, log
        self.log = first.logs / "together.log"

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return call(UnixConnection(self.run_dir / "control.sock"), method, path, body, **kw)

    def vaults(self) -> dict[str, dict[str, Any]]:
        """The rows of GET /vaults by folder name."""
        status, rows = self.call("GET", "/vaults")
        assert status == 200, rows
        return {row["name"]: row for row in rows}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "peervault", *args], env=self.env, capture_output=True, text=True, timeout=60
        )


def start(devices: list[Device], run_dir: Path, *extra: str, ready: list[Device] | None = None) -> Together:
    together = Together(devices, run_dir, *extra)
    for d in ready if ready is not None else devices:
        wait_until(lambda: (d.runtime() or {}).get("pid") == together.proc.pid, what=f"{d.root.name} served")
    wait_until(lambda: (run_dir / "control.sock").exists(), what="the API of every vault")
    return together


def test_one_socket_lists_every_vault_and_answers_each_under_its_id(make_device, tmp_path: Path):
    a, c, broken = make_device("A"), make_device("C"), make_device("Broken")
    a.write("a.md", "in A\n")
    c.write("c.md", "in C\n")
    c.write("c2.md", "also in C\n")
    (broken.root / ".peervault" / "config.toml").write_text("profile = [\n")  # cannot be opened
    run = start([a, c, broken], tmp_path / "run", ready=[a, c])
    assert (tmp_path / "run" / "control.sock").stat().st_mode & 0o077 == 0  # the owner's alone
    wait_until(lambda: run.vaults()["C"]["files"] == 2 and run.vaults()["A"]["files"] == 1, what="both vaults counted")
    rows = run.vaults()
    assert rows["A"]["state"] == rows["C"]["state"] == "running"
    assert rows["A"]["path"] == str(a.root) and rows["A"]["vault_id"] == a.status()["vault_id"]
    assert rows["A"]["pending"] == 0 and rows["A"]["errors"] == 0 and rows["A"]["devices"] == []
    assert rows["Broken"]["state"] == "failed" and "config.toml" in rows["Broken"]["reason"], rows["Broken"]
    ida, idc, idb = rows["A"]["id"], rows["C"]["id"], rows["Broken"]["id"]

    status, files = run.call("GET", f"/vaults/{ida}/files")
    assert status == 200 and [f["path"] for f in files["files"]] == ["a.md"]
    status, files = run.call("GET", f"/vaults/{idc}/files")
    assert status == 200 and [f["path"] for f in files["files"]] == ["c.md", "c2.md"]
    status, by_vault_id = run.call("GET", f"/vaults/{rows['C']['vault_id']}/status")  # the vault's id names it too
    assert status == 200 and by_vault_id["vault"] == str(c.root)
    status, answer = run.call("GET", f"/vaults/{idb}/status")
    assert status == 503 and answer["error"]["code"] == "VaultUnavailable" and "config.toml" in answer["error"]["message"]
    status, answer = run.call("GET", "/vaults/0123456789ab/status")
    assert status == 404 and "'0123456789ab'" in answer["error"]["message"]
    assert run.call("GET", "/status")[0] == 404  # the process-wide API has only the prefixed routes
    status, _ = run.call("POST", f"/vaults/{ida}/pause")
    assert status == 200 and a.status()["daemon"]["paused"] and not c.status()["daemon"]["paused"]
    assert run.call("GET", "/vaults", headers={"Origin": "https://evil.example"})[0] == 403

    # each vault's own socket still answers as before (the CLI and the plugin use it)
    assert c.status()["files"]["tracked"] == 2
    status, own = call(UnixConnection(c.root / ".peervault" / "control.sock"), "GET", "/vaults")
    assert status == 200 and [r["id"] for r in own] == [idc]
    assert run.proc.poll() is None


def test_one_loopback_port_for_every_vault_needs_the_token(make_device, tmp_path: Path):
    a, c = make_device("A"), make_device("C")
    port = free_port()
    run = start([a, c], tmp_path / "run", "--api", f"127.0.0.1:{port}")
    ida = run.vaults()["A"]["id"]

    def tcp(path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        import http.client

        return call(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "GET", path, headers=headers)

    token = (tmp_path / "run" / "api-token").read_text().strip()
    assert tcp("/vaults")[0] == 401
    status, answer = tcp(f"/vaults/{ida}/status")
    assert status == 401 and "Bearer" in answer["error"]["message"]
    assert tcp("/vaults", {"Authorization": "Bearer wrong"})[0] == 401
    status, rows = tcp("/vaults", {"Authorization": f"Bearer {token}"})
    assert status == 200 and {r["name"] for r in rows} == {"A", "C"}
    status, answer = tcp(f"/vaults/{ida}/status", {"Authorization": f"Bearer {token}"})
    assert status == 200 and answer["vault"] == str(a.root)
    assert tcp("/vaults", {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"})[0] == 403
    assert not (a.root / ".peervault" / "api-token").exists()  # no vault's own port was opened


def test_a_profile_switch_applies_at_once_without_a_restart(make_device, tmp_path: Path):
    a, c = make_device("A"), make_device("C")
    run = start([a, c], tmp_path / "run")
    ida, idc = run.vaults()["A"]["id"], run.vaults()["C"]["id"]
    pid = run.proc.pid
    status, before = run.call("GET", f"/vaults/{ida}/settings")
    assert status == 200 and before["profile"] == "default" and before["debounce_ms"] == 1000 and before["next_start"] == []

    status, after = run.call("POST", f"/vaults/{ida}/settings", {"profile": "low-power"})
    assert status == 200, after
    assert {"debounce_ms", "heartbeat_interval_s", "cache_docs", "idle_suspend_s", "background_sync"} <= set(after["applied"])
    assert after["next_start"] == ["mdns_poll_s", "watch_step_ms"]  # fixed when the watcher and discovery started
    status, now = run.call("GET", f"/vaults/{ida}/settings")
    assert now["profile"] == "low-power" and now["debounce_ms"] == 2000 and now["next_start"] == after["next_start"]
    wait_until(lambda: (a.runtime() or {}).get("metrics", {}).get("profile") == "low-power", what="daemon.json says so")
    assert run.call("GET", f"/vaults/{ida}/status")[1]["metrics"]["profile"] == "low-power"
    assert 'profile = "low-power"' in (a.root / ".peervault" / "config.toml").read_text()
    assert run.call("GET", f"/vaults/{idc}/settings")[1]["profile"] == "default"  # the other vault is its own
    assert run.proc.poll() is None and a.runtime()["pid"] == pid  # no restart
    assert "profile low-power applied while running" in run.log.read_text()

    status, back = run.call("POST", f"/vaults/{ida}/settings", {"profile": "default"})
    assert status == 200 and back["profile"] == "default" and back["debounce_ms"] == 1000 and back["next_start"] == []
    a.write("after.md", "the watcher and reconcile still run\n")
    wait_until(lambda: run.vaults()["A"]["files"] == 1, what="a note recorded after two switches")


def test_the_dashboard_command_takes_its_link_from_the_api_of_every_vault(make_device, tmp_path: Path):
    a, c = make_device("A"), make_device("C")
    run = start([a, c], tmp_path / "run")
    idc = run.vaults()["C"]["id"]
    res = run.cli("dashboard", str(c.root), "--no-open")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith(f"&vault={idc}")
    res = run.cli("dashboard", "--no-open")
    assert res.returncode == 0 and "/dashboard/login?code=" in res.stdout and "&vault=" not in res.stdout
    assert res.stdout.startswith("http://127.0.0.1:")
    port = res.stdout.split(":")[2].split("/")[0]

    d = make_device("D")  # a second `peervault run` of the user: the per-user socket stays the first one's
    second = subprocess.Popen(
        [sys.executable, "-m", "peervault", "--log-level", "debug", "run", str(d.root), "--bind", "127.0.0.1:0"],
        env=run.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: (d.runtime() or {}).get("pid") == second.pid, what="D served by a second process")
        assert set(run.vaults()) == {"A", "C"}
        res = run.cli("dashboard", str(d.root), "--no-open")  # from D's own socket, on D's own port
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("http://127.0.0.1:") and f":{port}/" not in res.stdout and "&vault=" in res.stdout
    finally:
        second.terminate()
        _, errors = second.communicate(timeout=30)
    assert "the API of every vault is not served by this process" in errors.decode()
    run.proc.terminate()
    assert run.proc.wait(30) == 0
    res = run.cli("dashboard", "--no-open")
    assert res.returncode == 6 and "control.sock" in res.stderr, res.stderr


@needs_chromium
def test_the_dashboard_shows_every_vault_and_its_pages_follow_the_chosen_one(make_device, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    a, b, c, broken = make_device("A"), make_device("B"), make_device("C"), make_device("Broken")
    a.write("alpha.md", "in A\n")
    c.write("gamma.md", "in C\n")
    c.write("delta.md", "also in C\n")
    (broken.root / ".peervault" / "config.toml").write_text("profile = [\n")
    run = start([a, c, broken], tmp_path / "run", ready=[a, c])
    pair_running(a, b)  # A has a device; C has none
    rows = run.vaults()
    ida, idc = rows["A"]["id"], rows["C"]["id"]
    wait_until(lambda: run.vaults()["C"]["files"] == 2, what="C's notes counted")
    link = run.cli("dashboard", "--no-open").stdout.strip()
    base = link.split("/dashboard/")[0]
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=ARGS, viewport={"width": 1200, "height": 900}
        )
        try:
            page = context.new_page()
            web = Browser(page, base)
            page.goto(link)
            page.wait_for_selector("#page-overview [data-ready]", timeout=30_000)
            table = web.text("#page-overview table")
            assert "A" in table and "C" in table and "running" in table
            wait_until(lambda: "connected" in web.text(f"#page-overview tr[data-vault='{ida}']"), what="B shown on A's row")
            assert "none paired" in web.text(f"#page-overview tr[data-vault='{idc}']")
            assert "failed: " in web.text(f"#page-overview tr[data-vault='{rows['Broken']['id']}']")
            assert web.text("#fig-tracked") == "1"  # the first vault is chosen
            web.shot("vaults-overview")

            page.keyboard.press("Tab")  # keyboard only: the first stop is the vault selector
            assert page.evaluate("document.activeElement.id") == "vault-select"
            page.keyboard.press("ArrowDown")  # the next vault, C
            page.wait_for_function(f"location.hash.includes('vault={idc}')")
            page.wait_for_selector(f"section[data-vault='{idc}'] [data-ready]")
            wait_until(lambda: web.text("#fig-tracked") == "2", what="C's figures")
            assert web.text("#chosen-vault") == "Vault C"

            def history_lists() -> list[str]:
                return sorted(page.eval_on_selector_all("#history-paths option", "os => os.map((o) => o.value)"))

            web.open(f"history?vault={ida}")
            wait_until(lambda: history_lists() == ["alpha.md"], what="A's notes on the history page")
            page.select_option("#vault-select", idc)
            page.wait_for_selector(f"#page-history[data-vault='{idc}'] [data-ready]")
            wait_until(lambda: history_lists() == ["delta.md", "gamma.md"], what="C's notes once C is chosen")
            page.fill("#history-path", "gamma.md")
            page.click("#page-history button[type=submit]")
            page.wait_for_selector("#versions table")
            assert "gamma.md" in web.text("#versions") and f"vault={idc}" in page.evaluate("location.hash")
            web.shot("vaults-history-c")
            page.reload()  # the URL remembers the vault and the file
            page.wait_for_selector("#versions table")
            assert page.input_value("#vault-select") == idc and page.input_value("#history-path") == "gamma.md"

            web.open(f"settings?vault={idc}")
            page.select_option("#setting-profile", "low-power")
            page.click("#settings-save")
            page.wait_for_selector("#settings-result.notice")
            result = web.text("#settings-result")
            assert "Applied now:" in result and "heartbeat_interval_s" in result and "At the next start: mdns_poll_s" in result
            assert "watch_step_ms" in web.text("#settings-next-start")
            web.shot("vaults-settings")
            assert run.call("GET", f"/vaults/{idc}/settings")[1]["profile"] == "low-power"
            assert run.call("GET", f"/vaults/{ida}/settings")[1]["profile"] == "default"
        finally:
            context.close()
    assert not web.problems, web.problems


def test_a_vault_importing_in_its_own_process_answers_its_status_beside_the_others(make_device, tmp_path: Path):
    from .test_first_import_process import NOTES, _held_child, _notes

    a, c = make_device("A"), make_device("C")
    _notes(a.root)
    c.write("c.md", "in C\n")
    run = Together([a, c], tmp_path / "run")
    child = _held_child(run.proc)  # at once: it must not end before the test has looked
    try:
        for d in (a, c):  # both ready: A while its first import runs
            wait_until(lambda: (d.runtime() or {}).get("pid") == run.proc.pid, what=f"{d.root.name} served")
        wait_until(lambda: (tmp_path / "run" / "control.sock").exists(), what="the API of every vault")
        rows = run.vaults()
        assert rows["A"]["state"] == rows["C"]["state"] == "running"
        status, answer = run.call("GET", f"/vaults/{rows['A']['id']}/status")
        assert status == 200 and answer["daemon"]["first_import"] is not None and not answer["daemon"]["scan_done"]
        status, answer = run.call("GET", f"/vaults/{rows['A']['id']}/deleted")
        assert status == 503 and answer["error"]["code"] == "FirstImportRunning", answer
        wait_until(lambda: run.vaults()["C"]["files"] == 1, what="C imported beside it")
        status, answer = run.call("GET", f"/vaults/{rows['C']['id']}/files")
        assert status == 200 and [f["path"] for f in answer["files"]] == ["c.md"]
    finally:
        child.resume()
    wait_until(lambda: (a.runtime() or {}).get("scan_done"), timeout=120, what="A's first import")
    assert run.vaults()["A"]["files"] == NOTES + 1
    status, answer = run.call("GET", f"/vaults/{rows['A']['id']}/deleted")
    assert status == 200 and answer == []
