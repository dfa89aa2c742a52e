"""One package per remote system; each speaks only its own system's terms.

Connectors know nothing of mappings or the store: they read, write and detect changes, and
hand back plain dicts, :mod:`bridgeline.model` values and typed errors.
"""
