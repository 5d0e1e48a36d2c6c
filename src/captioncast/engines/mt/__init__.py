"""captioncast.engines.mt: machine translation engines."""
