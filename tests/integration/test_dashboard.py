"""The dashboard from outside, as a person uses it: `peervault dashboard` against real
daemons, its pages in Debian's headless Chromium (driven by Playwright, with no browser of
Playwright's own), and its login and cookie rules over plain HTTP. Every page must load
with no console message of type error or warning; a screenshot of each goes to the CI log
folder (dashboard/<page>.png) for a person to look at."""

from __future__ import annotations

import contextlib
import http.client
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from .conftest import Device, in_sync, pair_running, wait_until

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(os.environ.get("PEERVAULT_CI_LOGS") or Path(os.environ.get("TMPDIR", "/tmp")) / "peervault-ci-logs") / "dashboard"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def login_link(dev: Device) -> str:
    return dev.cli("dashboard", str(dev.root), "--no-open").stdout.strip()


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
    finally:
        conn.close()


def test_the_login_link_works_once_and_the_cookie_only_from_the_dashboards_page(make_device):
    a = make_device("A")
    res = a.cli("dashboard", str(a.root), "--no-open", check=False)
    assert res.returncode == 6 and "peervault run" in res.stderr, res.stderr
    a.write("n.md", "one\n")
    a.start()
    link = login_link(a)
    base = link.split("/dashboard/")[0]
    assert base.startswith("http://127.0.0.1:")
    api = f"{base}/vaults/{link.rsplit('&vault=', 1)[1]}"  # the page's API: the vault's routes on the daemon's port

    status, _, _ = get(f"{api}/status")
    assert status == 401  # no cookie, no token
    status, _, _ = get(f"{base}/dashboard/")
    assert status == 401

    status, headers, _ = get(link)
    assert status == 303 and headers["location"].startswith("/dashboard/#overview?vault=")  # opens on the vault named
    cookie_line = headers["set-cookie"]
    assert "HttpOnly" in cookie_line and "SameSite=Strict" in cookie_line and "Path=/" in cookie_line
    assert "Secure" not in cookie_line  # plain http on loopback: a Secure cookie would never be sent
    cookie = cookie_line.split(";")[0]
    assert get(link)[0] == 403  # used once

    status, _, body = get(f"{api}/status", {"Cookie": cookie})
    assert status == 200 and '"tracked": 1' in body.replace('"tracked":1', '"tracked": 1')
    assert get(f"{base}/dashboard/", {"Cookie": cookie})[0] == 200
    assert get(f"{api}/status", {"Cookie": cookie, "Origin": base})[0] == 200
    for origin in ("https://evil.example", f"http://127.0.0.1:{urlsplit(base).port + 1}", "null"):
        assert get(f"{api}/status", {"Cookie": cookie, "Origin": origin})[0] == 403, origin
    assert get(f"{api}/status", {"Cookie": cookie, "Sec-Fetch-Site": "same-site"})[0] == 403
    assert get(f"{api}/pause", {"Cookie": cookie, "Origin": "https://evil.example"}, method="POST")[0] == 403
    assert not a.status()["daemon"]["paused"]
    assert get(f"{api}/status", {"Cookie": cookie.replace("=", "=x", 1)})[0] == 401  # a forged session
    # a login link is only ever given over the owner's socket
    assert get(f"{base}/dashboard/code", {"Cookie": cookie, "Origin": base}, method="POST")[0] == 403
    second = login_link(a)
    assert second.split("/dashboard/")[0] == base  # the same port, opened once


