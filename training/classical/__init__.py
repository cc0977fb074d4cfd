"""Classical and lexicon models: scikit-learn pipelines, their search spaces and CV search."""
