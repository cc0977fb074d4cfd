# The console image: the shared core, the CLI (`badbuzz console`) and the Streamlit console,
# with the `ui` extra only (no model, no API code: the console talks to the API over HTTP).
# Build from the repo root:
#   docker build -f compose/ui.Dockerfile -t badbuzz-ui .
# Behind a reverse proxy, pass the WebSocket at /_stcore/stream through (see README).
# tests/install/ builds a venv from exactly these COPY lines and this extra, and serves with it.
FROM python:3.11-slim
ARG EXTRA=ui
WORKDIR /app
COPY pyproject.toml README.md ./
COPY badbuzz badbuzz
COPY cli cli
COPY ui ui
RUN pip install --no-cache-dir ".[${EXTRA}]" && useradd --create-home badbuzz
ENV BADBUZZ_HOME=/tmp/badbuzz \
    PORT=8501 \
    PYTHONUNBUFFERED=1
USER badbuzz
EXPOSE 8501
HEALTHCHECK CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/_stcore/health')"
CMD ["sh", "-c", "exec badbuzz console --host 0.0.0.0 --port \"$PORT\""]
