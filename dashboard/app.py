"""Tailor's dashboard entrypoint: builds the navigation; each page is a module in app_pages/."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "app_pages"

st.set_page_config(page_title="Tailor", page_icon=":material/recommend:", layout="wide")

navigation = st.navigation(
    [
        st.Page(
            str(PAGES / "home.py"), title="Overview", icon=":material/dashboard:", default=True
        ),
        st.Page(str(PAGES / "data.py"), title="Data", icon=":material/database:"),
        st.Page(
            str(PAGES / "popularity.py"),
            title="Popularity & trends",
            icon=":material/trending_up:",
        ),
        st.Page(str(PAGES / "segments.py"), title="Segments", icon=":material/groups:"),
        st.Page(str(PAGES / "context.py"), title="Context effects", icon=":material/devices:"),
        st.Page(str(PAGES / "train.py"), title="Train", icon=":material/model_training:"),
        st.Page(str(PAGES / "compare.py"), title="Compare", icon=":material/compare_arrows:"),
        st.Page(
            str(PAGES / "playground.py"),
            title="Campaigns playground",
            icon=":material/play_circle:",
        ),
        st.Page(str(PAGES / "experiments.py"), title="A/B review", icon=":material/science:"),
    ]
)
navigation.run()
