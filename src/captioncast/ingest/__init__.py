"""captioncast.ingest."""
