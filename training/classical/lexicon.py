"""The lexicon estimators, defined in the core (`badbuzz.bundle.runtimes.sklearn_lexicon`)
so that the serving image unpickles them. Bundles pickled before the move name this module:
it stays, so they still load wherever training is installed."""

from badbuzz.bundle.runtimes.sklearn_lexicon import LexiconClassifier, VaderFeatures

__all__ = ["LexiconClassifier", "VaderFeatures"]
