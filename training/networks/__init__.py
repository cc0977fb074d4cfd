"""Keras networks over word vectors: Word2Vec/GloVe, dense/LSTM/BiLSTM, Optuna tuning."""
