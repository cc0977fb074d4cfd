"""Models on a Hugging Face checkpoint: what all of them share (`checkpoint`, the frozen
encoder uses it too) and the fine-tuned transformer classifiers (PyTorch), exported to ONNX
(`fine_tuning`)."""
