"""Wire compatibility end to end, as an Amazon Personalize user works: a real `tailor api`
process driven only by the AWS CLI (subprocesses) or by boto3's `personalize` and
`personalize-runtime` clients, from an empty data directory to recommendations. Every answer
is checked against an independent read of data/sample's CSV files."""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers import CLIENT_CREDENTIALS, TEST_KEY_ID, TEST_SECRET
from tests.shapes import assert_output_shape
from tests.test_server import free_port, start, stop, wait_until_up

AWS = str(Path(sys.executable).parent / "aws")
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/x"
MISSING_GROUP = "arn:aws:personalize:us-east-1:000000000000:dataset-group/no-such-group"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
RANKING = "arn:aws:personalize:::recipe/aws-personalized-ranking"
DONE = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")


# --- independent reads of the sample -----------------------------------------------------


def read_interactions(path: Path) -> dict[str, set[str]]:
    """user -> the items they interacted with (any event type)."""
    seen: dict[str, set[str]] = defaultdict(set)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            seen[row["USER_ID"]].add(row["ITEM_ID"])
    return dict(seen)


@functools.cache
def sample_seen() -> dict[str, set[str]]:
    return read_interactions(SAMPLE / "interactions.csv")


@functools.cache
def event_counts() -> Counter[str]:
    """Events per user in the whole sample."""
    with open(SAMPLE / "interactions.csv", newline="") as handle:
        return Counter(row["USER_ID"] for row in csv.DictReader(handle))


@functools.cache
def item_categories() -> dict[str, str]:
    with open(SAMPLE / "items.csv", newline="") as handle:
        return {row["ITEM_ID"]: row["CATEGORY"] for row in csv.DictReader(handle)}


def distinct_users_per_item(seen: dict[str, set[str]]) -> Counter[str]:
    return Counter(item for items in seen.values() for item in items)


def pick_user(seen: dict[str, set[str]], low: int = 20, high: int = 60) -> str:
    """A user with a moderate history (well under the 500 latest events serving reads)."""
    counts = Counter({u: n for u, n in event_counts().items() if u in seen})
    return next(u for u in sorted(seen) if low <= counts[u] <= high)


# --- server and polling ------------------------------------------------------------------


