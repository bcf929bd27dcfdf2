-- Schema version 6.

-- The device (file system) of each file beside its inode: renames made while no daemon ran
-- are paired by (device, inode) (sync/renames.py), and inode numbers are only unique within
-- one file system (a vault may hold a mount point). 0: recorded before this version.
ALTER TABLE files ADD COLUMN dev INTEGER NOT NULL DEFAULT 0;
