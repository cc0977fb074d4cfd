"""From a trained model to a bundle: each family's exporter, parity check and writer."""
