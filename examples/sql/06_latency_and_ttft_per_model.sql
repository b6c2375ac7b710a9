-- Question: what are p50/p95 end-to-end latency and time-to-first-token per
-- served model in November 2026? TTFT only counts requests that got a first byte.
SELECT
    model_served,
    count() AS requests,
    quantileExact(0.5)(latency_ms) AS latency_p50_ms,
    quantileExact(0.95)(latency_ms) AS latency_p95_ms,
    quantileExactIf(0.5)(ttft_ms, first_byte_ms > 0) AS ttft_p50_ms,
    quantileExactIf(0.95)(ttft_ms, first_byte_ms > 0) AS ttft_p95_ms
FROM ward.audit_events FINAL
WHERE ts >= toDateTime('2026-11-01 00:00:00', 'UTC')
  AND ts < toDateTime('2026-12-01 00:00:00', 'UTC')
GROUP BY model_served
ORDER BY model_served
