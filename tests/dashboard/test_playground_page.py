"""The Campaigns playground: the boto3 and AWS CLI snippets (they are exactly the request, the
CLI's JSON arguments parse, the real AWS CLI accepts them and, against a running Tailor, gets
the same answer), and the page under AppTest (recommendations, ranking, context, filters with
their errors, promotions, creating a campaign)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.snippets import boto3_snippet, cli_args, cli_command
from engine.serving import exploration
from tests.helpers import CLIENT_CREDENTIALS, TEST_KEY_ENV, TEST_KEY_ID, TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "dashboard" / "app_pages" / "playground.py")
AWS = str(Path(sys.executable).parent / "aws")
CAMPAIGN = "arn:aws:personalize:us-east-1:000000000000:campaign/shop"
FILTER = "arn:aws:personalize:us-east-1:000000000000:filter/by-category"
TRICKY = {
    "campaignArn": CAMPAIGN,
    "userId": 'o\'neil "the" user',
    "numResults": 10,
    "context": {"DEVICE": "mobile", "TIME_OF_DAY": "night"},
    "filterArn": FILTER,
    "filterValues": {"CATEGORY": '"fashion","bo\\"oks"', "PRICE": "20"},
    "promotions": [
        {
            "name": "summer sale ☀",
            "percentPromotedItems": 20,
            "filterArn": FILTER,
            "filterValues": {"CATEGORY": '"sports_outdoor"'},
        }
    ],
    "metadataColumns": {"ITEMS": ["CATEGORY", "PRICE"]},
}
RANKING = {"campaignArn": CAMPAIGN, "userId": "u1", "inputList": ["i1", "i 2", "-i3"]}


# --- snippets ------------------------------------------------------------------------------------


def called_with(snippet: str) -> tuple[str, dict]:
    """The runtime method a boto3 snippet calls and its keyword arguments, as values."""
    tree = ast.parse(snippet)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "runtime"
    ]
    assert len(calls) == 1
    return calls[0].func.attr, {k.arg: ast.literal_eval(k.value) for k in calls[0].keywords}


@pytest.mark.parametrize(
    ("operation", "request_", "method"),
    [
        ("GetRecommendations", TRICKY, "get_recommendations"),
        ("GetPersonalizedRanking", RANKING, "get_personalized_ranking"),
    ],
)
def test_boto3_snippet_is_exactly_the_request(operation, request_, method):
    snippet = boto3_snippet(operation, request_, "http://localhost:8501/api", "eu-west-1", "/d/c")
    assert called_with(snippet) == (method, request_)
    assert 'endpoint_url="http://localhost:8501/api"' in snippet
    assert 'region_name="eu-west-1"' in snippet
    assert "AWS_SHARED_CREDENTIALS_FILE=/d/c" in snippet
    assert max(len(line) for line in snippet.splitlines()) <= 100


def test_cli_json_arguments_parse_back_to_the_request():
    args = cli_args("GetRecommendations", TRICKY)
    assert args[0] == "get-recommendations"
    options = {args[i]: args[i + 1] for i in range(1, len(args), 2)}  # one value each
    assert options["--campaign-arn"] == CAMPAIGN
    assert options["--user-id"] == TRICKY["userId"]
    assert options["--num-results"] == "10"
    for option, key in (
        ("--context", "context"),
        ("--filter-values", "filterValues"),
        ("--promotions", "promotions"),
        ("--metadata-columns", "metadataColumns"),
    ):
        assert json.loads(options[option]) == TRICKY[key]
    ranking = cli_args("GetPersonalizedRanking", RANKING)
    assert ranking[ranking.index("--input-list") + 1 :] == RANKING["inputList"]


@pytest.fixture
def fake_aws(tmp_path):
    """An `aws` on PATH that prints its argv as JSON, to see what the shell hands it."""
    script = tmp_path / "bin" / "aws"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{script.parent}:{os.environ['PATH']}"}


@pytest.mark.parametrize(
    ("operation", "request_"),
    [("GetRecommendations", TRICKY), ("GetPersonalizedRanking", RANKING)],
)
def test_the_shell_hands_the_cli_exactly_these_arguments(fake_aws, operation, request_):
    command = cli_command(operation, request_, "http://h:1/api", "us-east-1", "/tmp/my dir/c")
    assert command.startswith("export AWS_SHARED_CREDENTIALS_FILE='/tmp/my dir/c'\n")
    shown = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=fake_aws, check=True
    )
    argv = json.loads(shown.stdout)
    expected = cli_args(operation, request_)
    assert argv == [
        "personalize-runtime",
        expected[0],
        "--endpoint-url",
        "http://h:1/api",
        "--region",
        "us-east-1",
        *expected[1:],
    ]


@pytest.mark.slow
def test_the_real_aws_cli_accepts_the_arguments(tmp_path):
    """The AWS CLI validates every parameter against the service model before it connects;
    nothing listens on port 9, so a valid command fails only at the connection."""
    command = cli_command("GetRecommendations", TRICKY, "http://127.0.0.1:9/api", "us-east-1")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_MAX_ATTEMPTS": "1",
        "PATH": f"{Path(AWS).parent}:{os.environ['PATH']}",
    }
    ran = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
    assert ran.returncode != 0
    assert "Could not connect to the endpoint URL" in ran.stderr, ran.stderr
    assert "validation" not in ran.stderr.lower() and "json" not in ran.stderr.lower()


@pytest.mark.slow
def test_snippets_get_the_same_answer_from_a_running_tailor(tmp_path):
    from engine import Engine
    from engine.sample_data import load_sample
    from tests.dashboard.conftest import POPULARITY, serve, train
    from tests.test_server import free_port, stop, wait_until_up

    data_dir = tmp_path / "d"
    with Engine(data_dir) as engine:
        group = load_sample(engine)
        campaign = serve(engine, "popular", train(engine, group, "popular", POPULARITY))
        books = engine.create_filter(
            name="category",
            datasetGroupArn=group,
            filterExpression="INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
        )["filterArn"]
        request = {
            "campaignArn": campaign,
            "userId": "u00042",
            "numResults": 8,
            "context": {"DEVICE": "mobile"},
            "filterArn": books,
            "filterValues": {"CATEGORY": '"books","fashion"'},
            "promotions": [
                {
                    "name": "toys",
                    "percentPromotedItems": 25,
                    "filterArn": books,
                    "filterValues": {"CATEGORY": '"toys_games"'},
                }
            ],
            "metadataColumns": {"ITEMS": ["CATEGORY"]},
        }
        direct = engine.get_recommendations(**request)
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "tailor"), "api", "--data-dir", str(data_dir)]
        + ["--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **TEST_KEY_ENV},
    )
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "PATH": f"{Path(AWS).parent}:{os.environ['PATH']}",
    }
    try:
        url = f"http://127.0.0.1:{port}/api"
        wait_until_up(f"{url}/health", proc)
        command = cli_command("GetRecommendations", request, url, "us-east-1")
        ran = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
        assert ran.returncode == 0, ran.stderr
        answer = json.loads(ran.stdout)
        snippet = boto3_snippet("GetRecommendations", request, url, "us-east-1")
        snippet = snippet.replace(
            '    region_name="us-east-1",\n',
            '    region_name="us-east-1",\n'
            + "".join(f"    {k}={v!r},\n" for k, v in CLIENT_CREDENTIALS.items()),
        )
        printed = subprocess.run(
            [sys.executable, "-c", snippet], capture_output=True, text=True, env=env
        )
        assert printed.returncode == 0, printed.stderr
    finally:
        stop(proc)
    for got in (answer["itemList"], direct["itemList"]):
        assert len(got) == 8
        promoted = [i for i in got if i.get("promotionName") == "toys"]
        assert len(promoted) == exploration.promoted_count(8, 25)
        assert {i["metadata"]["CATEGORY"] for i in promoted} == {"toys_games"}
        rest = [i for i in got if "promotionName" not in i]
        assert {i["metadata"]["CATEGORY"] for i in rest} <= {"books", "fashion"}

    # Popularity ranks the same way for everyone: the CLI, boto3 and the Engine agree on the
    # items that are not promoted (promoted positions are random per recommendationId).
    def organic(items):
        return [i["itemId"] for i in items if "promotionName" not in i]

    assert organic(answer["itemList"]) == organic(direct["itemList"])
    lines = printed.stdout.splitlines()
    assert len(lines) == 8
    assert [line.split()[0] for line in lines if "Promoted" not in line] == organic(
        direct["itemList"]
    )


# --- the page ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cleanup_playground(sample):
    """Filters and campaigns the page creates are removed after this module's tests."""
    yield
    engine = sample["engine"]
    for campaign in engine.list_campaigns()["campaigns"]:
        if campaign["name"].endswith("-playground"):
            engine.delete_campaign(campaignArn=campaign["campaignArn"])
    for found in engine.list_filters(datasetGroupArn=sample["group"])["Filters"]:
        if found["name"].startswith("pg-"):
            engine.delete_filter(filterArn=found["filterArn"])


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, key: str, value) -> AppTest:
    at.selectbox(key=key).set_value(value).run()
    assert not at.exception, at.exception
    return at


