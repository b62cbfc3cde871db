"""Event trackers and real-time ingestion (PutEvents, PutItems, PutUsers) on the sample store:
validation, durability, de-duplication, session stitching, and events changing the very
next recommendation."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from engine import Engine, InvalidInputException
from engine.errors import LimitExceededException, ResourceNotFoundException
from engine.events.writer import LogRows
from engine.sample_data import load_sample
from engine.serving.recommend import preview
from tests.shapes import assert_output_shape
from tests.test_serving import EASE, deploy

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def categories() -> dict[str, str]:
    with open(SAMPLE / "items.csv", newline="") as f:
        return {r["ITEM_ID"]: r["CATEGORY"] for r in csv.DictReader(f)}


def dataset_arn(engine: Engine, group: str, kind: str) -> str:
    found = engine.list_datasets(datasetGroupArn=group)["datasets"]
    return next(d["datasetArn"] for d in found if d["datasetType"] == kind)


def event_rows(engine: Engine, group: str, where: str = "true", params=()) -> list[tuple]:
    dataset = engine.catalog.require(dataset_arn(engine, group, "INTERACTIONS"), "dataset")
    with engine.store.cursor() as cur:
        return cur.execute(
            f'SELECT "USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "DEVICE", "IMPRESSION", '
            f'"RECOMMENDATION_ID", _event_id, _session_id FROM ds_{dataset.id} '
            f"WHERE _source = 'event' AND {where} ORDER BY \"TIMESTAMP\", _event_id",
            list(params),
        ).fetchall()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The sample store with a tracker and an EASE campaign."""
    with Engine(tmp_path_factory.mktemp("events") / "d") as engine:
        group = load_sample(engine)
        tracker = engine.create_event_tracker(name="web", datasetGroupArn=group)
        campaign = deploy(engine, group, "ease-live", EASE)
        yield engine, group, tracker["trackingId"], campaign


def view(item: str, seconds: int = 0, **extra) -> dict:
    return {"eventType": "view", "itemId": item, "sentAt": NOW.timestamp() + seconds, **extra}


def test_tracker_lifecycle(live):
    engine, group, tracking_id, _ = live
    trackers = engine.list_event_trackers(datasetGroupArn=group)
    assert_output_shape("ListEventTrackers", trackers)
    arn = trackers["eventTrackers"][0]["eventTrackerArn"]
    described = engine.describe_event_tracker(eventTrackerArn=arn)
    assert_output_shape("DescribeEventTracker", described)
    assert described["eventTracker"]["trackingId"] == tracking_id
    assert described["eventTracker"]["datasetGroupArn"] == group
    with pytest.raises(LimitExceededException, match="at most one"):
        engine.create_event_tracker(name="second", datasetGroupArn=group)
    with pytest.raises(ResourceNotFoundException, match="nope"):
        engine.put_events(trackingId="nope", sessionId="s", eventList=[view("i0001")])


def test_an_event_changes_the_next_recommendation(live):
    engine, _, tracking_id, campaign = live
    user = "u00042"
    before = engine.get_recommendations(campaignArn=campaign, userId=user, numResults=10)
    top = before["itemList"][0]["itemId"]
    engine.put_events(trackingId=tracking_id, userId=user, sessionId="s-42", eventList=[view(top)])
    after = engine.get_recommendations(campaignArn=campaign, userId=user, numResults=10)
    shown = [i["itemId"] for i in after["itemList"]]
    assert top not in shown  # seen now: excluded at once, no retraining
    assert shown != [i["itemId"] for i in before["itemList"]]


def test_anonymous_session_events_shape_recommendations_and_join_the_user(live):
    engine, _, tracking_id, campaign = live
    cats = categories()
    books = [i for i, c in cats.items() if c == "books"][:6]
    session = "anon-7"
    baseline = engine.get_recommendations(campaignArn=campaign, userId=session, numResults=20)
    base_books = sum(cats[i["itemId"]] == "books" for i in baseline["itemList"])
    engine.put_events(
        trackingId=tracking_id,
        sessionId=session,
        eventList=[view(item, k) for k, item in enumerate(books)],
    )
    shaped = engine.get_recommendations(campaignArn=campaign, userId=session, numResults=20)
    shaped_books = sum(cats[i["itemId"]] == "books" for i in shaped["itemList"])
    assert shaped_books >= base_books + 5, (base_books, shaped_books)
    assert not {i["itemId"] for i in shaped["itemList"]} & set(books)

    # The visitor logs in: the next event carries both ids and the session's events move.
    engine.put_events(
        trackingId=tracking_id,
        userId="new-user-7",
        sessionId=session,
        eventList=[view(books[-1], 60)],
    )
    rows = event_rows(engine, live[1], "_session_id = ?", [session])
    assert {r[0] for r in rows} == {"new-user-7"}
    assert len(rows) == 7
    joined = engine.get_recommendations(campaignArn=campaign, userId="new-user-7", numResults=20)
    assert not {i["itemId"] for i in joined["itemList"]} & set(books)
    assert sum(cats[i["itemId"]] == "books" for i in joined["itemList"]) >= base_books + 5


