-- Question: spend per team per day in November 2026, for dashboards.
-- Reads the spend_daily materialized view (tiny, pre-aggregated). It is filled
-- at insert time, so a batch replayed after a lost acknowledgement is counted
-- twice there; use 02_spend_per_team_per_month.sql (FINAL) for billing.
SELECT
    team,
    day,
    sum(requests) AS total_requests,
    sum(cost_micro_usd) AS spend_micro_usd
FROM ward.spend_daily
WHERE day >= toDate('2026-11-01')
  AND day < toDate('2026-12-01')
GROUP BY team, day
ORDER BY day, team
