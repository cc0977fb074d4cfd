"""One module per runtime a manifest names: `load(directory, manifest, options)` returns a
scorer. Loaders only (writing bundles is training's, `training.export`), and the classes a
loader's model refers to that no library holds (`sklearn_lexicon`)."""
