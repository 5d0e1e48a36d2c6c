"""captioncast.ingest.rtmp."""
