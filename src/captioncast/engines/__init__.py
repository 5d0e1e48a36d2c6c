"""captioncast.engines."""
