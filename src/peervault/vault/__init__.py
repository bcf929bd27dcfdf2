"""The folder on disk: path rules, scanning, atomic writes and the watcher."""
