"""``python -m srllm``: the headless command line."""

from srllm.config import lower_batch_priority, prefer_passive_openmp

prefer_passive_openmp()  # before torch loads: idle OpenMP threads sleep (shared 2 cores)
lower_batch_priority()  # the dashboard (live probe) comes first when both want the cores

from srllm.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
