# The serving image: the API with LiteRT/onnxruntime/scikit-learn, no TensorFlow, torch,
# gensim or transformers. Build from the repo root:
#   docker build -f compose/api.Dockerfile -t badbuzz-api .
# compose/api-bundled.Dockerfile adds a model to it for the Cloud Run mirror.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY badbuzz badbuzz
COPY training training
COPY api api
RUN pip install --no-cache-dir ".[api]" && useradd --create-home badbuzz
ENV BADBUZZ_HOME=/data \
    PORT=8000 \
    PYTHONUNBUFFERED=1
RUN mkdir -p /data && chown badbuzz /data
USER badbuzz
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health/live')"
CMD ["badbuzz", "serve", "--host", "0.0.0.0"]
