# The serving image: the shared core, the CLI (`badbuzz serve`), the API and ops, with one
# install extra:
#   api         every bundle kind (LiteRT, scikit-learn, onnxruntime); the default
#   api-tflite  TFLite bundles only: the light image for the N100 NAS
# No training code, TensorFlow, torch, pandas or transformers. Build from the repo root:
#   docker build -f compose/api.Dockerfile -t badbuzz-api .
#   docker build -f compose/api.Dockerfile --build-arg EXTRA=api-tflite -t badbuzz-api-tflite .
# compose/api-bundled.Dockerfile adds a model to it for the Cloud Run mirror.
# tests/install/ builds a venv from exactly these COPY lines and this extra, and serves with it.
FROM python:3.11-slim
ARG EXTRA=api
WORKDIR /app
COPY pyproject.toml README.md ./
COPY badbuzz badbuzz
COPY cli cli
COPY api api
COPY ops ops
RUN pip install --no-cache-dir ".[${EXTRA}]" && useradd --create-home badbuzz
# production: the API refuses to start without a real BADBUZZ_API_KEY (16+ characters), so
# that /feedback, /admin/* and the stored predictions are never open; -e
# BADBUZZ_ENVIRONMENT=development to try the image without one.
ENV BADBUZZ_HOME=/data \
    BADBUZZ_ENVIRONMENT=production \
    PORT=8000 \
    PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown badbuzz /data
USER badbuzz
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/live')"
CMD ["badbuzz", "serve", "--host", "0.0.0.0"]
