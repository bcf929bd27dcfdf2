"""Command-line interface: commands, one error-to-exit-code dispatcher, rich output."""
