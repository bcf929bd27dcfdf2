-- Every version of a binary file this device has seen (made here or received), newest last:
-- what history lists and restore brings back; the blobs they name are kept by gc.
CREATE TABLE blob_versions (
    file_id TEXT NOT NULL,
    blob TEXT NOT NULL,          -- blake3 hex digest; the content is in .peervault/blobs/
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    seen_at REAL NOT NULL,
    origin TEXT NOT NULL,        -- 'local' or 'peer'
    PRIMARY KEY (file_id, blob)
);
