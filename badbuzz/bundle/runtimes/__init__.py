"""One module per runtime a manifest names: `load(directory, manifest, options)` returns a
scorer. Loaders only: writing bundles is training's (`training.export`)."""
