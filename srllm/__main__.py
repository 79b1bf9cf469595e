"""``python -m srllm``: the headless command line."""

from srllm.config import prefer_passive_openmp

prefer_passive_openmp()  # before torch loads: idle OpenMP threads sleep (shared 2 cores)

from srllm.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
