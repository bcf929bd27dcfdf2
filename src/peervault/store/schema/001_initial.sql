-- PeerVault vault database, schema version 1.
-- One file per vault: VAULT/.peervault/state.db, WAL mode.

-- Small key/value facts: vault id, published flag, listen port, the index snapshot.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY
) STRICT;

-- One Loro document per text file, as a snapshot (state + history).
-- `published` = 0 for notes imported before this device first synced with a
-- peer: they are reconciled with the peer's copy before being announced.
CREATE TABLE docs (
  doc_id    TEXT PRIMARY KEY,
  snapshot  BLOB NOT NULL,
  vv        BLOB NOT NULL,
  published INTEGER NOT NULL DEFAULT 1
) STRICT;

-- What this device last read from or wrote to disk for each file: the basis of
-- echo suppression and of "did the user change it since?" checks.
CREATE TABLE files (
  file_id  TEXT PRIMARY KEY,
  path     TEXT NOT NULL UNIQUE,
  size     INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  hash     BLOB NOT NULL,
  base     BLOB NOT NULL  -- encoded Loro frontiers of the note version the disk content equals
) STRICT;

-- Paired devices. pair_secret is kept by a joiner until the inviter confirms.
CREATE TABLE peers (
  endpoint_id TEXT PRIMARY KEY,
  addrs       TEXT NOT NULL DEFAULT '[]',
  pair_secret BLOB,
  added_at    REAL NOT NULL,
  last_seen   REAL
) STRICT;

-- One-time pairing secrets handed out in tickets.
CREATE TABLE invites (
  secret     BLOB PRIMARY KEY,
  expires_at REAL NOT NULL,
  used_by    TEXT
) STRICT;

-- Files left alone for now (not UTF-8 text), listed by `status`.
CREATE TABLE unsynced (
  path   TEXT PRIMARY KEY,
  reason TEXT NOT NULL
) STRICT;
