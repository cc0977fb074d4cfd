"""MLflow runs: experiments, the shared evaluate-log-register step, the pyfunc wrapper."""
