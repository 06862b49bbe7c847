"""bandgen: coding and regeneration of the high band of audio."""
