-- Schema version 9.

-- The vault index's entries (crdt/index.Entry, one row per file id), written in the same
-- transaction as each snapshot of the index (Store.save_index): a warm start reads these
-- instead of decoding the index, whose Loro document is then loaded only when needed. They
-- match the snapshot only while the index's log is empty and the meta rows
-- `index_entries_vv` (the version they were written at) and `index_snapshot_vv` (the
-- snapshot's) are equal (store/indexentries.py); otherwise the index is read whole.
CREATE TABLE index_entries (
    file_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    dvv BLOB NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL,
    stamp INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
