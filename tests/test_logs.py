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
