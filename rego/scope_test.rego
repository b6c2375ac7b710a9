package ward.scope_test

import data.ward.scope

req(app, topic) := {"phase": "request", "identity": {"app": app}, "detectors": {"topic": topic}}

test_burrito_bot_on_topic if {
	count(scope.deny) == 0 with input as req("burrito-bot", {"in_scope": true, "nearest": "menu", "score": 0.8})
}

# The seed's case: a burrito-ordering assistant talked into writing code.
test_burrito_bot_refuses_coding if {
	ds := scope.deny with input as req("burrito-bot", {"in_scope": false, "nearest": "coding", "score": 0.9})
	some d in ds
	d.code == "off_topic"
	d.status == 403
	contains(d.message, "menu")
}

test_nearest_topic_outside_allowlist_is_off_topic if {
	count(scope.deny) == 1 with input as req("burrito-bot", {"in_scope": true, "nearest": "coding", "score": 0.4})
}

test_app_without_topics_is_unrestricted if {
	count(scope.deny) == 0 with input as req("scribe", {"in_scope": false, "nearest": "coding", "score": 0.9})
}

test_no_topic_result_no_denial if {
	count(scope.deny) == 0 with input as {"phase": "request", "identity": {"app": "burrito-bot"}, "detectors": {}}
}

test_scope_only_at_request if {
	inp := object.union(req("burrito-bot", {"in_scope": false, "nearest": "coding"}), {"phase": "response"})
	count(scope.deny) == 0 with input as inp
}
