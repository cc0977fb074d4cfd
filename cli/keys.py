"""`badbuzz keys`: the Ed25519 key pair that signs bundles (training) and checks them (the API)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.tables import console

app = typer.Typer(help="The key pair that signs bundles (training) and checks them (the API).")


@app.command("create")
def create(
    out: Annotated[
        Path | None,
        typer.Option(help="Folder of the two key files; default: BADBUZZ_HOME/keys."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(help="Replace existing keys (bundles signed with the old key stop loading)."),
    ] = False,
) -> None:
    """Create signing-key.pem (private: the training side only) and verify-key.pem (public:
    the API)."""
    from badbuzz.bundle.signing import create_key_pair
    from badbuzz.settings import BadbuzzSettings

    directory = out.expanduser().resolve() if out else BadbuzzSettings().home / "keys"
    private, public = create_key_pair(directory, overwrite=force)
    console.print(
        f"private key: {private} (readable by you only; keep it on the training side)\n"
        f"public key:  {public} (give it to the API)\n\n"
        f"training:  BADBUZZ_SIGNING_KEY={private}\n"
        f"API:       BADBUZZ_VERIFY_KEY={public}\n"
        f"compose:   BADBUZZ_VERIFY_KEY_FILE={public} in compose/.env",
        highlight=False,
        soft_wrap=True,
    )
