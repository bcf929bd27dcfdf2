"""Start PeerVault with the user's session: a systemd user unit (Linux) or a launchd agent
(macOS) that runs `peervault run` on the per-user vault list (userconfig.py).

systemd   the unit's text (pure)
launchd   the agent's plist (pure)
manager   writes, enables, starts, stops and asks about them (systemctl / launchctl)
"""
