"""`app-operator convert`: docker run flags and compose files to Apps. No cluster needed."""
