"""MLflow's read-only user, for the API: created once MLflow is up (compose's `mlflow-reader`
service, as the admin: MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD), its password set
again at every start, so changing it in compose/.env is enough. A user who is not an admin
reads everything and cannot change what others made (`default_permission = READ`,
basic_auth.ini; MLflow still lets any user create experiments and models of its own): the API
resolves the champion and downloads its bundle, and a leaked API secret cannot promote,
overwrite or delete the owner's models."""

from __future__ import annotations

import os
import sys

from mlflow.exceptions import RestException
from mlflow.server import get_app_client


def main() -> int:
    username = os.environ["MLFLOW_READER_USER"]
    password = os.environ["MLFLOW_READER_PASSWORD"]
    client = get_app_client("basic-auth", tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    try:
        client.create_user(username, password)
    except RestException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    else:
        sys.stdout.write(f"created the read-only MLflow user {username!r}\n")
        return 0
    if client.get_user(username).is_admin:
        sys.stderr.write(f"{username!r} is an MLflow admin: choose another MLFLOW_READER_USER\n")
        return 1
    client.update_user_password(username, password)
    sys.stdout.write(f"the read-only MLflow user {username!r} exists: password set again\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
