-- Question: how much did we spend on inference per team per month (exact)?
-- Cost is stored in micro-USD (Int64) so sums are exact; FINAL makes events
-- replayed after a ClickHouse outage count once.
SELECT
    team,
    toStartOfMonth(ts) AS month,
    count() AS requests,
    sum(input_tokens) AS total_input_tokens,
    sum(output_tokens) AS total_output_tokens,
    sum(cost_micro_usd) AS spend_micro_usd,
    round(spend_micro_usd / 1000000, 2) AS spend_usd
FROM ward.audit_events FINAL
WHERE ts >= toDateTime('2026-10-01 00:00:00', 'UTC')
  AND ts < toDateTime('2026-12-01 00:00:00', 'UTC')
GROUP BY team, month
ORDER BY month, spend_micro_usd DESC, team
