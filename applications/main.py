"""The command line's entry point: ``encore <app> <verb>``, ``python -m applications <app>
<verb>`` and ``python -m applications.<app> <verb>`` all start here.

Kept short on purpose. It sets the process up (:func:`~applications.core.runtime.
configure_process`, before anything imports TensorFlow), finds the application among the
package's folders (:mod:`applications.core.registry`), and hands its commands to the shared
command line (:mod:`applications.core.cli`) together with the verbs that packages above the
core add: the tuner's ``tune`` (:mod:`tuning.verb`). The core never imports the tuner.
"""

import importlib
import sys

from applications.core.registry import application_names
from applications.core.runtime import configure_process

PROG = "encore"


def added_verbs():
    """The verbs every application gets beyond the shared four: the tuner's ``tune``."""
    from tuning.verb import TUNE

    return [TUNE]


def find_commands(name):
    """The :class:`~applications.core.cli.AppCommands` of ``applications/<name>/``.

    Returns None when no application has that name.
    """
    from applications.core.cli import AppCommands

    if name not in application_names():
        return None
    module = importlib.import_module(f"applications.{name}.commands")
    for value in vars(module).values():
        if (isinstance(value, type) and issubclass(value, AppCommands)
                and value is not AppCommands and value.name == name):
            return value()
    raise TypeError(f"applications/{name}/commands.py defines no AppCommands subclass "
                    f"with name = {name!r}")


def run_commands(commands, argv=None, prog=None):
    """Run one command of ``commands`` with every verb; returns the exit code."""
    from applications.core.cli import main as cli_main

    return cli_main(commands, argv, added_verbs(), prog)


def run_application(name, argv=None, prog=None):
    """``python -m applications.<name> ARGV``: set up the process and run one command.

    Args:
        name: the application's folder name, e.g. ``"pos_tagger"``.
        argv: the verb and its flags (default ``sys.argv[1:]``).
        prog: the command's name in usage lines.

    Returns:
        The process exit code (2 for an unknown application).
    """
    if name not in application_names():
        return _unknown(name)
    configure_process()
    return run_commands(find_commands(name), argv, prog)


def verbs_of(commands):
    """Every verb ``commands``' command line accepts, in ``--help`` order."""
    from applications.core.cli import SHARED_VERBS

    return [*SHARED_VERBS, *(v.name for v in added_verbs()), *commands.extra_verbs()]


def overview(prog=PROG):
    """The ``--help`` text: usage, then each application with its verbs and one line on it."""
    lines = [f"usage: {prog} APPLICATION VERB [options]", "",
             "applications and their verbs:"]
    for name in application_names():
        doc = (importlib.import_module(f"applications.{name}").__doc__ or "").strip()
        lines.append(f"  {name:<17} {' '.join(verbs_of(find_commands(name)))}")
        if doc:
            lines.append(f"  {'':<17} {doc.splitlines()[0].split(': ')[0].rstrip('.')}")
    lines += ["", f"'{prog} APPLICATION --help' lists an application's verbs,",
              f"'{prog} APPLICATION VERB --help' a verb's options."]
    return "\n".join(lines)


def main(argv=None, prog=PROG):
    """The ``encore`` command: ``encore APPLICATION VERB [options]``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if argv and argv[0] not in ("-h", "--help") and argv[0] not in application_names():
        return _unknown(argv[0])  # before TensorFlow is imported: an instant answer
    configure_process()
    if not argv or argv[0] in ("-h", "--help"):
        print(overview(prog), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    return run_commands(find_commands(argv[0]), argv[1:], f"{prog} {argv[0]}")


def _unknown(name):
    print(f"error: unknown application {name!r}; known: {', '.join(application_names())}",
          file=sys.stderr)
    return 2
