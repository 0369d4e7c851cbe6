"""Progress: the rate counts this process's steps after the first line, the ETA does not
wrap past an hour."""

from limits import progress

METRICS = {"loss_bits": [1.0], "accuracy": [0.5], "diverged": [0.0]}


class Clock:
  def __init__(self):
    self.t = 0.0

  def __call__(self):
    return self.t


def test_eta_after_a_resume_uses_this_process_steps_after_the_compile():
  # Resumed at step 1003 of 2000: 20 s of compile and 7 steps to the first line at 1010,
  # then 10 steps per second.
  clock = Clock()
  p = progress.Progress(1003, 2000, clock)
  clock.t = 20.7
  first = p.line(1010, METRICS)
  assert "ETA" in first and abs(p.rate(1010) - 7 / 20.7) < 1e-9   # the same step: same rate
  clock.t = 21.7
  line = p.line(1020, METRICS)
  assert abs(p.rate(1020) - 10.0) < 1e-9
  assert line.endswith("10.0 member-steps/s  ETA 01:38"), line


def test_eta_formats_hours_without_wrapping():
  assert progress.format_eta(59.4) == "00:59"
  assert progress.format_eta(3599) == "59:59"
  assert progress.format_eta(2 * 3600 + 61) == "2:01:01"
  assert progress.format_eta(float("nan")) == "--:--"
