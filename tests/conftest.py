import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: uses ../shared/data or trains for minutes")
    config.addinivalue_line(
        "markers", "integration: trains through the command line (cli.main or python -m); "
                   'the quick tier is -m "not slow and not integration"')
