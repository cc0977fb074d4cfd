"""`badbuzz doctor`'s checks, one plain function each: can this machine serve, and if not,
what to do. Each returns a `CheckResult`; none raises for what it checks, none waits longer
than its timeout, and none imports a heavy library until it runs (the doctor runs in the
slim serving image too).

The command (`cli.doctor`) runs them, side by side, and adds the mail check, which
reuses `ops.mailer`: the core imports no part.
"""

from badbuzz.doctor.result import CheckResult, Status

__all__ = ["CheckResult", "Status"]
