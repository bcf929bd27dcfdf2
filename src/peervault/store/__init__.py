"""The only importer of sqlite3: the vault database under .peervault/."""
