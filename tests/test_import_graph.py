"""The package's import graph, read from the source with ``ast``: no cycles, arrows one way.

Every import statement counts, at the top of a module or inside a function, a class or an
``if`` block: an import deferred into a function still ties the two modules together. An
application's modules may import from ``data/``, ``encoders/`` and ``applications/core/``;
the core imports no application and not the tuner; ``data/`` and ``encoders/`` import
neither; an application never imports a sibling application. Importing any module of the
package changes nothing in the process (environment, file descriptors, allocator).
"""

import ast
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("applications", "data", "encoders", "tuning")


def module_files():
    """``{module name: path}`` of every ``.py`` file in :data:`PACKAGES`."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(module, path, modules):
    """Every module of ``modules`` that an import statement in ``path`` names.

    ``import X.Y`` names ``X.Y``; ``from X import Y`` names ``X.Y`` where that is a module
    and ``X`` otherwise (Y is then a name defined in X). Relative imports are resolved
    against ``module``. The parent packages Python runs on the way are not counted.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                if path.name != "__init__.py":
                    anchor = anchor[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                names.append(submodule if submodule in modules else base)
    return {name for name in names if name in modules and name != module}


def import_graph():
    """``{module: set of modules of PACKAGES it imports}``."""
    files = module_files()
    return {module: imported_modules(module, path, files) for module, path in files.items()}


def find_cycles(graph):
    """One cycle (a list of modules, first repeated last) per strongly connected group."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups]


def _cycle_in(graph, group):
    """A shortest cycle through the alphabetically first module of ``group``."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


GRAPH = import_graph()


def application_of(module):
    """``pos_tagger`` for ``applications.pos_tagger.model``; None outside an application."""
    parts = module.split(".")
    if parts[0] == "applications" and len(parts) > 2 and parts[1] != "core":
        return parts[1]
    if parts[0] == "applications" and len(parts) == 2 and (REPO / "applications" /
                                                           parts[1]).is_dir():
        return None if parts[1] == "core" else parts[1]
    return None


def edges(where, to):
    """Every ``(importer, imported)`` pair with ``where(importer)`` and ``to(imported)``."""
    return sorted((a, b) for a, targets in GRAPH.items() if where(a)
                  for b in targets if to(b))


def test_walker_sees_top_level_function_and_relative_imports(tmp_path):
    """The walker finds edges of every kind, so the checks below cannot pass vacuously."""
    assert "applications.core.config" in GRAPH["applications.core.cli"]  # top level
    assert "applications.core.base" in GRAPH["applications.core.cli"]  # inside run_evaluate
    assert "tuning.spaces" in GRAPH["tuning.hypermodel"]
    assert "encoders.rnn_encoder" in GRAPH["encoders"]
    assert len(GRAPH) > 80 and sum(map(len, GRAPH.values())) > 200
    probe = tmp_path / "m.py"
    probe.write_text("from . import b, name\nfrom .c import d\n"
                     "def f():\n    import x.y\n    from pkg import sub\n")
    known = {"pkg", "pkg.sub", "pkg.sub.m", "pkg.sub.b", "pkg.sub.c", "x.y"}
    assert imported_modules("pkg.sub.m", probe, known) == {"pkg.sub", "pkg.sub.b",
                                                           "pkg.sub.c", "x.y"}
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle():
    cycles = find_cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_data_and_encoders_import_no_application_and_not_the_tuner():
    lower = ("data", "encoders")
    assert edges(lambda a: a.split(".")[0] in lower,
                 lambda b: b.split(".")[0] in ("applications", "tuning")) == []


def test_core_imports_no_application_and_not_the_tuner():
    core = lambda name: name == "applications.core" or name.startswith("applications.core.")
    assert edges(core, lambda b: application_of(b) is not None or b == "applications" or
                 b.split(".")[0] == "tuning") == []


def test_no_application_imports_a_sibling():
    crossing = edges(lambda a: application_of(a) is not None,
                     lambda b: application_of(b) is not None)
    assert [(a, b) for a, b in crossing if application_of(a) != application_of(b)] == []


# Imports the package and every module of it (the __main__ scripts run commands, so not
# those) in a fresh interpreter and reports what the imports changed in the process; then
# calls configure_process() and reports again. TensorFlow sets a few variables of its own
# when imported (TF2_BEHAVIOR, ...); an audit hook tells which code wrote each variable, so
# only writes from this repository's files count.
SIDE_EFFECTS_SCRIPT = r"""
import importlib, json, os, sys

def fd2():
    status = os.fstat(2)
    return [status.st_dev, status.st_ino, os.readlink("/proc/self/fd/2")]

REPO = os.getcwd() + os.sep
written = []

def audit(event, args):
    if event not in ("os.putenv", "os.unsetenv"):
        return
    frame = sys._getframe(1)
    while frame and frame.f_globals.get("__name__") in ("os", "_collections_abc"):
        frame = frame.f_back
    if frame and frame.f_code.co_filename.startswith(REPO):
        key = args[0]
        written.append(key.decode() if isinstance(key, bytes) else key)

sys.addaudithook(audit)
stderr = fd2()
redirected = []
real_dup2 = os.dup2

def dup2(fd, fd2, *args, **kwargs):
    redirected.append(fd2)
    return real_dup2(fd, fd2, *args, **kwargs)

def report():
    from applications.core import memory

    return {
        "tensorflow_imported": "tensorflow" in sys.modules,
        "environ_written": sorted(set(written)),
        "fd2_changed": fd2() != stderr,
        "fd2_redirected": 2 in redirected,
        "glibc_called": memory.glibc_function.cache_info().currsize > 0,
    }

os.dup2 = dup2
for name in sys.argv[1:]:
    importlib.import_module(name)
imported = report()
from applications.core.runtime import configure_process

configure_process()
print(json.dumps({"imported": imported, "configured": report()}))
"""


def test_importing_the_package_changes_nothing_in_the_process(tmp_path):
    modules = ["applications", *sorted(
        m for m in module_files() if m.startswith("applications.")
        and not m.endswith("__main__"))]
    assert "applications.pos_tagger.model" in modules and "applications.main" in modules
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "MALLOC_ARENA_MAX")}
    with open(tmp_path / "stderr.txt", "w") as stderr:  # fd 2 is a file, as for a user
        result = subprocess.run([sys.executable, "-c", SIDE_EFFECTS_SCRIPT, *modules],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr,
                                text=True, timeout=300)
    assert result.returncode == 0, (tmp_path / "stderr.txt").read_text()[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["imported"] == {"tensorflow_imported": True, "environ_written": [],
                                  "fd2_changed": False, "fd2_redirected": False,
                                  "glibc_called": False}
    # The one documented function makes the settings (here TensorFlow is already imported,
    # so it is not imported again behind a redirected fd 2).
    assert report["configured"]["environ_written"] == ["TF_CPP_MIN_LOG_LEVEL"]
    assert report["configured"]["glibc_called"] == sys.platform.startswith("linux")
    assert not report["configured"]["fd2_changed"]
