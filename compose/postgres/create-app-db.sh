#!/bin/sh
# The API's store (predictions, feedback, alerts, outbox) in a database of its own beside
# MLflow's. PostgreSQL runs this once, when its data folder is empty.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE \"${BADBUZZ_APP_DB}\" OWNER \"${POSTGRES_USER}\""
