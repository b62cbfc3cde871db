-- Every answer of GetRecommendations / GetPersonalizedRanking, keyed by its recommendationId,
-- so later events that carry the id are attributed to the campaign (and variant) that showed
-- the items (implicit impressions, metric attribution, experiments).
CREATE TABLE recommendation_log (
    recommendation_id VARCHAR NOT NULL,
    campaign_arn VARCHAR NOT NULL,
    dataset_group_id BIGINT NOT NULL,
    user_id VARCHAR,
    item_id VARCHAR,
    item_ids VARCHAR[] NOT NULL,
    created_at DOUBLE NOT NULL,
    variant VARCHAR
);
