# The serving image with its model baked in (Cloud Run mirror, offline box): no registry.
#   badbuzz export --model-uri models:/tweet-sentiment@champion --out bundle.tar.gz
#   docker build -f compose/api-bundled.Dockerfile --build-arg BASE=badbuzz-api -t badbuzz-api-bundled .
ARG BASE=badbuzz-api
FROM ${BASE}
COPY --chown=badbuzz bundle.tar.gz /app/model/bundle.tar.gz
ENV BADBUZZ_MODEL_BUNDLE=/app/model/bundle.tar.gz \
    BADBUZZ_RELOAD_INTERVAL_S=0
