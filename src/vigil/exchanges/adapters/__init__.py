"""Exchange adapters: how each exchange's records become list entries."""
