// The repository format and chunk pipeline: see docs/architecture.md.
