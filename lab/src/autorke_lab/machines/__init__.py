"""Lab machines: many real OpenSSH servers on one host, each looking like its own machine.

(Placeholder docstring; the full description follows below once the module settles.)
"""
