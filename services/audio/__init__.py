"""Recorded audio for workers who do not read: the clip store and the sound tools."""
