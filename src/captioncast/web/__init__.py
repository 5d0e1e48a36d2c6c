"""captioncast.web."""
