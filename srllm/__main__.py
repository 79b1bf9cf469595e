"""``python -m srllm``: the headless command line."""

from srllm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
