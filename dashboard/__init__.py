"""Tailor's Streamlit dashboard: pages over the process's one Engine."""
