"""`leadflow run`'s background parts (build, jobs) yield the CPU to the live scorer, the API
and landing (leadflow/service.py: background_priority)."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from leadflow.service import BACKGROUND_NICE, background_priority


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_background_work_runs_at_a_lower_priority_and_so_do_the_threads_it_starts() -> None:
    seen: dict[str, int] = {}

    def child() -> None:  # dbt's worker, started by the build's thread
        seen["child"] = _nice()

    def build() -> None:
        background_priority()
        seen["build"] = _nice()
        worker = threading.Thread(target=child)
        worker.start()
        worker.join()

    base = _nice()
    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    lowered = min(19, base + BACKGROUND_NICE)
    assert seen == {"build": lowered, "child": lowered}
    assert _nice() == base, "the other threads keep their priority"
