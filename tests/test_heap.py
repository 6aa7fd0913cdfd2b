"""After a large read frees its memory, the process's resident size falls back to what it still holds."""

from __future__ import annotations

from pathlib import Path

from kpi_pipeline.heap import return_freed_memory


def resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def test_memory_freed_inside_the_heap_goes_back_to_the_system() -> None:
    # 2 KB chunks (past Python's small-object allocator, below glibc's mmap threshold) with a small survivor
    # after every 64, so the freed ones lie inside the heap where glibc's own trimming cannot reach them
    chunks = [bytearray(2048) for _ in range(150_000)]
    survivors = [bytearray(2048) for _ in range(150_000 // 64)]
    chunks = [c for i, c in enumerate(chunks) if i % 64 == 0] + survivors
    held = resident_mib()

    assert return_freed_memory()

    assert resident_mib() < held - 150
    assert len(chunks) > 0
