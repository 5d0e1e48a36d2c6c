"""captioncast.pipeline."""
