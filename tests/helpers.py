"""Shared test helpers: encoders are checked by one call, applications through their CLI."""

import io
import json
import os
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout

import keras
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_encoder_test(cls, init_kwargs, input_data, expected_shapes, mask=None):
    """Config round trip, output shapes, padding invariance, and .keras save/load equality."""
    encoder = cls(**init_kwargs)
    outputs = encoder(input_data, mask=mask)
    for key, shape in expected_shapes.items():
        assert tuple(outputs[key].shape) == shape, (key, outputs[key].shape, shape)

    clone = cls.from_config(encoder.get_config())
    assert clone.get_config() == encoder.get_config()

    if mask is not None:
        # Changing what sits at padded positions must not change any real output.
        noisy = np.array(input_data, copy=True)
        noisy[~mask] = 7.0
        again = encoder(noisy, mask=mask)
        real = np.asarray(mask)
        np.testing.assert_allclose(np.asarray(outputs["sequence"])[real],
                                   np.asarray(again["sequence"])[real], atol=1e-5)
        np.testing.assert_allclose(np.asarray(outputs["pooled"]), np.asarray(again["pooled"]),
                                   atol=1e-5)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "encoder.keras")
        encoder.save(path)
        restored = keras.saving.load_model(path)
    assert type(restored) is cls
    restored_out = restored(input_data, mask=mask)
    for key in expected_shapes:
        np.testing.assert_allclose(np.asarray(outputs[key]), np.asarray(restored_out[key]),
                                   atol=1e-6)
    return encoder, outputs


def cli(commands, *argv, stdin=None):
    """Run an application's CLI in this process; returns ``(exit code, stdout, stderr)``.

    The command line is the launcher's (:func:`applications.main.run_commands`): the shared
    verbs, ``tune`` and the application's own.
    """
    from applications.main import run_commands as main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(commands, [str(a) for a in argv])
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def error_lines(err):
    """The non-blank lines of ``err`` other than progress lines of stages finished before
    an error (``reading train.tsv: 300 sentences in 0.1 s``)."""
    from applications.core.progress import is_stage_line

    return [line for line in err.splitlines() if line.strip() and not is_stage_line(line)]


def cli_subprocess(app, *argv, stdin=None, env=None):
    """Run ``python -m applications.<app>`` as a user would; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", f"applications.{app}", *map(str, argv)],
        input=stdin, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}, timeout=600)


def assert_input_error(commands, argv, path, line=None, stdin=None):
    """The command exits 2 with exactly one ``error: PATH:LINE: ...`` line and no traceback."""
    code, out, err = cli(commands, *argv, stdin=stdin)
    lines = error_lines(err)
    assert code == 2, (code, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    expected = f"error: {path}:{line}:" if line is not None else f"error: {path}:"
    assert lines[0].startswith(expected), (lines[0], expected)
    return lines[0]


def load_saved_model_without_package(export_dir, call_source):
    """Load a SavedModel in a fresh Python that cannot import this package; run code on it.

    ``call_source`` is Python that uses ``model`` and prints one JSON value.
    """
    script = (
        "import json, sys\n"
        "OURS = ('applications', 'encoders', 'data', 'tuning')\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in OURS:\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "import tensorflow as tf\n"
        f"model = tf.saved_model.load({str(export_dir)!r})\n"
        f"{call_source}\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in OURS]\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tempfile.gettempdir(), env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def exported_scores(commands, model_dir, export_dir, **inputs):
    """``export`` ``model_dir``, load the SavedModel without the package and return what its
    ``serve`` signature gives as ``scores`` for ``inputs`` (name -> NumPy array, dtype kept)."""
    code, _, err = cli(commands, "export", "--model", model_dir, "--out", export_dir)
    assert code == 0, err
    arguments = ", ".join(f"{name}=tf.constant({array.tolist()!r}, tf.{array.dtype.name})"
                          for name, array in inputs.items())
    return load_saved_model_without_package(export_dir, (
        f"print(json.dumps(model.signatures['serve']({arguments})['scores'].numpy().tolist()))"))


def check_bad_input_keeps_model(commands, model_dir, path, content, line, train_args=()):
    """Write ``content`` to ``path``; ``train`` into ``model_dir`` and ``evaluate`` on it must
    both exit 2 naming ``path:line``, and the saved model must stay byte for byte the same."""
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    before = (model_dir / "model.keras").read_bytes()
    assert_input_error(commands, ["train", "--train", path, "--out", model_dir, *train_args],
                       path, line)
    assert (model_dir / "model.keras").read_bytes() == before
    assert_input_error(commands, ["evaluate", "--model", model_dir, "--data", path], path, line)


def check_ensemble_verb_refusals(commands, members, tmp_path):
    """``ensemble`` with one member, or with ``--out`` naming a member, exits 2, and a model
    already in ``--out`` stays as it was."""
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "model.keras").write_text("an earlier model")
    code, _, err = cli(commands, "ensemble", "--models", members[0], "--out", kept)
    assert code == 2 and "at least two" in err
    assert (kept / "model.keras").read_text() == "an earlier model"
    code, _, err = cli(commands, "ensemble", "--models", *members, "--out", members[1])
    assert code == 2 and "is one of the members" in err


def check_adversarial_loss(model, x, y):
    """``model.training_loss`` with a small ``adversarial_epsilon`` adds the right loss.

    Each example moves by epsilon along its own gradient, so to first order the added loss
    exceeds the clean one by epsilon times the sum over examples of their gradient norms.
    The model must have every dropout off and be compiled with its loss.
    """
    import tensorflow as tf

    model.config["adversarial_epsilon"] = 0.0
    _, clean = model.training_loss(x, y, None)
    vectors, mask = model.input_vectors(x)
    with tf.GradientTape() as tape:
        tape.watch(vectors)
        loss = model.compute_loss(x=x, y=y, y_pred=model.scores_from_vectors(vectors, mask))
    np.testing.assert_allclose(float(loss), float(clean), rtol=1e-5)
    grads = [np.asarray(g) for g in tape.gradient(loss, vectors)]
    # Padding does not reach the loss, so nothing moves there.
    assert all(np.all(g[~np.asarray(mask)] == 0) for g in grads)
    rise = sum(np.sqrt((g ** 2).sum(axis=(1, 2))).sum() for g in grads)
    epsilon = 1e-3
    model.config["adversarial_epsilon"] = epsilon
    _, both = model.training_loss(x, y, None)
    adversarial = float(both) - float(clean)
    assert adversarial > float(clean)
    np.testing.assert_allclose(adversarial - float(clean), epsilon * rise, rtol=0.05)
