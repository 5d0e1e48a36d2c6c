"""captioncast.core."""
