#!/bin/sh
# The API's store (predictions, feedback, alerts, outbox) in a database of its own beside
# MLflow's, owned by a role of its own (BADBUZZ_APP_DB_USER): the API cannot read or change
# MLflow's database, and holds no superuser password. PostgreSQL runs this once, when its data
# folder is empty; on a stack made before the role existed, run it once by hand (README):
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/create-app-db.sh
# Every step can run again: an existing role gets the current password, an existing database
# and its tables are handed to the role.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_db="$BADBUZZ_APP_DB" -v app_user="$BADBUZZ_APP_DB_USER" \
  -v app_password="$BADBUZZ_APP_DB_PASSWORD" -v mlflow_db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
ALTER DATABASE :"app_db" OWNER TO :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;
REVOKE ALL ON DATABASE :"mlflow_db" FROM PUBLIC;
\connect :"app_db"
SELECT format('ALTER TABLE %I.%I OWNER TO %I', schemaname, tablename, :'app_user')
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'app_user' \gexec
SQL
