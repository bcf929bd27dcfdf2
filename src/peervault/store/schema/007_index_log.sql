-- Schema version 7.

-- The vault index's changes since its snapshot (meta `index_snapshot`), in order: a batch
-- that changes the index appends its Loro updates here instead of writing the whole
-- snapshot again (which costs the size of the vault in every batch). The index is the
-- snapshot with these imported on top; the engine folds them into a new snapshot (and
-- empties this table) once they add up to about its size.
CREATE TABLE index_log (
    seq INTEGER PRIMARY KEY,
    updates BLOB NOT NULL
) STRICT;
