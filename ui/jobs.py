"""Background audit runs launched from the dashboard, with progress that survives page switches."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from srllm.config import RunConfig
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


def launch(cfg: RunConfig, db: str) -> Job:
    """Start an audit in a background thread and register it."""
    job = Job(job_id=uuid.uuid4().hex[:8], config=cfg, db=db)
    registry = cache.job_registry()
    registry[job.job_id] = job

    def on_progress(p: Progress) -> None:
        job.progress = p

    def work() -> None:
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
        except SrllmError as exc:
            job.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown on the page
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = True

    threading.Thread(target=work, daemon=True, name=f"audit-{job.job_id}").start()
    return job


def jobs() -> list[Job]:
    """All jobs of this server, newest first."""
    return sorted(cache.job_registry().values(), key=lambda j: j.started, reverse=True)
