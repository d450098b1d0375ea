"""A fine-tune killed (SIGKILL) at random moments loses nothing: the model in use still works,
no half-written model appears, and the next run resumes from the last checkpoint."""
from tests.trainer.test_trainer_support import TINY_TEXT, tiny_model_dir  # noqa: F401 (fixture)
from tools.killtest import run

FAST = ["--max_steps=30", "--batch_size=4", "--seq_len=32", "--eval_windows=4", "--warmup_steps=2",
        "--eval_every=10", "--ckpt_minutes=0.003"]  # a checkpoint every ~0.2 s, so kills land between them


def test_kills_at_random_moments_lose_nothing(tiny_model_dir, tmp_path):
    text = tmp_path / "mine.txt"
    text.write_text(TINY_TEXT.read_text(encoding="utf-8"), encoding="utf-8")
    report = run(3, text, tiny_model_dir, tmp_path / "kt", seed=1, extra=FAST, log=lambda m: None)
    assert report["failures"] == []
    assert report["kills"] + report["finished_before_their_kill"] == 3 and report["kills"] >= 1
    assert report["resumed"] == report["resumes_expected"]
