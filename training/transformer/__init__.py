"""Fine-tuned transformer classifiers (PyTorch), exported to ONNX."""
