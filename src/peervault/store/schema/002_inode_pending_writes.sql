-- Schema version 2.

-- Remember each file's inode too. Size + mtime alone miss a swap of two same-size
-- files (a rename keeps the mtime, and coarse timestamps can be equal).
ALTER TABLE files ADD COLUMN ino INTEGER NOT NULL DEFAULT 0;

-- Notes whose merged text is committed here but not yet confirmed on disk. Filled in
-- the same transaction that commits remote updates, emptied once the files are
-- written, and replayed at start-up: a crash in between never leaves the disk stale.
CREATE TABLE pending_writes (
  file_id TEXT PRIMARY KEY
) STRICT;
