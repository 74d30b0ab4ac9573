"""``python -m tuning APPLICATION [tune] --dir DIR ...``: the ``tune`` verb of any application,
as ``encore APPLICATION tune`` runs it."""

import sys

from applications.core.registry import application_names
from applications.main import run_application


def run(argv):
    """Run ``tune`` for the application named first in ``argv``; returns the exit code."""
    argv = [str(a) for a in argv]
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m tuning APPLICATION [tune] --dir DIR [options]\n"
              f"applications: {', '.join(application_names())}\n"
              "options: python -m tuning APPLICATION --help",
              file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if rest[:1] == ["tune"]:
        rest = rest[1:]
    return run_application(name, ["tune", *rest], prog=f"python -m tuning {name}")


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