def send(at: AppTest) -> AppTest:
    at.button(key="pg_send").click().run()
    assert not at.exception, at.exception
    return at


def code_blocks(at: AppTest) -> tuple[str, str]:
    codes = [c.value for c in at.code]
    python = next(c for c in codes if c.startswith("import boto3"))
    cli = next(c for c in codes if "aws personalize-runtime" in c)
    return python, cli


def test_recommendations_with_context_and_their_code(app, cleanup_playground):
    at = open_page()
    assert at.title[0].value == "Campaigns playground"
    choose(at, "pg_campaign", app["campaigns"]["ease"])
    at.number_input(key="pg_num_results").set_value(7).run()
    choose(at, "pg_context_DEVICE", "mobile")
    send(at)
    table = at.dataframe[0].value
    assert len(table) == 7
    assert list(table.columns[:5]) == ["rank", "itemId", "score", "reason", "promotionName"]
    assert "CATEGORY" in table.columns  # metadataColumns default: the first categorical field
    assert table["score"].is_monotonic_decreasing
    python, cli = code_blocks(at)
    method, kwargs = called_with(python)
    assert method == "get_recommendations"
    assert kwargs["numResults"] == 7 and kwargs["context"] == {"DEVICE": "mobile"}
    assert kwargs["userId"] == at.selectbox(key="pg_user").value
    assert "--num-results 7" in cli and """--context '{"DEVICE":"mobile"}'""" in cli
    # The engine answers the same request with the same items.
    again = app["engine"].get_recommendations(**kwargs)
    assert [i["itemId"] for i in again["itemList"]] == list(table["itemId"])
    # Changing an input afterwards says the answer is for the earlier request.
    at.number_input(key="pg_num_results").set_value(5).run()
    assert any("inputs changed" in c.value for c in at.caption)
    assert "--num-results 5" in code_blocks(at)[1]


