"""``python -m tuning <app> [tune] --dir DIR ...``: the ``tune`` verb of any application."""

import importlib
import pkgutil
import sys

import applications  # noqa: F401 - keeps TensorFlow's start-up lines off stderr
from applications.core.cli import AppCommands, main


def application_names():
    """Every ``applications/<name>/`` package with a ``commands`` module."""
    return sorted(info.name for info in pkgutil.iter_modules(applications.__path__)
                  if info.ispkg and importlib.util.find_spec(
                      f"applications.{info.name}.commands") is not None)


def find_commands(name):
    """The ``AppCommands`` of ``applications/<name>/commands.py``, or None."""
    if name not in application_names():
        return None
    module = importlib.import_module(f"applications.{name}.commands")
    for value in vars(module).values():
        if (isinstance(value, type) and issubclass(value, AppCommands)
                and value is not AppCommands and value.name == name):
            return value()
    return None


def run(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m tuning APPLICATION [tune] --dir DIR [options]\n"
              f"applications: {', '.join(application_names())}\n"
              "options: python -m tuning APPLICATION --help")
        return 0 if argv else 2
    commands = find_commands(argv[0])
    if commands is None:
        print(f"error: unknown application {argv[0]!r}; known: "
              f"{', '.join(application_names())}", file=sys.stderr)
        return 2
    rest = argv[1:]
    if rest[:1] == ["tune"]:
        rest = rest[1:]
    return main(commands, ["tune", *rest])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
