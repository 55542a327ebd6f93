"""The waiting-room board on the TV, and the small screen above a counter."""
