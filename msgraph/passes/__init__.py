"""Graph -> Graph passes, one per module. Each keeps every value a user may ask for."""
