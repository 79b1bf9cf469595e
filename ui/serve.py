"""Start the dashboard so that every URL goes through the router (``app.py``).

Streamlit decides once per process, when the first session starts, whether an app is a
``pages/``-folder app: if a ``pages/`` folder exists it runs the requested page script by
itself until some session has called ``st.navigation``. A link straight to ``/disparities``
on a freshly started server then rendered that page without the app's sidebar, store, run
and model pickers. This launcher clears the flag before the server starts, so the router runs
for every request; it is what ``scripts/start.sh`` and the tests use.

    python -m ui.serve [streamlit run options...]
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def main(argv: list[str] | None = None) -> None:
    """``streamlit run app.py ARGS`` in this process, with the pages-folder mode off."""
    from srllm.config import prefer_passive_openmp

    prefer_passive_openmp()  # the dashboard shares the cores with CLI audits: no spinning
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False  # the router (st.navigation) handles pages/
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
