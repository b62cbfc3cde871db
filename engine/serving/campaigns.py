"""Campaigns: CreateCampaign, DescribeCampaign, ListCampaigns, UpdateCampaign, DeleteCampaign.

A campaign serves one solution version. Its model is loaded in the background (CREATE
PENDING -> ACTIVE); `update_campaign` loads the new version first and then swaps it in, so no
request fails during an update.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.base import summary
from engine.errors import InvalidInputException, ResourceInUseException
from engine.operations import operation, paginate
from engine.serving import loaded
from engine.solutions.solutions import VERSION
from engine.solutions.versions import SolutionVersionOps
from engine.store import Resource

CAMPAIGN = "campaign"
EXPLORING_RECIPES = {"arn:aws:personalize:::recipe/aws-user-personalization"}
DEFAULT_EXPLORATION = {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"}


def _config(config: dict[str, Any] | None) -> dict[str, Any]:
    """campaignConfig with Personalize's defaults, values checked."""
    config = dict(config or {})
    exploration = {**DEFAULT_EXPLORATION, **(config.get("itemExplorationConfig") or {})}
    try:
        weight = float(exploration["explorationWeight"])
        cutoff = float(exploration["explorationItemAgeCutOff"])
    except ValueError:
        raise InvalidInputException(
            f"campaignConfig.itemExplorationConfig {exploration} must hold numbers"
        ) from None
    if not 0.0 <= weight <= 1.0:
        raise InvalidInputException(
            f"campaignConfig.itemExplorationConfig.explorationWeight {weight} must be 0..1"
        )
    if cutoff < 1:
        raise InvalidInputException(
            "campaignConfig.itemExplorationConfig.explorationItemAgeCutOff "
            f"{cutoff} must be at least 1 day"
        )
    config["itemExplorationConfig"] = exploration
    return config


def exploration_of(spec: dict[str, Any], recipe_arn: str) -> tuple[float, float] | None:
    """(weight, cut-off days) a campaign explores cold items with, or None.

    aws-user-personalization explores by default (weight 0.3, 30 days), as in Personalize;
    Tailor's other user-personalization recipes explore only when the campaign's
    itemExplorationConfig was given explicitly."""
    if recipe_arn not in EXPLORING_RECIPES and not spec.get("explorationRequested"):
        return None
    config = spec["campaignConfig"]["itemExplorationConfig"]
    weight = float(config["explorationWeight"])
    return (weight, float(config["explorationItemAgeCutOff"])) if weight > 0 else None


def _describe(campaign: Resource) -> dict[str, Any]:
    spec = campaign.spec
    return summary(
        campaign,
        "campaignArn",
        solutionVersionArn=spec["solutionVersionArn"],
        minProvisionedTPS=spec["minProvisionedTPS"],
        campaignConfig=spec["campaignConfig"],
    )


