"""Ensembles: separately trained models of one application saved as one averaging model.

    python -m applications.pos_tagger ensemble --models runs/a runs/b --out runs/ab

Members trained with different seeds (their own initialisation, batch order and early
stopping) err on different inputs, so the mean of their logits is usually right more often
than any one of them. The result is an ordinary saved application: ``evaluate``,
``predict`` and ``export`` work on it as on a single model. Members must share their
training data (vocabularies, labels) and the options that shape their weights.

:class:`Ensemble` wraps members of any application; the text classifier keeps its own
member lists (:mod:`applications.text_classifier.ensemble`) and shares the checks and the
command here.
"""

import os
import sys

import keras

from applications.core.base import Application
from applications.core.config import UsageError
from data.files import atomic_write_json


@keras.saving.register_keras_serializable(package="encore")
class Ensemble(Application):
    """``size`` models of ``member_class`` whose logits are averaged.

    Args:
        config: the members' config (the first member's; the others agree on the options
            that shape weights).
        metadata: the members' shared metadata.
        member_class: the registered name of the members' class, e.g. ``encore>PosTagger``.
        size: the number of members.

    The model looks like one member to the rest of the package: same inputs, same outputs
    (mean logits), the member class's loss, metrics and serving module.
    """

    def __init__(self, config, metadata, member_class, size, **kwargs):
        super().__init__(config, metadata, **kwargs)
        cls = keras.saving.get_registered_object(member_class)
        if cls is None or not issubclass(cls, Application):
            raise ValueError(f"unknown application class {member_class!r}")
        self.member_class = member_class
        self.members = [cls(config, metadata, name=f"member_{i}") for i in range(size)]

    @property
    def monitor(self):
        return self.members[0].monitor

    def application_class(self):
        return self.members[0].application_class()

    def call(self, inputs, training=False):
        logits = [member(inputs, training=training) for member in self.members]
        return keras.ops.mean(keras.ops.stack(logits, axis=0), axis=0)

    def build(self, input_shape):
        # Keras records input_shape for get_build_config, so a loaded ensemble builds too.
        for member in self.members:
            member.build_from_config({"input_shape": input_shape})

    def get_config(self):
        base = super().get_config()
        base.update(member_class=self.member_class, size=len(self.members))
        return base

    def make_loss(self):
        return self.members[0].make_loss()

    def make_metrics(self):
        return self.members[0].make_metrics()

    def serving_module(self):
        return type(self.members[0]).serving_module(self)

    def predict_raw(self, inputs, *args, **options):
        """Raw inputs as the members' class takes them, served by this averaging model.

        Example:
            >>> taggers = Ensemble.load_model("runs/ab")  # doctest: +SKIP
            >>> taggers.predict(["The old man saw a dog."])  # doctest: +SKIP
            [[('The', 'DET'), ('old', 'ADJ'), ...]]
        """
        return type(self.members[0]).predict_raw(self, inputs, *args, **options)


def check_members(members, sources, member_class, must_match=(), is_ensemble=None):
    """Refuse members that cannot be averaged, with a :class:`UsageError` naming the source.

    Args:
        members: loaded models.
        sources: their directories, for messages (None: ``member 1``, ...).
        member_class: the class every member must be.
        must_match: config options that shape weights; members must agree on them.
        is_ensemble: ``model -> bool``, True for a ``member_class`` model that is already an
            ensemble of its own kind (an :class:`Ensemble` always is).
    """
    if len(members) < 2:
        raise UsageError("an ensemble needs at least two models")
    sources = sources or [f"member {i + 1}" for i in range(len(members))]
    first = members[0]
    for model, source in zip(members, sources):
        if isinstance(model, Ensemble) or (isinstance(model, member_class) and is_ensemble
                                           and is_ensemble(model)):
            raise UsageError(f"{source}: already an ensemble; give its members instead")
        if not isinstance(model, member_class):
            raise UsageError(f"{source}: not a {member_class.__name__} model")
        if model.metadata != first.metadata:
            raise UsageError(f"{source}: trained on a different vocabulary, label set or "
                             f"columns than {sources[0]}; members must share training data")
        for key in must_match:
            if model.config.get(key) != first.config.get(key):
                raise UsageError(f"{source}: {key} differs from {sources[0]} "
                                 f"({model.config.get(key)!r} vs {first.config.get(key)!r})")


def build_ensemble(members, sources=None, member_class=None, must_match=()):
    """An :class:`Ensemble` holding copies of ``members``' weights (see :func:`check_members`)."""
    member_class = member_class or type(members[0])
    check_members(members, sources, member_class, must_match)
    first = members[0]
    ensemble = Ensemble(first.config, first.metadata,
                        keras.saving.get_registered_name(member_class), len(members))
    ensemble.build(first.get_build_config()["input_shape"])
    for mine, theirs in zip(ensemble.members, members):
        mine.set_weights(theirs.get_weights())
    return ensemble


def ensemble_verb(build):
    """The ``ensemble`` verb for :meth:`AppCommands.extra_verbs`: ``(add_arguments, run)``.

    ``build(members, sources)`` returns the ensemble model of loaded members.
    """

    def add_arguments(parser):
        parser.description = "combine separately trained models into one averaging model"
        parser.add_argument("--models", nargs="+", required=True, metavar="DIR",
                            help="two or more trained models over the same training data")
        parser.add_argument("--out", required=True, help="application directory to write")

    def run(args):
        """Join trained models of one application into one that averages their outputs."""
        from applications.core.base import load_model
        from applications.core.outputs import check_ensemble_target, overlaps

        for member in args.models:
            if overlaps(args.out, member):
                raise UsageError(f"--out {args.out} is one of the members, or lies inside or "
                                 f"above {member}; write to a new directory (nothing was "
                                 "changed)")
        members = [load_model(path) for path in args.models]
        ensemble = build(members, args.models)
        application = members[0].application_class().__name__
        # Only a folder empty or holding an earlier ensemble of this application is written.
        check_ensemble_target(args.out, application)
        os.makedirs(args.out, exist_ok=True)
        ensemble.save_to(args.out)
        atomic_write_json(os.path.join(args.out, "config.json"), ensemble.config)
        # config.json is the first member's; each member's own options (seed, optimizer
        # settings, ...) are kept beside the member list.
        atomic_write_json(os.path.join(args.out, "ensemble.json"),
                          {"application": application,
                           "members": [os.path.abspath(m) for m in args.models],
                           "member_configs": [m.config for m in members]})
        print(f"saved {os.path.join(args.out, 'model.keras')} ({len(members)} members)",
              file=sys.stderr)
        return 0

    return add_arguments, run
