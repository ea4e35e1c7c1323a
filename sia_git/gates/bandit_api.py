"""bandit through its Python API, set up as `bandit -c CONFIG --severity-level medium
--confidence-level medium` sets it up, so the findings are the CLI's (a test compares them)."""

from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import Any

LEVEL = "MEDIUM"


@functools.cache
def _setup(config: Path) -> tuple[Any, dict[str, Any]]:
    with warnings.catch_warnings():  # stevedore's deprecation notice, about bandit's own call
        warnings.simplefilter("ignore", DeprecationWarning)
        from bandit.cli.main import _get_profile
        from bandit.core import config as b_config
        from bandit.core import extension_loader

    # bandit logs to the root logger as its CLI does; a driver's log must not fill with it.
    logging.getLogger("bandit").setLevel(logging.ERROR)
    conf = b_config.BanditConfig(config_file=str(config))
    profile = _get_profile(conf, None, str(config))
    extension_loader.MANAGER.validate_profile(profile)
    return conf, profile


def scan_files(
    config: Path, paths: list[str]
) -> tuple[list[tuple[str, int, str, str, str]], list[tuple[str, str]]]:
    """(file, line, test id, text, severity) of each finding of medium severity and confidence
    and up, and (file, reason) of each file bandit could not read."""
    conf, profile = _setup(config)  # first: it imports bandit with its notice silenced
    from bandit.core import manager

    mgr = manager.BanditManager(conf, "file", quiet=True, profile=profile)
    mgr.discover_files(paths)
    mgr.run_tests()
    issues = [
        (i.fname, i.lineno, i.test_id, i.text, i.severity.lower())
        for i in mgr.get_issue_list(sev_level=LEVEL, conf_level=LEVEL)
    ]
    return issues, list(mgr.get_skipped())
