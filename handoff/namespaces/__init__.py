"""Socket.IO namespaces: one class per namespace."""
