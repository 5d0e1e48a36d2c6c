"""captioncast.engines.vad."""
