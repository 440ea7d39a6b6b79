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


def test_narrow_planner_searches_then_verifies_then_answers() -> None:
    p = NarrowPlanner(PlannerConfig(verify_top=1), Q, default_k=5)
    search = p.propose(Situation(n=1, beliefs=Beliefs(), tools_left=True))
    action = first_choice([], search.schema)
    assert action["action"] == "retrieve_clip" and "umbrella" in action["arguments"]["query"]
    assert "Options for query:" in search.footer
    check = p.propose(Situation(n=4, beliefs=_beliefs(), tools_left=True))
    assert check.schema["properties"]["arguments"]["properties"]["clip"]["enum"] == ["c1"]  # verify_top=1
    answer = p.propose(Situation(n=6, beliefs=_beliefs(verified="c2"), tools_left=False))
    # One verified clip: the only action the schema admits is known, so nothing needs decoding.
    assert answer.forced == {"action": "answer", "arguments": {"clip": "c2"}}


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


def test_the_planner_follows_the_policys_way_of_acting() -> None:
    cfg = PlannerConfig()
    assert isinstance(make_planner(ScriptedPolicy([], narrow=True), Q, cfg, 5), NarrowPlanner)
    assert isinstance(make_planner(ScriptedPolicy([]), Q, cfg, 5), OpenPlanner)
