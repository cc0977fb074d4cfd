"""A frozen sentence encoder (mean-pooled MiniLM embeddings) with a logistic-regression head,
exported to ONNX as one graph."""
