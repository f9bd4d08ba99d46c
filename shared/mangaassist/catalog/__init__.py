"""The store's own data: the catalog and policies the answers rest on, and the indexed documents."""
