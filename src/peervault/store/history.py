"""The version history's rows: each note's versions (their frontiers in its Loro document)
and each binary file's replaced versions, kept until retention lets them go
(service/history.py reads them). Part of `Store`, on its connection."""

from __future__ import annotations

import sqlite3


class VersionHistory:
    db: sqlite3.Connection

    def add_versions(
        self, rows: list[tuple[str, float, bytes, str, str]], merge: frozenset[str] = frozenset(), merge_within_s: float = 0.0
    ) -> None:
        """(file_id, at, frontiers, origin, path) for each note that changed. For the notes in
        `merge`, a change within `merge_within_s` of the file's newest version by the same
        origin at the same path moves that version forward instead of adding one: keystrokes
        from a live editor are one version per pause, not one per key."""
        for file_id, at, frontiers, origin, path in rows:
            if file_id in merge:
                newest = self.db.execute(
                    "SELECT rowid, at, origin, path FROM versions WHERE file_id=? ORDER BY at DESC LIMIT 1", (file_id,)
                ).fetchone()
                if newest is not None and newest[2] == origin and newest[3] == path and at - float(newest[1]) < merge_within_s:
                    self.db.execute("UPDATE versions SET at=?, frontiers=? WHERE rowid=?", (at, frontiers, newest[0]))
                    continue
            self.db.execute(
                "INSERT INTO versions (file_id, at, frontiers, origin, path) VALUES (?, ?, ?, ?, ?)",
                (file_id, at, frontiers, origin, path),
            )

    def versions(self, file_id: str) -> list[tuple[float, bytes, str, str]]:
        """(at, frontiers, origin, path), oldest first."""
        rows = self.db.execute("SELECT at, frontiers, origin, path FROM versions WHERE file_id=? ORDER BY at", (file_id,))
        return [(float(a), bytes(f), str(o), str(p)) for a, f, o, p in rows]

    def prune_history(self, keep: int, keep_s: float, now: float) -> int:
        """Forget versions beyond retention: older than `keep_s` AND not among a file's newest
        `keep` (whichever keeps more). Returns the number of versions forgotten."""
        n = 0
        for table, key in (("versions", "at"), ("blob_versions", "seen_at")):
            cur = self.db.execute(
                f"DELETE FROM {table} WHERE {key} < ? AND rowid NOT IN ("
                f"SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER (PARTITION BY file_id ORDER BY {key} DESC) AS r "
                f"FROM {table}) WHERE r <= ?)",
                (now - keep_s, keep),
            )
            n += cur.rowcount
        return n

    def kept_blobs(self) -> set[str]:
        return {str(b) for (b,) in self.db.execute("SELECT DISTINCT blob FROM blob_versions")}

    def add_blob_version(self, file_id: str, blob: str, size: int, path: str, origin: str, at: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO blob_versions (file_id, blob, size, path, seen_at, origin) VALUES (?, ?, ?, ?, ?, ?)",
            (file_id, blob, size, path, at, origin),
        )

    def blob_versions(self, file_id: str) -> list[tuple[str, int, str, float, str]]:
        """(blob, size, path, seen_at, origin), oldest first."""
        rows = self.db.execute(
            "SELECT blob, size, path, seen_at, origin FROM blob_versions WHERE file_id=? ORDER BY seen_at", (file_id,)
        )
        return [(str(b), int(n), str(p), float(t), str(o)) for b, n, p, t, o in rows]

    def file_ids_at(self, path: str) -> list[str]:
        """Files whose history records them at `path` (before they were deleted or moved)."""
        rows = self.db.execute(
            "SELECT file_id FROM versions WHERE path=? UNION SELECT file_id FROM blob_versions WHERE path=?", (path, path)
        )
        return sorted(str(f) for (f,) in rows)
