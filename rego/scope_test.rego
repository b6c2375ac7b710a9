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

# off_topic: "refuse_directives" lets off-topic questions through and
# refuses off-topic directives; "refuse" (the default) refuses both.
directive_apps := {
	"burrito-bot": {"topics": ["menu"]},
	"news-qa": {"topics": ["news"], "off_topic": "refuse_directives"},
	"typo-bot": {"topics": ["menu"], "off_topic": "refuse_directive"},
}

test_default_mode_refuses_off_topic_question if {
	# The seed's case phrased as a question is still refused by default.
	inp := req("burrito-bot", {"in_scope": false, "nearest": "coding", "score": 0.1, "directive": false})
	count(scope.deny) == 1 with input as inp with data.ward.config.apps as directive_apps
}

test_refuse_directives_lets_off_topic_question_through if {
	inp := req("news-qa", {"in_scope": false, "nearest": "other", "score": 0.1, "directive": false})
	count(scope.deny) == 0 with input as inp with data.ward.config.apps as directive_apps
}

test_refuse_directives_refuses_off_topic_directive if {
	inp := req("news-qa", {"in_scope": false, "nearest": "other", "score": 0.1, "directive": true})
	ds := scope.deny with input as inp with data.ward.config.apps as directive_apps
	some d in ds
	d.code == "off_topic"
	contains(d.message, "news")
}

test_refuse_directives_allows_on_topic_directive if {
	inp := req("news-qa", {"in_scope": true, "nearest": "news", "score": 0.9, "directive": true})
	count(scope.deny) == 0 with input as inp with data.ward.config.apps as directive_apps
}

test_refuse_directives_without_signal_refuses if {
	# A pipeline that does not report directive fails closed.
	inp := req("news-qa", {"in_scope": false, "nearest": "other", "score": 0.1})
	count(scope.deny) == 1 with input as inp with data.ward.config.apps as directive_apps
}

test_unknown_mode_refuses if {
	inp := req("typo-bot", {"in_scope": false, "nearest": "other", "score": 0.1, "directive": false})
	count(scope.deny) == 1 with input as inp with data.ward.config.apps as directive_apps
}
