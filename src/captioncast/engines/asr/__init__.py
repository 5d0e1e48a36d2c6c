"""captioncast.engines.asr."""
