-- Schema version 8.

-- Notes' snapshots may now be stored zstd-compressed (prefix `pvzs`, store/db.pack_note)
-- beside the deflated (`pvz1`) and plain rows of earlier versions. No table changes: the
-- version marks the database as one an older PeerVault must not open (it would read those
-- rows as damaged notes). Store._migrate refuses a database newer than it knows.
SELECT 1;
