"""The ensemble family: the mean of the encoder head and TF-IDF + VADER + logistic regression."""
