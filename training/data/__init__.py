"""Sentiment140 in: reading the files, finding them, sampling and splitting, describing them."""
