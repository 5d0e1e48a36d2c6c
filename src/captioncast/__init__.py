"""captioncast: self-hosted live captions and live translations."""

__version__ = "0.1.0"