def test_event_fields_properties_and_duplicates(live):
    engine, group, tracking_id, _ = live
    event = view(
        "i0003",
        eventId="evt-dup-1",
        properties=json.dumps({"device": "tablet", "timeOfDay": "night"}),
        impression=["i0003", "i0004"],
    )
    engine.put_events(trackingId=tracking_id, userId="u00001", sessionId="s1", eventList=[event])
    engine.put_events(trackingId=tracking_id, userId="u00001", sessionId="s1", eventList=[event])
    rows = event_rows(engine, group, "_event_id = ?", ["evt-dup-1"])
    assert rows == [
        (
            "u00001",
            "i0003",
            int(NOW.timestamp()),
            "view",
            "tablet",
            "i0003|i0004",
            None,
            "evt-dup-1",
            "s1",
        )
    ]


def test_recommendation_id_is_logged_and_gives_implicit_impressions(live):
    engine, group, tracking_id, campaign = live
    answer = engine.get_recommendations(campaignArn=campaign, userId="u00077", numResults=5)
    rid = answer["recommendationId"]
    shown = [i["itemId"] for i in answer["itemList"]]
    engine.put_events(
        trackingId=tracking_id,
        userId="u00077",
        sessionId="s77",
        eventList=[view(shown[2], recommendationId=rid, eventId="evt-rid")],
    )
    (row,) = event_rows(engine, group, "_event_id = ?", ["evt-rid"])
    assert row[5] == "|".join(shown) and row[6] == rid
    with engine.store.cursor() as cur:
        logged = cur.execute(
            "SELECT campaign_arn, user_id, item_ids FROM recommendation_log "
            "WHERE recommendation_id = ?",
            [rid],
        ).fetchall()
    assert logged == [(campaign, "u00077", shown)]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([view("i0001", properties=json.dumps({"colour": "red"}))], "'colour' is not a field"),
        ([view("i0001", properties='{"device": 3}')], "must be a string"),
        ([view("i0001", properties="not json")], "not valid JSON"),
        ([view("i0001", properties="[1]")], "must be a JSON object"),
        ([{"eventType": "view", "sentAt": NOW}], r"eventList\[0\].itemId is required"),
        ([view("i0001"), {"itemId": "i2", "sentAt": NOW}], "eventType"),
        ([view(f"i000{k}") for k in range(11)], "eventList"),
        ([view("i0001", eventValue="x")], "eventValue"),
        ([view("i0001"), view("i0002", sentAt="yesterday")], r"eventList\[1\].sentAt"),
    ],
)
def test_bad_events_are_rejected_and_nothing_is_written(live, events, message):
    engine, group, tracking_id, _ = live
    before = len(event_rows(engine, group))
    with pytest.raises(InvalidInputException, match=message):
        engine.put_events(
            trackingId=tracking_id, userId="u00009", sessionId="bad", eventList=events
        )
    assert len(event_rows(engine, group)) == before


