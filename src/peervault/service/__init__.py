"""The vault service: one implementation of every operation, for the control API and the CLI.

Kept free of imports so that the CLI's client can read the operations table
(`service.operations`) without loading the engine.
"""
