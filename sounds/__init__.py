"""Audio assets (made by make_sounds.py in this folder, no third-party recordings)."""
