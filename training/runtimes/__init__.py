"""One module per serving runtime named in a bundle manifest: `load(directory, manifest)`
returns a scorer, and training-side writers build that runtime's bundle."""