class CampaignOps(SolutionVersionOps):
    """The campaign operations of the Engine."""

    models: loaded.ModelCache

    @operation("CreateCampaign")
    def create_campaign(
        self,
        *,
        name: str,
        solutionVersionArn: str,
        minProvisionedTPS: int | None = None,
        campaignConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Serve a trained (ACTIVE) solution version in real time."""
        version = self._active_version(solutionVersionArn)
        arn = self.arns.make("campaign", name)
        spec = {
            "solutionVersionArn": solutionVersionArn,
            "minProvisionedTPS": minProvisionedTPS or 1,
            "campaignConfig": _config(campaignConfig),
            "datasetGroupArn": version.spec["datasetGroupArn"],
            "explorationRequested": bool((campaignConfig or {}).get("itemExplorationConfig")),
        }
        with self.store.transaction() as cur:
            self.catalog.insert(
                CAMPAIGN,
                arn,
                name,
                parent_arn=version.parent_arn,
                status="CREATE PENDING",
                spec=spec,
                cursor=cur,
            )
            self.catalog.add_tags(arn, tags, cur)
        self.jobs.submit(arn, lambda: self._deploy(arn, version, "CREATE"))
        return {"campaignArn": arn}

    def _active_version(self, version_arn: str) -> Resource:
        version = self.catalog.require(version_arn, VERSION)
        if version.status != "ACTIVE":
            raise ResourceInUseException(
                f"solutionVersionArn {version_arn} is {version.status}; a campaign needs an "
                "ACTIVE solution version"
            )
        return version

    def version_model(self, version: Resource) -> loaded.LoadedModel:
        """A solution version's model with its group's id maps (what a campaign loads)."""
        group = self.catalog.require(version.spec["datasetGroupArn"], "dataset-group")
        found = {d.spec["datasetType"]: d for d in self.catalog.list("dataset", group.arn)}
        items, users = found.get("ITEMS"), found.get("USERS")
        return loaded.load(
            self.store,
            self.store.data_dir / "artifacts",
            version.arn,
            version.spec["artifactId"],
            group.id,
            {kind: d.id for kind, d in found.items()},
            group_arn=group.arn,
            items_have_created=items is not None
            and any(f.name == "CREATION_TIMESTAMP" for f in self.dataset_fields(items)),
            user_fields=tuple(
                f.name
                for f in (self.dataset_fields(users) if users is not None else [])
                if f.name != "USER_ID" and not f.textual and not f.is_numeric
            ),
        )

    def _deploy(self, campaign_arn: str, version: Resource, kind: str) -> None:
        """Load the version's model, swap it in, and mark the campaign ACTIVE."""
        try:
            model = self.version_model(version)
            spec = self.catalog.require(campaign_arn, CAMPAIGN).spec
            model = dataclasses.replace(
                model, exploration=exploration_of(spec, model.recipe.recipe_arn)
            )
            self.models.put(campaign_arn, model)
            self.catalog.update(
                campaign_arn, status="ACTIVE", spec_updates={"solutionVersionArn": version.arn}
            )
        except Exception as exc:  # noqa: BLE001 - the campaign must say why it cannot serve
            status = "CREATE FAILED" if kind == "CREATE" else "ACTIVE"
            self.catalog.update(
                campaign_arn, status=status, failure_reason=f"could not load the model: {exc}"
            )

    @operation("DescribeCampaign")
    def describe_campaign(self, *, campaignArn: str) -> dict[str, Any]:
        """Describe a campaign."""
        return {"campaign": _describe(self.catalog.require(campaignArn, CAMPAIGN))}

    @operation("ListCampaigns")
    def list_campaigns(
        self,
        *,
        solutionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        """List campaigns (of one solution if given), newest first."""
        rows = [summary(c, "campaignArn") for c in self.catalog.list(CAMPAIGN, solutionArn)]
        return paginate(
            f"ListCampaigns:{solutionArn or ''}", rows, "campaigns", nextToken, maxResults
        )

    @operation("UpdateCampaign")
    def update_campaign(
        self,
        *,
        campaignArn: str,
        solutionVersionArn: str | None = None,
        minProvisionedTPS: int | None = None,
        campaignConfig: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change the served version (loaded first, then swapped: no request fails) or the
        configuration."""
        campaign = self.catalog.require(campaignArn, CAMPAIGN)
        updates: dict[str, Any] = {}
        if minProvisionedTPS is not None:
            updates["minProvisionedTPS"] = minProvisionedTPS
        if campaignConfig is not None:
            updates["campaignConfig"] = _config(campaignConfig)
            updates["explorationRequested"] = bool(campaignConfig.get("itemExplorationConfig"))
        self.catalog.update(campaignArn, spec_updates=updates)
        current = self.models.get(campaignArn)
        if campaignConfig is not None and current is not None:
            spec = {**campaign.spec, **updates}
            recipe = current.recipe.recipe_arn
            self.models.reconfigure(campaignArn, exploration=exploration_of(spec, recipe))
        if solutionVersionArn and solutionVersionArn != campaign.spec["solutionVersionArn"]:
            version = self._active_version(solutionVersionArn)
            self.catalog.update(campaignArn, status="UPDATE IN_PROGRESS")
            self.jobs.submit(
                f"{campaignArn}#update", lambda: self._deploy(campaignArn, version, "UPDATE")
            )
        return {"campaignArn": campaignArn}

    @operation("DeleteCampaign")
    def delete_campaign(self, *, campaignArn: str) -> dict[str, Any]:
        """Stop serving and delete a campaign."""
        self.catalog.require(campaignArn, CAMPAIGN)
        self.models.drop(campaignArn)
        self.catalog.delete(campaignArn)
        return {}

    def campaign_model(self, campaign_arn: str) -> loaded.LoadedModel:
        """The loaded model of an ACTIVE campaign (loading it after a restart)."""
        model = self.models.get(campaign_arn)
        if model is not None:
            return model
        campaign = self.catalog.require(campaign_arn, CAMPAIGN)
        if campaign.status not in ("ACTIVE", "UPDATE IN_PROGRESS"):
            raise ResourceInUseException(
                f"Campaign {campaign_arn} is {campaign.status}; it answers once ACTIVE"
            )
        version = self.catalog.require(campaign.spec["solutionVersionArn"], VERSION)
        self._deploy(campaign_arn, version, "UPDATE")
        found = self.models.get(campaign_arn)
        if found is None:
            raise ResourceInUseException(f"Campaign {campaign_arn} cannot load its model")
        return found
