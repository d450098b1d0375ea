"""The fine-tune's events (engine.training_events): what the trainer writes, the window reads typed."""
import json
import math

import pytest

from engine.training_events import Eval, Phase, Plan, Step, event_line, parse_event

# (a line's JSON object) -> the typed event the window gets
EVENTS = [
    ({"event": "phase", "phase": "training"}, Phase("training")),
    ({"event": "phase", "phase": 3}, Phase(None)),
    ({"event": "step", "step": 5, "steps": 40, "loss": 2.5, "progress": 0.125, "eta_s": 30.0, "elapsed_s": 4},
     Step(5, 40, 0.125, 2.5, 30.0)),
    ({"event": "step", "step": "5", "loss": None, "progress": True}, Step()),
    ({"event": "eval", "step": 10, "user_loss": 3.2, "general_loss": 3.9, "user_ppl": 24.5}, Eval(10, {"user": 3.2, "general": 3.9})),
    ({"event": "eval", "step": 10, "user_loss": "x"}, Eval(10, {})),
    ({"event": "unknown"}, None),
    ([1, 2], None),
    ({"status": "ok"}, None),
]


@pytest.mark.parametrize("obj, event", EVENTS)
def test_lines_parse_into_typed_events(obj, event):
    assert parse_event(obj) == event


def test_a_plan_keeps_its_details_and_reads_its_device():
    plan = parse_event({"event": "plan", "device": {"kind": "cuda", "name": "NVIDIA H200"}, "steps": 400,
                        "estimate_s": 300, "replay": True, "user_chars": 12})
    assert isinstance(plan, Plan) and (plan.device, plan.steps, plan.estimate_s, plan.replay) == ("NVIDIA H200", 400,
                                                                                                 300.0, True)
    assert plan.details["user_chars"] == 12
    assert parse_event({"event": "plan", "device": "gpu"}) == Plan(details={"event": "plan", "device": "gpu"})


def test_what_the_trainer_writes_the_window_reads():
    line = event_line("step", {"step": 3, "steps": 9, "loss": float("nan"), "eta_s": math.inf})
    assert json.loads(line) == {"event": "step", "step": 3, "steps": 9, "loss": None, "eta_s": None}
    assert parse_event(json.loads(line)) == Step(3, 9)
