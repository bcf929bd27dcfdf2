-- Versions of text notes as this device saw them (a local save, or updates from a peer):
-- the note's Loro frontiers at that moment, so `history` can show and `restore` bring back
-- the text as it was (Loro's checkout). Pruned by `gc` to the retention policy.
CREATE TABLE versions (
    file_id TEXT NOT NULL,
    at REAL NOT NULL,
    frontiers BLOB NOT NULL,
    origin TEXT NOT NULL,          -- 'local' or the peer's endpoint id
    path TEXT NOT NULL
);
CREATE INDEX versions_by_file ON versions (file_id, at);
