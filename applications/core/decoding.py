"""The decoding flags of the sequence generators (translator, captioner): beam size, length
penalty and batch size, with the model's own settings as defaults."""

from applications.core.config import UsageError


def add_decoding_arguments(parser, items="sentences"):
    """``--beam``, ``--length-penalty`` and ``--batch-size`` (how many ``items`` at once)."""
    parser.add_argument("--beam", type=int, metavar="N",
                        help="beam size; 1 = greedy (default: the model's beam_size)")
    parser.add_argument("--length-penalty", type=float, metavar="ALPHA",
                        help="GNMT length penalty alpha (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help=f"{items} decoded together")


def decoding_options(args, config):
    """``(beam size, length penalty)``: the flags, or the model's ``beam_size`` and
    ``length_penalty`` where a flag is not given.

    Raises:
        UsageError: a beam or batch size below 1, or a negative penalty.
    """
    beam = config["beam_size"] if args.beam is None else args.beam
    alpha = config["length_penalty"] if args.length_penalty is None else args.length_penalty
    if not valid_decoding(beam, alpha) or args.batch_size < 1:
        raise UsageError("--beam and --batch-size must be 1 or more, --length-penalty "
                         "finite and not negative")
    return beam, alpha


def valid_decoding(beam_size, length_penalty):
    """Whether a beam size (1 or more) and a GNMT length penalty (finite, 0 or more) can
    decode."""
    return int(beam_size) >= 1 and 0 <= float(length_penalty) < float("inf")


def checked_decoding(beam_size, length_penalty):
    """``(int beam size, float length penalty)`` for the Python API; ValueError where
    :func:`valid_decoding` says no."""
    if not valid_decoding(beam_size, length_penalty):
        raise ValueError("beam_size must be 1 or more and length_penalty finite and not "
                         f"negative, not {beam_size!r} and {length_penalty!r}")
    return int(beam_size), float(length_penalty)
