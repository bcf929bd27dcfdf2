-- Schema version 2.

-- Remember each file's inode and ctime too. Size + mtime alone miss a swap of two
-- same-size files (a rename keeps the mtime, and coarse timestamps can be equal) and
-- an edit whose mtime was put back (cp -p, rsync -t, tar); the ctime cannot be set.
ALTER TABLE files ADD COLUMN ino INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;

-- Notes whose merged text is committed here but not yet confirmed on disk. Filled in
-- the same transaction that commits remote updates, emptied once the files are
-- written, and replayed at start-up: a crash in between never leaves the disk stale.
CREATE TABLE pending_writes (
  file_id TEXT PRIMARY KEY
) STRICT;
