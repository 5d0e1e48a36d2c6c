"""captioncast.auth."""