def test_put_items_and_users(live):
    engine, group, _, _ = live
    items = dataset_arn(engine, group, "ITEMS")
    users = dataset_arn(engine, group, "USERS")
    props = {
        "category": "books",
        "subCategory": "fiction",
        "brand": "Tailor Press",
        "price": 12.5,
        "creationTimestamp": int(NOW.timestamp()),
    }
    engine.put_items(
        datasetArn=items, items=[{"itemId": "i-new-1", "properties": json.dumps(props)}]
    )
    engine.put_items(
        datasetArn=items,
        items=[{"itemId": "i-new-1", "properties": json.dumps({**props, "price": 9.0})}],
    )
    engine.put_users(
        datasetArn=users,
        users=[
            {
                "userId": "u-new-1",
                "properties": json.dumps(
                    {"ageBand": "25-34", "membershipTier": "gold", "region": "west"}
                ),
            }
        ],
    )
    item_ds = engine.catalog.require(items, "dataset").id
    user_ds = engine.catalog.require(users, "dataset").id
    with engine.store.cursor() as cur:
        assert cur.execute(
            f'SELECT "PRICE", _source FROM ds_{item_ds} WHERE "ITEM_ID" = \'i-new-1\''
        ).fetchall() == [(9.0, "event")]
        assert cur.execute(
            f'SELECT "MEMBERSHIP_TIER" FROM ds_{user_ds} WHERE "USER_ID" = \'u-new-1\''
        ).fetchall() == [("gold",)]
        mapped = cur.execute(
            "SELECT entity, external_id FROM id_map WHERE external_id IN ('i-new-1', 'u-new-1')"
        ).fetchall()
    assert sorted(mapped) == [("ITEM", "i-new-1"), ("USER", "u-new-1")]
    with pytest.raises(InvalidInputException, match="SUB_CATEGORY is required"):
        engine.put_items(
            datasetArn=items,
            items=[{"itemId": "i-bad", "properties": json.dumps({"category": "books"})}],
        )
    with pytest.raises(InvalidInputException, match="is a USERS dataset"):
        engine.put_items(datasetArn=users, items=[{"itemId": "x"}])


def test_concurrent_writers_are_batched_and_all_kept(live):
    engine, group, tracking_id, _ = live
    batches_before = engine.events.batches
    requests_before = engine.events.requests
    errors = []

    def send(worker: int) -> None:
        try:
            for k in range(40):
                engine.put_events(
                    trackingId=tracking_id,
                    userId=f"load-{worker}",
                    sessionId=f"load-{worker}",
                    eventList=[view(f"i{(k % 900) + 1:04d}", k, eventId=f"load-{worker}-{k}")],
                )
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = event_rows(engine, group, "_event_id LIKE 'load-%'")
    assert len(rows) == 320
    assert Counter(r[0] for r in rows) == {f"load-{w}": 40 for w in range(8)}
    requests = engine.events.requests - requests_before
    batches = engine.events.batches - batches_before
    assert requests >= 320 and batches < requests  # group commit shared some commits


def test_events_survive_a_reopen(tmp_path):
    data_dir = tmp_path / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        tracking_id = engine.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
        engine.put_events(
            trackingId=tracking_id,
            userId="u00005",
            sessionId="s",
            eventList=[view("i0010", eventId="persist-1")],
        )
    with Engine(data_dir) as engine:
        assert len(event_rows(engine, group, "_event_id = 'persist-1'")) == 1
        # The seen-id set is rebuilt from the store: a retry after a restart is still a duplicate
        engine.put_events(
            trackingId=tracking_id,
            userId="u00005",
            sessionId="s",
            eventList=[view("i0010", eventId="persist-1")],
        )
        assert len(event_rows(engine, group, "_event_id = 'persist-1'")) == 1


def test_history_index_matches_the_store(live):
    engine, group, _, campaign = live
    model = engine.campaign_model(campaign)
    dataset = engine.catalog.require(dataset_arn(engine, group, "INTERACTIONS"), "dataset")
    with engine.store.cursor() as cur:
        rows = cur.execute(
            f"SELECT m.dense_id FROM ds_{dataset.id} t JOIN id_map m ON m.dataset_group_id = ? "
            f"AND m.entity = 'ITEM' AND m.external_id = t.\"ITEM_ID\" "
            f'WHERE t."USER_ID" = \'u00042\' ORDER BY t."TIMESTAMP"',
            [model.group_id],
        ).fetchall()
    history = engine.history.history(model.group_id, dataset.id, "u00042")
    expected = np.array([r[0] for r in rows][-500:])
    assert sorted(history.items[0].tolist()) == sorted(expected.tolist())
    assert np.all(np.diff(history.timestamps[0]) >= 0)


