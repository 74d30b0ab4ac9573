"""The framework every application stands on: model base class, epoch driver, checkpoints,
command line, distributed training, safe loading. It knows no particular application."""
