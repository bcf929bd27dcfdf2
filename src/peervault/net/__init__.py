"""The only importer of iroh: endpoint set-up, the write-path patch and framed streams."""