def test_import_invalidates_the_history(live, tmp_path):
    engine, group, _, _ = live
    model_group = engine.catalog.require(group, "dataset-group").id
    dataset = engine.catalog.require(dataset_arn(engine, group, "INTERACTIONS"), "dataset")
    engine.history.events(model_group, dataset.id, "u00001")
    path = tmp_path / "more.csv"
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nimported-user,i0005,1764546900,view\n")
    job = engine.create_dataset_import_job(
        jobName="more",
        datasetArn=dataset.arn,
        dataSource={"dataLocation": str(path)},
        roleArn="arn:aws:iam::000000000000:role/x",
        importMode="INCREMENTAL",
    )["datasetImportJobArn"]
    assert engine.wait_for(job)["status"] == "ACTIVE"
    found = engine.history.events(model_group, dataset.id, "imported-user")
    assert len(found.items) == 1


def test_writes_are_visible_within_a_second(live):
    engine, _, tracking_id, campaign = live
    user = "u00123"
    first = engine.get_recommendations(campaignArn=campaign, userId=user, numResults=3)
    item = first["itemList"][0]["itemId"]
    start = time.perf_counter()
    engine.put_events(trackingId=tracking_id, userId=user, sessionId="x", eventList=[view(item)])
    after = engine.get_recommendations(campaignArn=campaign, userId=user, numResults=3)
    assert time.perf_counter() - start < 1.0
    assert item not in {i["itemId"] for i in after["itemList"]}


def test_filters_see_items_changed_by_put_items(live):
    engine, group, _, campaign = live
    no_books = engine.create_filter(
        name="no-books-live",
        datasetGroupArn=group,
        filterExpression='EXCLUDE ItemID WHERE Items.CATEGORY IN ("books")',
    )["filterArn"]
    user = "u00555"
    cats = categories()

    def shown(**extra) -> list[str]:
        answer = engine.get_recommendations(
            campaignArn=campaign, userId=user, numResults=100, **extra
        )
        return [i["itemId"] for i in answer["itemList"]]

    plain = shown()
    book = next(i for i in plain if cats[i] == "books")
    assert book not in shown(filterArn=no_books)
    with open(SAMPLE / "items.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["ITEM_ID"] == book)
    engine.put_items(
        datasetArn=dataset_arn(engine, group, "ITEMS"),
        items=[
            {
                "itemId": book,
                "properties": json.dumps(
                    {
                        "category": "toys_games",
                        "subCategory": row["SUB_CATEGORY"],
                        "brand": row["BRAND"],
                        "price": float(row["PRICE"]),
                        "creationTimestamp": int(row["CREATION_TIMESTAMP"]),
                    }
                ),
            }
        ],
    )
    assert book in shown(filterArn=no_books)  # no longer a book: the filter lets it through


def test_previews_are_not_logged(live):
    engine, _, _, campaign = live
    answer = preview(engine.get_recommendations, campaignArn=campaign, userId="u00999")
    logged = engine.get_recommendations(campaignArn=campaign, userId="u00999")
    engine.events.submit(LogRows([])).result(10)  # everything queued before is written
    with engine.store.cursor() as cur:
        found = cur.execute(
            "SELECT recommendation_id FROM recommendation_log WHERE user_id = 'u00999'"
        ).fetchall()
    assert found == [(logged["recommendationId"],)]
    assert answer["recommendationId"] != logged["recommendationId"]


def test_a_group_without_event_types_serves_and_records_events(tmp_path):
    from tests.helpers import make_dataset, run_import, write_csv

    schema = {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
    rows = [[f"u{i % 60}", f"i{(i * 7) % 50}", 1_700_000_000 + i * 60] for i in range(1500)]
    with Engine(tmp_path / "d") as engine:
        group = engine.create_dataset_group(name="plain")["datasetGroupArn"]
        dataset = make_dataset(engine, group, "Interactions", schema)
        path = write_csv(tmp_path / "i.csv", ["USER_ID", "ITEM_ID", "TIMESTAMP"], rows)
        assert run_import(engine, dataset, str(path), "j")["status"] == "ACTIVE"
        campaign = deploy(engine, group, "plain", EASE)
        first = engine.get_recommendations(campaignArn=campaign, userId="u1", numResults=5)
        tracking = engine.create_event_tracker(name="t", datasetGroupArn=group)["trackingId"]
        top = first["itemList"][0]["itemId"]
        engine.put_events(trackingId=tracking, userId="u1", sessionId="s", eventList=[view(top)])
        after = engine.get_recommendations(campaignArn=campaign, userId="u1", numResults=5)
        assert top not in {i["itemId"] for i in after["itemList"]}
