"""Streamlit-aware helpers: the only place besides app.py and pages/ that imports streamlit."""
