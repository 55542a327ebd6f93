"""The caller on the hub Pi: the office's queue, the announcements and the board state."""
