import creditflow


def test_imports():
    assert creditflow.DEFAULTS["samples"] == 1024
