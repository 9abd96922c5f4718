"""sp404's API backend."""
