"""Entry points: flag parsing and orchestration only (`python -m launch.<name>`)."""
