"""Training: Sentiment140 in, evaluated and registered model bundles out."""
