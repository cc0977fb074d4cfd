"""The model bundle: manifest, archive, vocabulary and the runtime loaders that score it."""
