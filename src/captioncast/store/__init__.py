"""captioncast.store."""
