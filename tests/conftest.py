import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: uses ../shared/data or trains for minutes")
    config.addinivalue_line(
        "markers", "integration: end to end through what the command line runs: trains or "
                   "tunes (cli.main, python -m, or Application.train into a run folder) or "
                   "exports and serves a SavedModel; the quick tier is "
                   '-m "not slow and not integration"')
