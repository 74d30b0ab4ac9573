"""Hyperparameter search with Keras Tuner: one HyperModel per application, building the same
config object and model the command line builds."""
