-- Question: in November 2026, which requests looked like prompt-injection
-- attempts (injection score >= 0.5) or fell outside their app's topics
-- (in-scope probability < 0.5), per team and app, and what did Ward decide?
-- A NULL score means the detector did not run for that request (injection
-- detection off, or no topics configured for the app); such requests match
-- neither condition, so they are not counted here as clean or as suspect.
-- 0.5 is the policy's default threshold; use your policy's values.
-- Comparisons with NULL are NULL, hence ifNull(..., 0) inside the -If
-- aggregates (on 18.16 countIf over only NULL conditions returns NULL).
-- max_injection_score is NULL for a group where injection detection never ran.
SELECT
    team,
    app,
    decision,
    reason_code,
    count() AS requests,
    countIf(ifNull(injection_score >= 0.5, 0)) AS suspected_injections,
    countIf(ifNull(topic_in_scope < 0.5, 0)) AS off_topic,
    countIf(ifNull(topic_in_scope < 0.5 AND topic_directive = 1, 0)) AS off_topic_directives,
    max(injection_score) AS max_injection_score,
    arraySort(groupUniqArrayArrayIf(injection_rules, ifNull(injection_score >= 0.5, 0))) AS rules_fired
FROM ward.audit_events FINAL
WHERE ts >= toDateTime('2026-11-01 00:00:00', 'UTC')
  AND ts < toDateTime('2026-12-01 00:00:00', 'UTC')
  AND (injection_score >= 0.5 OR topic_in_scope < 0.5)
GROUP BY team, app, decision, reason_code
ORDER BY team, app, decision, reason_code
