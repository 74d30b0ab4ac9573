"""Video frame classification (CNN per frame, RNN across frames): ``python -m applications.video_classifier --help``."""
