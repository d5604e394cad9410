import logging

from puq_bridge.logs import MASK, SecretFilter


def test_secret_filter_masks_message_and_args(caplog):
    flt = SecretFilter(["s3cr3t-value", None, "ab"])
    logger = logging.getLogger("puq_bridge.test_logs")
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.DEBUG, logger="puq_bridge.test_logs"):
            logger.debug("token=%s and ab", "s3cr3t-value")
    finally:
        logger.removeFilter(flt)
    assert "s3cr3t-value" not in caplog.text
    assert f"token={MASK} and ab" in caplog.text  # short values are not masked


def test_mask_prefers_longest_secret():
    flt = SecretFilter(["abcd", "abcdefgh"])
    assert flt.mask("x abcdefgh y") == f"x {MASK} y"


def test_tracebacks_are_masked_too():
    import io

    from puq_bridge.logs import MaskingFormatter, mask_secrets

    flt = SecretFilter(["hunter2-secret"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter("%(levelname)s %(message)s", flt))
    handler.addFilter(flt)
    logger = logging.getLogger("puq_bridge.test_logs.tb")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError("login with hunter2-secret failed")
        except RuntimeError:
            logger.exception("sync failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "Traceback" in out and "RuntimeError" in out
    assert "hunter2-secret" not in out
    assert mask_secrets("a hunter2-secret b", ["hunter2-secret", None, "ab"]) == f"a {MASK} b"