@pytest.fixture
def tailor(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A `tailor api` process on a fresh data directory: (endpoint URL, data directory)."""
    data_dir = tmp_path / "d"
    port = free_port()
    proc = start("api", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        yield f"http://127.0.0.1:{port}/api", data_dir
    finally:
        stop(proc)


def poll(describe: Callable[[], dict], timeout: float = 240.0, pause: float = 0.2) -> dict:
    """Call `describe` until its status is final; the final description."""
    deadline = time.monotonic() + timeout
    while True:
        found = describe()
        if found["status"] in DONE:
            return found
        assert time.monotonic() < deadline, f"still {found['status']}: {found}"
        time.sleep(pause)


def without_metadata(response: dict) -> dict:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# --- 1. the AWS CLI ----------------------------------------------------------------------


@pytest.mark.slow
def test_aws_cli_lifecycle(tailor, tmp_path):
    url, data_dir = tailor
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=TEST_KEY_ID,
        AWS_SECRET_ACCESS_KEY=TEST_SECRET,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )

    def aws(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [AWS, *args, "--endpoint-url", url, "--region", REGION, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
        return done

    def run(*args: str) -> dict:
        out = aws(*args).stdout
        return json.loads(out) if out.strip() else {}

    def import_job(name: str, location: str) -> dict:
        arn = run(
            "personalize",
            "create-dataset-import-job",
            "--job-name",
            name,
            "--dataset-arn",
            dataset,
            "--data-source",
            f"dataLocation={location}",
            "--role-arn",
            ROLE,
        )["datasetImportJobArn"]
        return poll(
            lambda: run(
                "personalize", "describe-dataset-import-job", "--dataset-import-job-arn", arn
            )["datasetImportJob"],
            pause=0.5,
        )

    group = run("personalize", "create-dataset-group", "--name", "cli-shop")["datasetGroupArn"]
    assert group == "arn:aws:personalize:us-east-1:000000000000:dataset-group/cli-shop"
    schema = run(
        "personalize",
        "create-schema",
        "--name",
        "cli-interactions",
        "--schema",
        f"file://{SAMPLE / 'interactions.schema.json'}",
    )["schemaArn"]
    dataset = run(
        "personalize",
        "create-dataset",
        "--name",
        "cli-interactions",
        "--schema-arn",
        schema,
        "--dataset-group-arn",
        group,
        "--dataset-type",
        "Interactions",
    )["datasetArn"]

    # First the whole file through file://, then (FULL, replacing it) the older part of it
    # through s3://, which Tailor maps to <data_dir>/s3/bucket/key.
    first = import_job("cli-file", f"file://{SAMPLE / 'interactions.csv'}")
    assert first["status"] == "ACTIVE", first.get("failureReason")
    assert first["roleArn"] == ROLE
    assert first["dataSource"]["dataLocation"] == f"file://{SAMPLE / 'interactions.csv'}"
    subset = data_dir / "s3" / "cli-bucket" / "older" / "interactions.csv"
    subset.parent.mkdir(parents=True)
    with open(SAMPLE / "interactions.csv") as source, open(subset, "w") as target:
        for n, line in enumerate(source):
            if n > 40_000:
                break
            target.write(line)
    second = import_job("cli-s3", "s3://cli-bucket/older/interactions.csv")
    assert second["status"] == "ACTIVE", second.get("failureReason")
    assert second["importMode"] == "FULL"

    jobs = run("personalize", "list-dataset-import-jobs", "--dataset-arn", dataset)
    assert {(j["jobName"], j["status"]) for j in jobs["datasetImportJobs"]} == {
        ("cli-file", "ACTIVE"),
        ("cli-s3", "ACTIVE"),
    }
    groups = run("personalize", "list-dataset-groups")["datasetGroups"]
    assert [(g["name"], g["datasetGroupArn"], g["status"]) for g in groups] == [
        ("cli-shop", group, "ACTIVE")
    ]
    missing = aws(
        "personalize", "describe-dataset-group", "--dataset-group-arn", MISSING_GROUP, ok=False
    )
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert missing.stdout.strip() == ""

    solution = run(
        "personalize",
        "create-solution",
        "--name",
        "cli-popular",
        "--dataset-group-arn",
        group,
        "--recipe-arn",
        POPULARITY,
    )["solutionArn"]
    version_arn = run("personalize", "create-solution-version", "--solution-arn", solution)[
        "solutionVersionArn"
    ]
    version = poll(
        lambda: run(
            "personalize", "describe-solution-version", "--solution-version-arn", version_arn
        )["solutionVersion"],
        pause=0.5,
    )
    assert version["status"] == "ACTIVE", version.get("failureReason")
    campaign_arn = run(
        "personalize",
        "create-campaign",
        "--name",
        "cli-popular",
        "--solution-version-arn",
        version_arn,
        "--min-provisioned-tps",
        "1",
    )["campaignArn"]
    campaign = poll(
        lambda: run("personalize", "describe-campaign", "--campaign-arn", campaign_arn)["campaign"],
        pause=0.5,
    )
    assert campaign["status"] == "ACTIVE", campaign.get("failureReason")

    # Popularity-Count ranks items by distinct users; the served data must be the s3 subset
    # (FULL replaced the first import), and the user's own items are left out.
    seen = read_interactions(subset)
    user = pick_user(seen, 5, 40)
    answer = run(
        "personalize-runtime",
        "get-recommendations",
        "--campaign-arn",
        campaign_arn,
        "--user-id",
        user,
        "--num-results",
        "10",
    )
    items = [i["itemId"] for i in answer["itemList"]]
    assert len(items) == 10 and len(set(items)) == 10
    assert not set(items) & seen[user]
    popularity = distinct_users_per_item(seen)
    expected = sorted((c for i, c in popularity.items() if i not in seen[user]), reverse=True)
    assert [popularity[i] for i in items] == expected[:10]
    assert answer["recommendationId"]


# --- 2. boto3 ----------------------------------------------------------------------------


def clients(url: str):
    kwargs = {"endpoint_url": url, "region_name": REGION, **CLIENT_CREDENTIALS}
    return boto3.client("personalize", **kwargs), boto3.client("personalize-runtime", **kwargs)


def check_shape(op: str, response: dict, service: str = "personalize") -> None:
    assert_output_shape(op, without_metadata(response), service)


@pytest.mark.slow
def test_boto3_whole_lifecycle(tailor):
    url, data_dir = tailor
    personalize, runtime = clients(url)
    errors = personalize.exceptions

    created = personalize.create_dataset_group(name="wire-shop")
    check_shape("CreateDatasetGroup", created)
    group = created["datasetGroupArn"]
    with pytest.raises(errors.ResourceAlreadyExistsException):
        personalize.create_dataset_group(name="wire-shop")
    with pytest.raises(errors.ResourceNotFoundException):
        personalize.describe_dataset_group(datasetGroupArn=MISSING_GROUP)
    with pytest.raises(errors.InvalidInputException):
        personalize.create_dataset_group(name="not a valid name!")
    described = personalize.describe_dataset_group(datasetGroupArn=group)
    check_shape("DescribeDatasetGroup", described)
    assert described["datasetGroup"]["status"] == "ACTIVE"

    # schemas and datasets from the sample's Avro files; the three imports come from an s3://
    # location, a file:// URL and a plain path
    (data_dir / "s3" / "shop").mkdir(parents=True)
    shutil.copy(SAMPLE / "interactions.csv", data_dir / "s3" / "shop" / "interactions.csv")
    locations = {
        "Interactions": "s3://shop/interactions.csv",
        "Users": f"file://{SAMPLE / 'users.csv'}",
        "Items": str(SAMPLE / "items.csv"),
    }
    datasets, jobs = {}, {}
    for kind, location in locations.items():
        schema = personalize.create_schema(
            name=f"wire-{kind.lower()}",
            schema=(SAMPLE / f"{kind.lower()}.schema.json").read_text(),
        )["schemaArn"]
        datasets[kind] = personalize.create_dataset(
            name=f"wire-{kind.lower()}",
            schemaArn=schema,
            datasetGroupArn=group,
            datasetType=kind,
        )["datasetArn"]
        jobs[kind] = personalize.create_dataset_import_job(
            jobName=f"wire-{kind.lower()}-import",
            datasetArn=datasets[kind],
            dataSource={"dataLocation": location},
            roleArn=ROLE,
        )["datasetImportJobArn"]
    with pytest.raises(errors.InvalidInputException):
        personalize.create_dataset_import_job(
            jobName="wire-nowhere",
            datasetArn=datasets["Items"],
            dataSource={"dataLocation": "s3://shop/no-such-file.csv"},
            roleArn=ROLE,
        )
    for kind, arn in jobs.items():
        job = poll(
            lambda arn=arn: personalize.describe_dataset_import_job(datasetImportJobArn=arn)[
                "datasetImportJob"
            ]
        )
        assert job["status"] == "ACTIVE", (kind, job.get("failureReason"))
        assert job["dataSource"]["dataLocation"] == locations[kind]
    described_job = personalize.describe_dataset_import_job(
        datasetImportJobArn=jobs["Interactions"]
    )
    # botocore models roleArn with the Personalize ARN pattern, which no IAM role ARN matches
    # (AWS itself answers with the IAM ARN): compare it, check the rest against the shape
    assert described_job["datasetImportJob"].pop("roleArn") == ROLE
    check_shape("DescribeDatasetImportJob", described_job)
    check_shape("DescribeDataset", personalize.describe_dataset(datasetArn=datasets["Items"]))

    # two solutions trained side by side: User-Personalization (a few epochs) for
    # recommendations, Personalized-Ranking for re-ranking
    solutions = {
        name: personalize.create_solution(
            name=name,
            datasetGroupArn=group,
            recipeArn=recipe,
            solutionConfig={"algorithmHyperParameters": {"epochs": "3", "no_components": "16"}},
        )["solutionArn"]
        for name, recipe in (("wire-user", USER_PERSONALIZATION), ("wire-rank", RANKING))
    }
    solution = personalize.describe_solution(solutionArn=solutions["wire-user"])
    check_shape("DescribeSolution", solution)
    assert solution["solution"]["recipeArn"] == USER_PERSONALIZATION
    assert solution["solution"]["solutionConfig"]["algorithmHyperParameters"]["epochs"] == "3"
    versions = {
        name: personalize.create_solution_version(solutionArn=arn)["solutionVersionArn"]
        for name, arn in solutions.items()
    }
    for arn in versions.values():
        version = poll(
            lambda arn=arn: personalize.describe_solution_version(solutionVersionArn=arn)[
                "solutionVersion"
            ]
        )
        assert version["status"] == "ACTIVE", version.get("failureReason")
    check_shape(
        "DescribeSolutionVersion",
        personalize.describe_solution_version(solutionVersionArn=versions["wire-user"]),
    )
    metrics = personalize.get_solution_metrics(solutionVersionArn=versions["wire-user"])
    check_shape("GetSolutionMetrics", metrics)
    assert metrics["solutionVersionArn"] == versions["wire-user"]
    for name in (
        "coverage",
        "mean_reciprocal_rank_at_25",
        "normalized_discounted_cumulative_gain_at_10",
        "precision_at_10",
    ):
        assert 0 < metrics["metrics"][name] <= 1, (name, metrics["metrics"])

    campaigns = {
        name: personalize.create_campaign(name=name, solutionVersionArn=arn, minProvisionedTPS=1)[
            "campaignArn"
        ]
        for name, arn in versions.items()
    }
    for arn in campaigns.values():
        campaign = poll(lambda arn=arn: personalize.describe_campaign(campaignArn=arn)["campaign"])
        assert campaign["status"] == "ACTIVE", campaign.get("failureReason")
    check_shape(
        "DescribeCampaign", personalize.describe_campaign(campaignArn=campaigns["wire-user"])
    )

    # recommendations: known items, none the user already interacted with
    seen, categories = sample_seen(), item_categories()
    user = pick_user(seen)
    answer = runtime.get_recommendations(
        campaignArn=campaigns["wire-user"], userId=user, numResults=10
    )
    check_shape("GetRecommendations", answer, "personalize-runtime")
    items = [i["itemId"] for i in answer["itemList"]]
    assert len(items) == 10 and len(set(items)) == 10
    assert set(items) <= set(categories)
    assert not set(items) & seen[user]
    # aws-user-personalization explores by default (weight 0.3, as Personalize): exploration
    # items are spread through the list and marked; the others keep the model's order.
    ranked_by_model = [i for i in answer["itemList"] if "reason" not in i]
    assert all(i["reason"] == ["Exploration"] for i in answer["itemList"] if "reason" in i)
    scores = [i["score"] for i in ranked_by_model]
    assert scores == sorted(scores, reverse=True)
    assert 0 < sum(i.get("score", 0) for i in answer["itemList"]) <= 1.0001

    # re-ranking: the input list comes back reordered, an unknown item last and unscored
    candidates = sorted(set(categories) - seen[user])[:8] + sorted(seen[user])[:2] + ["nope"]
    ranked = runtime.get_personalized_ranking(
        campaignArn=campaigns["wire-rank"], userId=user, inputList=candidates
    )
    check_shape("GetPersonalizedRanking", ranked, "personalize-runtime")
    order = [i["itemId"] for i in ranked["personalizedRanking"]]
    assert sorted(order) == sorted(candidates)
    assert order[-1] == "nope" and "score" not in ranked["personalizedRanking"][-1]
    ranked_scores = [i["score"] for i in ranked["personalizedRanking"][:-1]]
    assert ranked_scores == sorted(ranked_scores, reverse=True)

    # a filter with a placeholder: the category that dominates the user's list is excluded
    filter_arn = personalize.create_filter(
        name="wire-no-category",
        datasetGroupArn=group,
        filterExpression="EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATS)",
    )["filterArn"]
    described_filter = poll(lambda: personalize.describe_filter(filterArn=filter_arn)["filter"])
    assert described_filter["status"] == "ACTIVE", described_filter.get("failureReason")
    check_shape("DescribeFilter", personalize.describe_filter(filterArn=filter_arn))
    wide = runtime.get_recommendations(
        campaignArn=campaigns["wire-user"], userId=user, numResults=25
    )
    top, _ = Counter(categories[i["itemId"]] for i in wide["itemList"]).most_common(1)[0]
    others = sorted(set(categories.values()) - {top})
    # AWS: an EXCLUDE whose placeholder gets no value is ignored (INCLUDE would need one)
    unvalued = runtime.get_recommendations(
        campaignArn=campaigns["wire-user"], userId=user, numResults=10, filterArn=filter_arn
    )
    assert [i["itemId"] for i in unvalued["itemList"]] == items
    for excluded in ({top}, {top, others[0]}):
        filtered = runtime.get_recommendations(
            campaignArn=campaigns["wire-user"],
            userId=user,
            numResults=10,
            filterArn=filter_arn,
            filterValues={"CATS": ",".join(f'"{c}"' for c in sorted(excluded))},
        )
        kept = [i["itemId"] for i in filtered["itemList"]]
        assert len(kept) == 10
        assert not {categories[i] for i in kept} & excluded
        assert not set(kept) & seen[user]

    # list operations through boto3's paginators, one resource per page
    for name in ("wire-page-a", "wire-page-b"):
        personalize.create_dataset_group(name=name)
    pages = list(
        personalize.get_paginator("list_dataset_groups").paginate(PaginationConfig={"PageSize": 1})
    )
    assert len(pages) >= 3 and all(len(p["datasetGroups"]) <= 1 for p in pages)
    check_shape("ListDatasetGroups", pages[0])
    names = [g["name"] for p in pages for g in p["datasetGroups"]]
    assert sorted(names) == ["wire-page-a", "wire-page-b", "wire-shop"]
    schemas = [
        s["name"]
        for p in personalize.get_paginator("list_schemas").paginate(
            PaginationConfig={"PageSize": 2}
        )
        for s in p["schemas"]
    ]
    assert sorted(schemas) == ["wire-interactions", "wire-items", "wire-users"]
    listed_jobs = [
        j["datasetImportJobArn"]
        for p in personalize.get_paginator("list_dataset_import_jobs").paginate(
            PaginationConfig={"PageSize": 1}
        )
        for j in p["datasetImportJobs"]
    ]
    assert sorted(listed_jobs) == sorted(jobs.values())
    for op, key, arns in (
        ("list_solutions", "solutions", solutions),
        ("list_campaigns", "campaigns", campaigns),
    ):
        found = [
            r[f"{key[:-1]}Arn"]
            for p in personalize.get_paginator(op).paginate(PaginationConfig={"PageSize": 1})
            for r in p[key]
        ]
        assert sorted(found) == sorted(arns.values()), op
    filters = personalize.list_filters(datasetGroupArn=group)
    check_shape("ListFilters", filters)
    assert [f["filterArn"] for f in filters["Filters"]] == [filter_arn]

    # deletions: the filter and the campaign go away, and say so with the modelled errors
    personalize.delete_filter(filterArn=filter_arn)
    gone(lambda: personalize.describe_filter(filterArn=filter_arn), errors)
    assert personalize.list_filters(datasetGroupArn=group)["Filters"] == []
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(
            campaignArn=campaigns["wire-user"],
            userId=user,
            filterArn=filter_arn,
            filterValues={"CATS": f'"{top}"'},
        )
    personalize.delete_campaign(campaignArn=campaigns["wire-user"])
    gone(lambda: personalize.describe_campaign(campaignArn=campaigns["wire-user"]), errors)
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(campaignArn=campaigns["wire-user"], userId=user)
    remaining = personalize.list_campaigns(solutionArn=solutions["wire-rank"])["campaigns"]
    assert [c["campaignArn"] for c in remaining] == [campaigns["wire-rank"]]
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=campaigns["wire-rank"], userId=user, numResults=900)


def gone(describe: Callable[[], dict], errors, timeout: float = 30.0) -> None:
    """Wait until `describe` raises ResourceNotFoundException (deletion may be asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = describe()
        except errors.ResourceNotFoundException:
            return
        assert time.monotonic() < deadline, f"not deleted: {found}"
        time.sleep(0.2)


# --- 3. Personalize's own hyperparameter names ------------------------------------------


@pytest.fixture(scope="module")
def shared_tailor(tmp_path_factory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("wire-hp") / "d"
    port = free_port()
    proc = start("api", data_dir, port)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", proc)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        stop(proc)


RECENCY_MASK_GAP = (
    "recency_mask and the history-length percentiles are User-Personalization settings of "
    "AWS's RNN; Tailor's LightFM model has no equivalent, so they are refused with a message"
)


@pytest.mark.parametrize(
    "hyperparameters",
    [
        pytest.param({"no_components": "16", "epochs": "2"}, id="tailor-names"),
        pytest.param({"hidden_dimension": "16"}, id="hidden_dimension"),
        pytest.param({"bptt": "32", "hidden_dimension": "8"}, id="bptt"),
        pytest.param(
            {"recency_mask": "true"},
            id="recency_mask",
            marks=pytest.mark.xfail(strict=True, raises=ClientError, reason=RECENCY_MASK_GAP),
        ),
    ],
)
def test_user_personalization_accepts_aws_hyperparameter_names(shared_tailor, hyperparameters):
    personalize, _ = clients(shared_tailor)
    name = "hp-" + "-".join(sorted(hyperparameters)).replace("_", "-")
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    schema = personalize.create_schema(
        name=name, schema=(SAMPLE / "interactions.schema.json").read_text()
    )["schemaArn"]
    personalize.create_dataset(
        name=name, schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )
    arn = personalize.create_solution(
        name=name,
        datasetGroupArn=group,
        recipeArn=USER_PERSONALIZATION,
        solutionConfig={"algorithmHyperParameters": hyperparameters},
    )["solutionArn"]
    config = personalize.describe_solution(solutionArn=arn)["solution"]["solutionConfig"]
    assert config["algorithmHyperParameters"] == hyperparameters
