"""badbuzz: tweet-sentiment MLOps for an airline. This package is the core that training and
serving share: the bundle contract, text normalisation, settings, the registry, the CLI."""
