"""`leadflow run`'s live scorer, API and landing are scheduled ahead of its background parts
(build, jobs), which stay level with other work on the machine (leadflow/service.py:
foreground_priority, background_priority)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from leadflow.service import FOREGROUND_NICE, background_priority, foreground_priority


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_the_service_is_raised_and_its_build_goes_back_to_the_machines_level() -> None:
    seen: dict[str, int] = {}

    def record(name: str) -> None:
        seen[name] = _nice()

    def build() -> None:  # a part the service starts, and dbt's worker it starts
        background_priority()
        record("build")
        worker = threading.Thread(target=record, args=("dbt worker",))
        worker.start()
        worker.join()

    def service() -> None:  # `leadflow run`'s thread that starts everything else
        seen["raised"] = int(foreground_priority())
        record("service")
        for target, args in ((record, ("live",)), (build, ())):
            part = threading.Thread(target=target, args=args)
            part.start()
            part.join()

    base = _nice()
    thread = threading.Thread(target=service)
    thread.start()
    thread.join()

    raised = max(-20, base + FOREGROUND_NICE) if seen.pop("raised") else base
    assert seen == {"service": raised, "live": raised, "build": base, "dbt worker": base}
    assert _nice() == base, "the threads not started by it keep their priority"
    if os.geteuid() == 0:
        assert raised < base, "root may raise a priority"
