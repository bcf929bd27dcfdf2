/**
 * The shapes of the daemon's answers that the plugin reads (src/peervault/service/*.py;
 * openapi.json leaves bodies untyped). Only the fields used here are listed.
 */

export interface PeerRow {
  id: string;
  addrs: string[];
  paired: boolean;
  connected: boolean;
  state: string | null;
  last_seen: number | null;
  removed_this_device: boolean;
}

export interface Status {
  vault: string;
  device_id: string;
  /** Not served by the daemon yet; the plugin falls back to the computer's name. */
  device_name?: string;
  vault_id: string;
  daemon: {
    running: boolean;
    pid: number | null;
    addrs: string[];
    paused: boolean;
    /** The start-up comparison of folder and database (a first import included) has ended. */
    scan_done?: boolean;
    /** While a new vault's first import runs in a process of its own; only /status and /peers answer then. */
    first_import?: FirstImport | null;
  };
  peers: PeerRow[];
  removed: { by: string; peers: string[] } | null;
  files: { tracked: number; in_index: number; deleted: number; not_yet_published: number; ignored: number };
  pending_changes: number;
  binary_transfers: { wanted: number; fetching: number; bytes_received: number };
  not_synced: { path: string; reason: string }[];
  held_deletions: { count: number; reason: string | null; paths: string[] };
  metrics: { sync_error_count?: number; [name: string]: unknown };
}

/** Files looked at so far, of those the first import looks at (0 while it walks the folder). */
export interface FirstImport {
  files_done: number;
  files_total: number;
}

export type FileState = "synced" | "unpublished" | "not_synced" | "held";

export interface FileRow {
  path: string;
  file_id: string | null;
  size: number | null;
  state: FileState;
  reason: string | null;
}

export interface FilesPage {
  total: number;
  offset: number;
  files: FileRow[];
  ignored: number;
}

export interface HistoryEntry {
  version: number;
  at: number;
  /** "local" for this device, else the device id that made it. */
  device: string;
  size: number | null;
  change: string | null;
}

export interface VersionText extends HistoryEntry {
  /** null for a binary file, whose `blob` hash is given instead. */
  text: string | null;
  blob: string | null;
}

export interface RestoreResult {
  path: string;
  version: number;
  at: number;
  device: string;
}

export interface DeletedRow {
  path: string;
  kind: string;
  last_version_at: number | null;
  file_id: string;
}

export interface HeldDeletion {
  file_id: string;
  path: string;
  held_at: number;
  reason: string;
}

export interface DeletionsResult {
  action: "apply" | "restore";
  held: number;
  done: number;
}

export interface Invite {
  ticket: string;
  expires_at: number;
}

export interface JoinResult {
  device: string;
  restarting: boolean;
}

/** The prefix the daemon gives the reason of a peer's note it could not write to this disk. */
export const NOT_HERE = "cannot be written here: ";
