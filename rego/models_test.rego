package ward.models_test

import data.ward.models

req(team, model) := {"phase": "request", "identity": {"team": team}, "model": model}

test_allowed_model_keeps_route if {
	models.route == {} with input as req("cardiology", "gpt-4o-mini")
	count(models.deny) == 0 with input as req("cardiology", "gpt-4o-mini")
}

test_team_route_to_azure_deployment if {
	models.route == {"model": "gpt-4o-clinical", "provider": "azure-openai"} with input as req("cardiology", "gpt-4o")
}

test_disallowed_model_falls_back if {
	models.route == {"model": "gpt-4o-mini"} with input as req("cardiology", "o3")
	models.rerouted with input as req("cardiology", "o3")
	count(models.deny) == 0 with input as req("cardiology", "o3")
}

test_unknown_team_uses_default_allowlist if {
	models.route == {} with input as req("dermatology", "claude-3-5-haiku-latest")
	models.route == {"model": "gpt-4o-mini"} with input as req("dermatology", "gpt-4o")
}

test_wildcard_allows_everything if {
	models.route == {} with input as req("platform", "some-new-model")
}

test_no_fallback_denies if {
	ds := models.deny with input as req("research", "claude-opus-4")
	some d in ds
	d.code == "model_not_allowed"
	d.status == 403
}

test_fallback_can_be_routed if {
	cfg := {"default": {"allow": []}, "teams": {"t": {"allow": ["a"], "fallback": "a", "routes": {"a": {"model": "a-eu", "provider": "azure-openai"}}}}}
	models.route == {"model": "a-eu", "provider": "azure-openai"} with input as req("t", "b")
		with data.ward.config.models as cfg
}

test_no_route_at_response_phase if {
	models.route == {} with input as {"phase": "response", "identity": {"team": "cardiology"}, "model": "gpt-4o"}
}