class Browser:
    """One logged-in dashboard tab, and every console message and page error it produced."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def open(self, page_id: str) -> None:
        self.page.goto(f"{self.base}/dashboard/#{page_id}")
        self.page.wait_for_selector(f"#page-{page_id.split('?')[0]} [data-ready]", timeout=30_000)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))


@contextmanager
def dashboard(dev: Device, tmp: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    link = login_link(dev)
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp / "chromium-profile"), executable_path=CHROMIUM, args=ARGS, viewport={"width": 1200, "height": 850}
        )
        try:
            page = context.new_page()
            browser = Browser(page, link.split("/dashboard/")[0])
            started = time.perf_counter()
            page.goto(link)
            page.wait_for_selector("#page-overview [data-ready]", timeout=30_000)
            browser.load_ms = (time.perf_counter() - started) * 1000
            yield browser
        finally:
            context.close()
    assert not browser.problems, browser.problems


@needs_chromium
def test_overview_activity_and_unsynced_files_follow_the_other_device_live(make_device, tmp_path):
    a, b = make_device("A"), make_device("B")
    a.write("one.md", "one\n")
    (a.root / ".peervault" / "config.toml").write_text("max_file_bytes = 100000\n")
    a.write("huge.log", "x" * 200_000)  # cannot sync: past this vault's limit
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read("one.md") == "one\n", what="the first note on B")
    with dashboard(a, tmp_path) as web:
        assert web.text("#fig-tracked") == "1"
        wait_until(lambda: "connected" in web.text("#page-overview table"), what="B shown connected")
        b.write("two.md", "two\n")  # on the other device: A's page follows without a reload
        wait_until(lambda: web.text("#fig-tracked") == "2", what="the new note counted on A's overview")
        assert web.text("#fig-not-synced") == "1"
        web.shot("overview")
        print(f"dashboard load (login link to overview drawn): {web.load_ms:.0f} ms")  # noqa: T201

        web.page.keyboard.press("Tab")  # keyboard only: the first stop is the navigation
        assert web.page.evaluate("document.activeElement.dataset.page") == "overview"
        web.page.keyboard.press("Tab")
        web.page.keyboard.press("Enter")
        web.page.wait_for_selector("#page-plot [data-ready]")

        web.open("activity")
        assert "two.md" in web.text("#activity-log li[data-kind=remote_change]")
        b.write("three.md", "three\n")
        wait_until(lambda: "three.md" in web.text("#activity-log li:first-child"), what="B's edit in A's activity, live")
        web.shot("activity")

        web.open("plot")
        summary = web.text("#plot-summary")
        assert "changes received in 0 of" not in summary and "360 ten-second steps" in summary, summary
        assert web.page.locator("#chart-latency canvas").count() == 1 and web.page.locator("#chart-traffic canvas").count() == 1
        web.shot("plot")

        web.open("unsynced")
        row = web.text("#page-unsynced table")
        assert "huge.log" in row and "max_file_bytes" in row, row
        web.shot("unsynced")


@needs_chromium
def test_restoring_a_version_from_the_history_page_brings_it_back_on_both_devices(make_device, tmp_path):
    a, b = make_device("A"), make_device("B")
    a.write("plan.md", "# Plan\nthe first idea\n")
    a.start()
    pair_running(a, b)
    wait_until(lambda: b.read("plan.md") == "# Plan\nthe first idea\n", what="the note on B")
    b.write("plan.md", "# Plan\na worse idea\n")  # edited on the other device
    wait_until(lambda: a.read("plan.md") == "# Plan\na worse idea\n", what="B's edit on A")
    with dashboard(a, tmp_path) as web:
        web.open("history?path=plan.md")
        web.page.wait_for_selector("#versions table")
        web.page.click("#versions button[data-version='1']")
        web.page.wait_for_selector("#version-panel pre.diff")
        diff = web.text("#version-panel pre.diff")
        assert "-a worse idea" in diff and "+the first idea" in diff, diff
        web.shot("history")
        web.page.click("#restore-button")
        web.page.wait_for_selector("#history-result.notice")
        assert "Restored version 1" in web.text("#history-result.notice")
        wait_until(lambda: a.read("plan.md") == b.read("plan.md") == "# Plan\nthe first idea\n", what="restored on A and B")
        web.page.wait_for_selector("#versions table")


@needs_chromium
def test_held_deletions_are_restored_or_applied_and_settings_change_live(make_device, tmp_path):
    a, b = make_device("A"), make_device("B")
    (a.root / ".peervault" / "config.toml").write_text("# mine\ndelete_guard_files = 3\n")
    a.start()
    pair_running(a, b)
    notes = {f"n{i}.md": f"note {i}\n" for i in range(6)}
    for rel, text in notes.items():
        a.write(rel, text)
    wait_until(in_sync(a, b), what="the notes on B")
    for rel in list(notes)[:5]:
        (a.root / rel).unlink()
    wait_until(lambda: a.status()["held_deletions"]["count"] == 5, what="the deletions held on A")
    with dashboard(a, tmp_path) as web:
        web.open("deletions")
        assert "n0.md" in web.text("#page-deletions table")
        web.shot("deletions")
        web.page.click("#deletions-restore")
        web.page.wait_for_selector("#deletions-result.notice")
        assert "Put back 5 file(s)" in web.text("#deletions-result")
        assert a.files() == b.files() == {k: v.encode() for k, v in notes.items()}

        for rel in list(notes)[:4]:
            (a.root / rel).unlink()
        web.page.wait_for_selector("#deletions-apply", timeout=30_000)  # the page follows the guard live
        web.page.click("#deletions-apply")
        assert b.read("n0.md") == "note 0\n"  # the first click only asks
        web.page.click("#deletions-apply")
        web.page.wait_for_selector("#deletions-result.notice")
        wait_until(lambda: set(b.files()) == {"n4.md", "n5.md"}, what="the deletions applied on B")

        web.open("settings")
        web.page.fill("#setting-debounce", "250")
        web.page.select_option("#setting-profile", "low-power")
        web.page.click("#settings-save")
        web.page.wait_for_selector("#settings-result.notice")
        assert "250 ms" in web.text("#settings-result") and "low-power" in web.text("#settings-result")
        saved = (a.root / ".peervault" / "config.toml").read_text()
        assert (
            saved.startswith("# mine\ndelete_guard_files = 3\n")
            and 'profile = "low-power"' in saved
            and "debounce_ms = 250" in saved
        )
        web.page.click("#pause-toggle")
        wait_until(lambda: a.status()["daemon"]["paused"], what="paused from the page")
        web.page.wait_for_selector("#settings-result.notice")
        assert "paused" in web.text("#sync-state")
        web.shot("settings")
        web.page.click("#pause-toggle")
        wait_until(lambda: not a.status()["daemon"]["paused"], what="resumed from the page")


@needs_chromium
def test_a_browser_without_a_session_is_told_how_to_log_in(make_device, tmp_path):
    from playwright.sync_api import sync_playwright

    a = make_device("A")
    a.start()
    link = login_link(a)
    base = link.split("/dashboard/")[0]
    assert get(link)[0] == 303  # the link is used up by someone else first
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 400})
            answer = page.goto(link)
            assert answer is not None and answer.status == 403
            assert "already used or has expired" in page.inner_text("main")
            answer = page.goto(f"{base}/dashboard/")
            assert answer is not None and answer.status == 401
            assert "peervault dashboard VAULT" in page.inner_text("main")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "not-logged-in.png"))
            assert not page.context.cookies()
        finally:
            browser.close()


@needs_chromium
def test_the_overview_shows_a_first_import_under_way_then_the_vault(make_device, tmp_path):
    from .test_first_import_process import NOTES, _held_child, _notes, _running

    a = make_device("A")
    _notes(a.root)
    with _running(a) as proc:
        child = _held_child(proc)  # at once: it must not end before the page has looked
        try:
            wait_until(lambda: (a.runtime() or {}).get("ready"), what="the daemon ready while the import runs")
            with dashboard(a, tmp_path) as web:
                assert "First import:" in web.text("#first-import")
                web.shot("overview-importing")
                child.resume()
                wait_until(lambda: web.text("#fig-tracked") == str(NOTES + 1), timeout=120, what="the imported vault's figures")
                assert web.page.locator("#first-import").count() == 0
        finally:
            with contextlib.suppress(psutil.Error):  # (ended by now, unless the test failed before)
                child.resume()
