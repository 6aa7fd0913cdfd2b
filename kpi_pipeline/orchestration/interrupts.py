"""Ctrl-C that reaches the backfill even when Dagster's own signal handling loses it.

While a run executes, Dagster's handler raises `DagsterExecutionInterruptedError` wherever the main thread
happens to be. When that is a garbage-collector callback (SQLAlchemy's weakref callbacks are common), Python
prints "Exception ignored in ..." and drops the exception: the interrupt is lost and the backfill runs to the
end. Python also writes every signal to the wakeup file descriptor, whatever handler is installed, so a watcher
thread reading it sees each Ctrl-C; it records it and re-delivers it to the main thread until the execution loop
has stopped, so some delivery lands where it is raised.
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

REDELIVER_EVERY_S = 1.0


class InterruptWatch:
    """What the watcher saw, and whether the main thread still wants interrupts re-delivered."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.executing = threading.Event()
        self.executing.set()

    def stop_redelivery(self) -> None:
        """The main thread stopped executing (interrupted or done): deliver nothing more to it."""
        self.executing.clear()


@contextmanager
def watch_interrupts() -> Iterator[InterruptWatch]:
    """Watch for SIGINT and SIGTERM for the duration; a no-op watch outside the main thread."""
    watch = InterruptWatch()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    closed = threading.Event()
    watcher = threading.Thread(target=_watch, args=(read_fd, watch, closed), name="interrupt-watch", daemon=True)
    watcher.start()
    try:
        yield watch
    finally:
        watch.stop_redelivery()
        signal.set_wakeup_fd(previous_fd)
        closed.set()
        os.write(write_fd, b"\0")  # wakes the watcher so it sees `closed`
        watcher.join(5)
        os.close(write_fd)
        os.close(read_fd)


@contextmanager
def interruptible() -> Iterator[InterruptWatch]:
    """A block of Dagster execution that a Ctrl-C ends with KeyboardInterrupt, whether Dagster raised it as
    its own error, lost every delivery, or the signal landed after the last run ended."""
    from dagster import DagsterExecutionInterruptedError

    with watch_interrupts() as watch:
        try:
            yield watch
        except DagsterExecutionInterruptedError:
            raise KeyboardInterrupt from None
        finally:
            watch.stop_redelivery()
        if watch.requested.is_set():
            raise KeyboardInterrupt


def _watch(read_fd: int, watch: InterruptWatch, closed: threading.Event) -> None:
    wanted = {int(signal.SIGINT), int(signal.SIGTERM)}
    while not closed.is_set():
        if not wanted & set(os.read(read_fd, 64)) or closed.is_set():
            continue
        watch.requested.set()
        # the first delivery is Python's own; repeat it until the main thread has stopped executing
        while not closed.wait(REDELIVER_EVERY_S) and watch.executing.is_set():
            _thread.interrupt_main(signal.SIGINT)
