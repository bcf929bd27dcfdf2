-- Local deletions the mass-deletion guard held back (sync/deleteguard.py): the files are
-- gone from this folder, the vault index still lists them as live, and every other device
-- keeps them until the person runs `peervault deletions apply` (publish) or `restore`.
CREATE TABLE held_deletions (
    file_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    held_at REAL NOT NULL,
    reason TEXT NOT NULL
) STRICT;