def test_a_filter_error_shows_where_and_a_promotion_marks_items(app, cleanup_playground):
    at = open_page()
    choose(at, "pg_campaign", app["campaigns"]["popular"])
    at.text_input(key="pg_filter_name").set_value("pg-category")
    at.text_area(key="pg_filter_expression").set_value(
        "INCLUDE ItemID Items.CATEGORY IN ($CATEGORY)"
    )
    at.button(key="pg_filter_create").click().run()
    assert not at.exception
    assert "position 16" in at.error[0].value
    caret = next(c.value for c in at.code if "^" in c.value)
    assert caret.splitlines()[1] == " " * 15 + "^"  # under "Items"
    at.text_area(key="pg_filter_expression").set_value(
        "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)"
    )
    at.button(key="pg_filter_create").click().run()
    assert not at.exception and not at.error
    assert any("pg-category created" in s.value for s in at.success)
    created = at.selectbox(key="pg_filter").value
    assert created.endswith("filter/pg-category")
    param = next(t for t in at.text_input if t.label == "$CATEGORY")
    param.set_value("books, fashion").run()
    at.toggle(key="pg_promote").set_value(True).run()
    choose(at, "pg_promo_filter", created)
    promo_param = next(t for t in at.text_input if t.key.startswith("pg_promo_fv"))
    promo_param.set_value("toys_games").run()
    at.slider(key="pg_promo_percent").set_value(30).run()
    send(at)
    table = at.dataframe[0].value
    assert len(table) == 10
    promoted = table[table["promotionName"] == "promotion"]
    assert len(promoted) == exploration.promoted_count(10, 30)
    assert set(promoted["CATEGORY"]) == {"toys_games"}
    assert set(promoted["reason"]) == {"Promoted item"}
    assert set(table[table["promotionName"] == ""]["CATEGORY"]) <= {"books", "fashion"}
    badges = " ".join(m.value for m in at.markdown)
    assert f"{len(promoted)} promoted" in badges
    _, kwargs = called_with(code_blocks(at)[0])
    assert kwargs["filterValues"] == {"CATEGORY": '"books","fashion"'}
    assert kwargs["promotions"] == [
        {
            "name": "promotion",
            "percentPromotedItems": 30,
            "filterArn": created,
            "filterValues": {"CATEGORY": '"toys_games"'},
        }
    ]


