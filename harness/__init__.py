"""Real processes and clients shared by ``tests/`` and ``bench/`` (which never import each other)."""
