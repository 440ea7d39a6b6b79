"""Planners: the open planner's schemas and its last chance to answer; the narrow planner's options by phase."""
from __future__ import annotations

import json

import jsonschema

from agent.beliefs import Beliefs
from agent.planners import (NarrowPlanner, OpenPlanner, PlannerConfig, Situation, first_choice, make_planner,
                            open_schema)
from agent.policy import ScriptedPolicy
from agent.tools import canonical

Q = "What colour is the umbrella the narrator talks about?"


def _clip(ref: str, a: float, b: float) -> dict:
    return {"ref": ref, "video_id": 1, "start_s": a, "end_s": b, "snippet": "text"}


def _beliefs(verified: str | None = None) -> Beliefs:
    b = Beliefs()
    b.add_retrieval(1, [_clip("c1", 10, 14), _clip("c2", 40, 44)])
    if verified:
        b.add_verification(2, verified, 0.0, 1, "supported")
    return b


def _actions(schema: dict) -> list[str]:
    return [o["properties"]["action"]["const"] for o in schema["anyOf"]]


def test_open_schema_offers_every_action_and_is_a_valid_schema() -> None:
    assert _actions(open_schema()) == ["retrieve_clip", "verify_frame", "answer"]
    jsonschema.Draft202012Validator.check_schema(open_schema())
    json.dumps(open_schema())
    call = {"action": "retrieve_clip", "arguments": {"query": "umbrella"}}
    assert jsonschema.Draft202012Validator(open_schema()).is_valid(call)
    assert not jsonschema.Draft202012Validator(open_schema(calls=False)).is_valid(call)


def test_open_planner_offers_one_answer_only_step_when_the_tools_are_spent() -> None:
    p = OpenPlanner(PlannerConfig(max_new_tokens_open=99))
    step = p.propose(Situation(n=3, beliefs=Beliefs(), tools_left=True))
    assert _actions(step.schema) == ["retrieve_clip", "verify_frame", "answer"]
    assert "Step 3" in step.footer and step.max_new_tokens == 99 and step.forced is None
    last = p.propose(Situation(n=7, beliefs=Beliefs(), tools_left=False))
    assert _actions(last.schema) == ["answer"] and "budget is spent" in last.footer
    assert p.propose(Situation(n=8, beliefs=Beliefs(), tools_left=False)) is None


def _proposal(ref: str, score: float, text: str):
    from agent.answer import Candidate
    from agent.answer_reader import Proposal
    from agent.evidence import Line

    return Proposal(ref, Candidate((Line(10.0, 14.0, text, "speech"),), score, score))


def test_narrow_planner_searches_then_answers_with_the_moments_that_answer() -> None:
    p = NarrowPlanner(PlannerConfig(answer_margin=0.05), Q, default_k=5)
    search = p.propose(Situation(n=1, beliefs=Beliefs(), tools_left=True))
    action = first_choice([], search.schema)
    assert action["action"] == "retrieve_clip" and "umbrella" in action["arguments"]["query"]
    assert "Options for query:" in search.footer and search.forced is None and not search.history
    # After the first search, a later one offers a single query: nothing to decode.
    again = p.propose(Situation(n=4, beliefs=_beliefs(), tools_left=True,
                                calls={canonical("retrieve_clip", {"query": action["arguments"]["query"], "k": 5}): 1}))
    assert again.forced is not None and again.forced["action"] == "retrieve_clip"
    answers = [_proposal("c2", 0.9, "my umbrella is yellow"), _proposal("c1", 0.88, "an umbrella"),
               _proposal("c3", 0.7, "a yellow taxi")]
    answer = p.propose(Situation(n=6, beliefs=_beliefs(), tools_left=False, answers=answers))
    assert answer.schema["properties"]["arguments"]["properties"]["clip"]["enum"] == ["c2", "c1"]  # within the margin
    assert "my umbrella is yellow" in answer.footer and "taxi" not in answer.footer
    one = p.propose(Situation(n=6, beliefs=_beliefs(), tools_left=False, answers=answers[:1]))
    assert one.forced == {"action": "answer", "arguments": {"clip": "c2"}}


def test_narrow_planner_never_offers_a_query_already_run_and_stops_when_none_is_left() -> None:
    p = NarrowPlanner(PlannerConfig(), Q, default_k=5)
    calls: dict[str, int] = {}
    offered: list[str] = []
    while (step := p.propose(Situation(n=1, beliefs=Beliefs(), tools_left=True, calls=calls))) is not None:
        for q in step.schema["properties"]["arguments"]["properties"]["query"]["enum"]:
            assert q not in offered
            offered.append(q)
            calls[canonical("retrieve_clip", {"query": q, "k": 5})] = len(calls)
    assert len(offered) >= 2
    assert p.propose(Situation(n=1, beliefs=_beliefs(), tools_left=False)) is None


def test_narrow_planner_searches_around_each_lead_after_the_questions_own_search_and_before_answering() -> None:
    p = NarrowPlanner(PlannerConfig(), "How often is the market held?", default_k=5)
    leads = [(6.0, 12.0), (47.0, 49.0)]
    answers = [_proposal("c1", 0.9, "the market on the square")]
    first = p.propose(Situation(n=1, beliefs=Beliefs(), tools_left=True, leads=leads))
    assert first.forced is None and first_choice([], first.schema)["action"] == "retrieve_clip"  # the model's pick
    calls = {canonical("retrieve_clip", {"query": first_choice([], first.schema)["arguments"]["query"], "k": 5}): 1}
    for a, b in leads:  # an answer in hand waits until the leads were searched too
        step = p.propose(Situation(n=3, beliefs=_beliefs(), tools_left=True, calls=calls, leads=leads, answers=answers))
        args = step.forced["arguments"]
        assert step.forced["action"] == "retrieve_clip" and (args["start_s"], args["end_s"]) == (a - 1.0, b + 1.0)
        calls[canonical("retrieve_clip", args)] = len(calls) + 1
    done = p.propose(Situation(n=7, beliefs=_beliefs(), tools_left=True, calls=calls, leads=leads, answers=answers))
    assert done.forced == {"action": "answer", "arguments": {"clip": "c1"}}


def test_the_planner_follows_the_policys_way_of_acting() -> None:
    cfg = PlannerConfig()
    assert isinstance(make_planner(ScriptedPolicy([], narrow=True), Q, cfg, 5), NarrowPlanner)
    assert isinstance(make_planner(ScriptedPolicy([]), Q, cfg, 5), OpenPlanner)
