# Topic restriction per app: an app with configured topics only answers
# requests the topic detector places inside them (a burrito-ordering
# assistant does not write code).
#
# data.ward.config.apps[app].off_topic chooses what happens to an off-topic
# request:
#   "refuse" (default; also any unknown value): refuse it.
#   "refuse_directives": refuse it only when it tells the assistant to do a
#     task (input.detectors.topic.directive); an off-topic question is let
#     through. For apps that may answer general questions but must not be
#     repurposed ("write a poem", "now you are X"). A missing directive
#     signal refuses, as "refuse" does.
package ward.scope

import data.ward.lib

topics := {t | some t in object.get(data.ward.config.apps, [input.identity.app, "topics"], [])}

off_topic if {
	input.detectors.topic.in_scope == false
}

off_topic if {
	n := input.detectors.topic.nearest
	n != ""
	not n in topics
}

# An off-topic question the app's mode lets through.
question_allowed if {
	object.get(data.ward.config.apps, [input.identity.app, "off_topic"], "refuse") == "refuse_directives"
	input.detectors.topic.directive == false
}

deny contains lib.denial(
	"off_topic",
	sprintf("this assistant can only help with: %s", [concat(", ", topics)]),
	403, 40,
) if {
	input.phase == "request"
	count(topics) > 0
	off_topic
	not question_allowed
}
