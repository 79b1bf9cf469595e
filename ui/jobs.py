"""Background audit runs launched from the dashboard, with progress that survives page switches."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from srllm.config import RunConfig, lower_thread_priority
from srllm.errors import SrllmError
from srllm.pipeline import Progress, run_audit
from ui import cache


@dataclass
class Job:
    """One audit running in a thread of the server process."""

    job_id: str
    config: RunConfig
    db: str
    started: float = field(default_factory=time.time)
    progress: Progress | None = None
    run_id: str | None = None
    error: str | None = None
    finished: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


def _failure(exc: Exception) -> str:
    """What a page shows for work that failed: a user's mistake as is, else its type too."""
    return str(exc) if isinstance(exc, SrllmError) else f"{type(exc).__name__}: {exc}"


def launch(cfg: RunConfig, db: str) -> Job:
    """Start an audit in a background thread and register it."""
    job = Job(job_id=uuid.uuid4().hex[:8], config=cfg, db=db)
    registry = cache.job_registry()
    registry[job.job_id] = job

    def on_progress(p: Progress) -> None:
        job.progress = p

    def work() -> None:
        lower_thread_priority()  # the pages and the live probe come first
        try:
            res = run_audit(
                cfg,
                Path(db),
                progress=on_progress,
                loader=cache.model,
                should_stop=job.stop.is_set,
            )
            job.run_id = res.run_id
        except KeyboardInterrupt:
            job.error = "stopped by the user; re-launch with the same run name to resume"
        except Exception as exc:
            job.error = _failure(exc)
        finally:
            job.finished = True

    threading.Thread(target=work, daemon=True, name=f"audit-{job.job_id}").start()
    return job


def jobs() -> list[Job]:
    """All audit jobs of this server, newest first."""
    found = [j for j in cache.job_registry().values() if isinstance(j, Job)]
    return sorted(found, key=lambda j: j.started, reverse=True)


@dataclass
class Task:
    """Any other long work started from a page (e.g. StereoSet scoring), run in a thread."""

    task_id: str
    kind: str
    label: str
    started: float = field(default_factory=time.time)
    fraction: float = 0.0
    text: str = "starting…"
    error: str | None = None
    finished: bool = False
    stop: threading.Event = field(default_factory=threading.Event)


class TaskStopped(Exception):
    """Raised inside a task's next progress report once its Stop button was pressed."""


Reporter = Callable[[float, str], None]


def launch_task(kind: str, label: str, work: Callable[[Reporter], None]) -> Task:
    """Run ``work(report)`` in a background thread; ``report(fraction, text)`` updates it.

    Tasks live in the server's registry, so their progress survives page switches and reruns.
    """
    task = Task(task_id=uuid.uuid4().hex[:8], kind=kind, label=label)
    cache.job_registry()[f"task-{task.task_id}"] = task

    def report(fraction: float, text: str) -> None:
        if task.stop.is_set():
            raise TaskStopped
        task.fraction, task.text = max(0.0, min(1.0, fraction)), text

    def run() -> None:
        lower_thread_priority()
        try:
            work(report)
        except TaskStopped:
            task.error = "stopped by the user; start it again to redo it"
        except Exception as exc:
            task.error = _failure(exc)
        finally:
            task.finished = True

    threading.Thread(target=run, daemon=True, name=f"{kind}-{task.task_id}").start()
    return task


def tasks(kind: str, label: str | None = None) -> list[Task]:
    """Tasks of one kind (and label), newest first."""
    found = [
        t
        for t in cache.job_registry().values()
        if isinstance(t, Task) and t.kind == kind and (label is None or t.label == label)
    ]
    return sorted(found, key=lambda t: t.started, reverse=True)
