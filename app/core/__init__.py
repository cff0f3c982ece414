"""The small core under every layer: paths, errors, atomic file writes and checksums, shipped weights.

Nothing here imports torch at module level, Qt, or any other package of the app."""
