"""The capability centre's serving core: runtimes, resident models, version routing."""
