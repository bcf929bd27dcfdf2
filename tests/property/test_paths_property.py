"""Property tests for the remote path rules."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from peervault.errors import UnsafePath
from peervault.vault.paths import check_remote_path

SETTINGS = settings(max_examples=200, deadline=None)

# Names that are safe on their own: printable, no '/', '\\', not '.' / '..'.
safe_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\")
names = st.text(safe_chars, min_size=1, max_size=20).filter(lambda s: s not in (".", ".."))
safe_paths = (
    st.lists(names, min_size=1, max_size=6)
    .map("/".join)
    .filter(lambda p: p.split("/")[0] != ".peervault" and ".git" not in p.split("/")[:-1])
)


@SETTINGS
@given(safe_paths)
def test_safe_paths_are_accepted_unchanged(path: str) -> None:
    assert check_remote_path(path) == path


@SETTINGS
@given(st.text(max_size=60))
def test_accepted_paths_stay_inside_the_vault(path: str) -> None:
    try:
        check_remote_path(path)
    except UnsafePath:
        return
    root = Path("/vault")
    parts = path.split("/")
    assert ".." not in parts and "." not in parts and "" not in parts
    assert not path.startswith("/")
    assert "\\" not in path
    assert all(ord(c) >= 32 and ord(c) != 127 for c in path)
    assert parts[0] != ".peervault"
    resolved = root.joinpath(*parts)
    assert root in resolved.parents


@SETTINGS
@given(safe_paths, st.sampled_from(["..", ".", ""]), st.integers(0, 6))
def test_inserting_a_dot_component_is_refused(path: str, bad: str, at: int) -> None:
    parts = path.split("/")
    parts.insert(min(at, len(parts)), bad)
    try:
        check_remote_path("/".join(parts))
    except UnsafePath:
        return
    raise AssertionError(f"{'/'.join(parts)!r} accepted")


@SETTINGS
@given(safe_paths, st.integers(0, 31) | st.just(127), st.data())
def test_any_control_character_is_refused(path: str, code: int, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(path)))
    bad = path[:i] + chr(code) + path[i:]
    try:
        check_remote_path(bad)
    except UnsafePath:
        return
    raise AssertionError(f"{bad!r} accepted")
