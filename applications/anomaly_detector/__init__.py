"""Time-series anomaly detection (LSTM autoencoder): ``python -m applications.anomaly_detector --help``."""
