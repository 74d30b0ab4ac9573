"""Readers, vocabularies and batch builders shared by every application."""

from data.errors import InputError
from data.files import atomic_write_bytes, atomic_write_json, iter_lines, read_json
from data.sequence_batches import (
    TaggingMetadata,
    bucketed_dataset,
    encode_sentences,
    load_all_batches,
    load_all_data,
)
from data.tagged_text import TaggedSentence, read_conllu, read_tagged, read_two_column
from data.time_series import TimeSeries, read_time_series
from data.vocabulary import Vocabulary

__all__ = [
    "InputError", "atomic_write_bytes", "atomic_write_json", "iter_lines", "read_json",
    "TaggingMetadata", "bucketed_dataset", "encode_sentences", "load_all_batches",
    "load_all_data", "TaggedSentence", "read_conllu", "read_tagged", "read_two_column",
    "TimeSeries", "read_time_series", "Vocabulary",
]
