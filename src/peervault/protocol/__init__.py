"""Sans-I/O wire protocol: frame codec, messages and the session state machine."""
