"""The sync engine: sessions pumped over connections, debounce, priorities, writeback.

engine.py is the façade over EngineState (enginestate.py) and the modules of
functions beside it; links.py runs a session on a stream, blobs.py moves blobs.

(This file makes sync/ a regular package: without it setuptools' find_packages
leaves sync/ out of a wheel, and import-linter cannot see it.)
"""
