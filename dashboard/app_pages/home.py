"""Overview page: each dataset group's data readiness, counts and events over time."""

from __future__ import annotations

import streamlit as st

from dashboard.charts import events_over_time, readiness_gauges
from dashboard.engine_access import get_engine, group_version

engine = get_engine()


@st.cache_data(show_spinner=False, max_entries=64)
def readiness(data_dir: str, arn: str, version: int) -> dict:
    """The group's readiness report (cached until its data changes)."""
    del data_dir, version  # cache keys
    return engine.get_data_readiness(datasetGroupArn=arn)


@st.cache_data(show_spinner=False, max_entries=64)
def timeline(data_dir: str, arn: str, version: int):
    """Interactions per day by event type (cached until the group's data changes)."""
    del data_dir, version  # cache keys
    return engine.get_event_timeline(datasetGroupArn=arn)


st.title("Tailor")
st.caption(
    f"Amazon Personalize's API on your own machine. Data directory: `{engine.data_dir.resolve()}`"
)

groups = engine.list_dataset_groups()["datasetGroups"]
if not groups:
    st.info(
        "No dataset groups yet. Create one with boto3 (`create_dataset_group`) or run "
        "`tailor init --sample` to load the sample store."
    )

for group in groups:
    arn = group["datasetGroupArn"]
    version = group_version(engine, arn)
    report = readiness(str(engine.data_dir), arn, version)
    with st.container(border=True):
        badge = (
            ":green-badge[:material/check: ready to train]"
            if report["readyToTrain"]
            else ":red-badge[:material/close: not enough data to train]"
        )
        st.subheader(f"{group['name']}  {badge}")
        cols = st.columns(5)
        cols[0].metric("Interactions", f"{report['interactions']:,}")
        cols[1].metric("Users with interactions", f"{report['users']:,}")
        cols[2].metric("Items with interactions", f"{report['items']:,}")
        cols[3].metric("Users with 2+ interactions", f"{report['usersWithAtLeast2Interactions']:,}")
        if report["firstEvent"]:
            days = (report["lastEvent"] - report["firstEvent"]).days + 1
            dates = f"{report['firstEvent']:%Y-%m-%d} → {report['lastEvent']:%Y-%m-%d}"
            cols[4].metric("Time span", f"{days:,} days", help=dates)
        else:
            cols[4].metric("Time span", "—")
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(
                events_over_time(timeline(str(engine.data_dir), arn, version)),
                width="stretch",
                key=f"timeline-{arn}",
            )
        with right:
            st.plotly_chart(readiness_gauges(report), width="stretch", key=f"ready-{arn}")
            for check in report["checks"]:
                icon = ":material/check_circle:" if check["passed"] else ":material/error:"
                st.markdown(f"{icon} {check['message']}")
            datasets = ", ".join(f"{k.title()}: {v:,} rows" for k, v in report["datasets"].items())
            st.caption(f"Datasets: {datasets or 'none'}")
            if report["eventTypes"]:
                st.caption(
                    "Event types: "
                    + ", ".join(f"{k or '(none)'} {v:,}" for k, v in report["eventTypes"].items())
                )