def test_ranking_related_items_and_errors(app, cleanup_playground):
    at = open_page()
    choose(at, "pg_campaign", app["campaigns"]["ease"])
    at.radio(key="pg_operation_USER_PERSONALIZATION").set_value("GetPersonalizedRanking").run()
    at.text_area(key="pg_input_list").set_value("i0001, i0002\ni0003 nope").run()
    send(at)
    table = at.dataframe[0].value
    assert list(table["itemId"])[-1] == "nope" and len(table) == 4  # unknown items go last
    assert called_with(code_blocks(at)[0])[0] == "get_personalized_ranking"
    assert "--input-list i0001 i0002 i0003 nope" in code_blocks(at)[1]

    choose(at, "pg_campaign", app["campaigns"]["sims"])
    assert at.selectbox(key="pg_item").value
    send(at)
    assert len(at.dataframe[0].value) == 10
    assert "itemId" in called_with(code_blocks(at)[0])[1]

    choose(at, "pg_campaign", app["campaigns"]["ease"])
    at.number_input(key="pg_num_results").set_value(120).run()  # over 50 with metadata
    send(at)
    assert "InvalidInputException" in at.error[0].value and "50" in at.error[0].value
    assert not at.dataframe


def test_create_a_campaign_with_exploration_settings(app, cleanup_playground):
    engine = app["engine"]
    at = open_page()
    choose(at, "pg_new_version", app["versions"]["popular"])
    name_box = next(t for t in at.text_input if t.key.startswith("pg_new_name"))
    assert name_box.value == "popular-playground"
    at.toggle(key=f"pg_new_explore_{app['versions']['popular']}").set_value(True).run()
    at.slider(key="pg_new_weight").set_value(0.5).run()
    at.number_input(key="pg_new_cutoff").set_value(10).run()
    at.button(key="pg_create").click().run()
    assert not at.exception, at.exception
    arn = at.selectbox(key="pg_campaign").value
    assert arn.endswith("campaign/popular-playground")
    campaign = engine.describe_campaign(campaignArn=arn)["campaign"]
    assert campaign["status"] == "ACTIVE"
    assert campaign["campaignConfig"]["itemExplorationConfig"] == {
        "explorationWeight": "0.5",
        "explorationItemAgeCutOff": "10",
    }
    send(at)
    assert len(at.dataframe[0].value) == 10
    # A second campaign with the same name is refused with the engine's message.
    choose(at, "pg_new_version", app["versions"]["popular"])
    next(t for t in at.text_input if t.key.startswith("pg_new_name")).set_value(
        "popular-playground"
    ).run()
    at.button(key="pg_create").click().run()
    assert not at.exception
    assert "already exists" in at.error[0].value.lower()


def test_without_campaigns_the_page_says_what_to_do(engine):
    from engine import runtime

    runtime.register(engine)
    try:
        at = open_page()
        infos = [i.value for i in at.info]
        assert any("No trained solution version yet" in i for i in infos)
        assert any("No active campaign yet" in i for i in infos)
        assert "pg_send" not in [b.key for b in at.button]
    finally:
        runtime.unregister()
