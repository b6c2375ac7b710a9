-- Question: what did the AI say to end user 'patient-0042' on Tuesday 2026-11-17
-- between 13:30 and 14:30 UTC? Both sides of the conversation, with the
-- decision and the policy bundle revision that applied to each exchange.
-- audit_user_index (ordered by end_user, ts) finds the user's event ids; the
-- events are read from audit_events. FINAL collapses replayed duplicates.
-- For a transcript without SQL: ward audit find --user patient-0042 --at 2026-11-17T14:00:00Z --window 1h
SELECT
    start_ms,
    event_id,
    trace_id,
    app,
    model_served,
    decision,
    reason_code,
    policy_revision,
    content_level,
    prompt_roles,
    prompt_texts,
    completion
FROM ward.audit_events FINAL
WHERE event_id IN (
    SELECT event_id FROM ward.audit_user_index
    WHERE end_user = 'patient-0042'
      AND ts >= toDateTime('2026-11-17 13:30:00', 'UTC')
      AND ts < toDateTime('2026-11-17 14:30:00', 'UTC'))
  AND end_user = 'patient-0042'
  AND ts >= toDateTime('2026-11-17 13:30:00', 'UTC')
  AND ts < toDateTime('2026-11-17 14:30:00', 'UTC')
ORDER BY start_ms
