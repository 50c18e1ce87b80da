"""Mutation check of the planning code: each mutation, applied to a copy of the
tree, must make the forecasting tests fail. Not collected by pytest; run it:

    .venv/bin/python tests/forecasting/mutations.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
MUTATIONS = [
    (
        "scale Erlang A ASA",
        "forecasting/erlang_a.py",
        "out[live] = np.where(p_ans > 0, waited / np.maximum(p_ans, 1e-300), np.inf)",
        "out[live] = np.where(p_ans > 0, 1.05 * waited / np.maximum(p_ans, 1e-300), np.inf)",
    ),
    (
        "drop the occupancy cap (Erlang C search)",
        "forecasting/erlang.py",
        "        lo = np.maximum(lo, occupancy_floor(ab, occ).astype(np.float64))\n",
        "        pass\n",
    ),
    (
        "fast Erlang C search decides inside its error margin",
        "forecasting/sl_kernel.py",
        "        tol[i] = 2.0 * error_bound(n) + extra_tolerance\n",
        "        tol[i] = 0.0\n",
    ),
    (
        "uniform expansion without its c_1 term",
        "forecasting/sl_kernel.py",
        "    return root_h * root_s, (c2 * inv_s + c1) * inv_s + c0, root_s\n",
        "    return root_h * root_s, (c2 * inv_s) * inv_s + c0, root_s\n",
    ),
    (
        "downward walk stops one agent too low",
        "forecasting/sl_kernel.py",
        "        if q > 1.0 + tol:\n            return state, n\n",
        "        if q > 1.0 + tol:\n            return state, below\n",
    ),
    (
        "upward walk accepts the first count it tries",
        "forecasting/sl_kernel.py",
        "        if q <= 1.0 - tol:\n            return WALKED, n\n",
        "        if True:\n            return WALKED, n\n",
    ),
    (
        "drop the occupancy cap (plan)",
        "forecasting/plan.py",
        "Targets(sl_t[c], t_sec[c], None, occ_t[c])",
        "Targets(sl_t[c], t_sec[c], None, 1.0)",
    ),
    (
        "drop the Erlang A occupancy cap (plan)",
        "forecasting/plan.py",
        "            max_occupancy=occ_t[a_idx],\n",
        "",
    ),
    (
        "drop the Erlang A abandon cap (plan)",
        "forecasting/plan.py",
        "            max_abandon=ab_t[a_idx],\n",
        "",
    ),
    (
        "+1 scheduled",
        "forecasting/plan.py",
        "scheduled = scheduled_agents(agents, shrink)",
        "scheduled = scheduled_agents(agents, shrink) + 1",
    ),
    (
        "leaders rounded down",
        "forecasting/plan.py",
        "leaders = -(-int(sched) // team_leader_ratio)",
        "leaders = int(sched) // team_leader_ratio",
    ),
    (
        "naive WAPE scaled",
        "forecasting/arrivals.py",
        'scores.append(Score("calls", level, method, wc, bc))',
        'scores.append(Score("calls", level, method, wc * (1.1 if method == "naive" else 1), bc))',
    ),
    (
        "naive forecast scaled",
        "forecasting/arrivals.py",
        'f_calls["naive"].append(vol[j] * ex)',
        'f_calls["naive"].append(vol[j] * ex * 1.05)',
    ),
    (
        "weights reversed",
        "forecasting/arrivals.py",
        "weights = 0.5 ** ((t.max() - t) / HALF_LIFE_DAYS)",
        "weights = 0.5 ** ((t - t.min()) / HALF_LIFE_DAYS)",
    ),
    (
        "missing day counted as zero",
        "forecasting/arrivals.py",
        "    used = observed & regular\n",
        "    used = regular.copy()\n",
    ),
    (
        "fixed offset of the last row (DST)",
        "forecasting/arrivals.py",
        "    zone = tz if tz is not None else records[-1].start.tzinfo\n",
        "    zone = records[-1].start.tzinfo\n",
    ),
    (
        "trend unbounded",
        "forecasting/arrivals.py",
        "        t_eff = min(t, self.last_used + span)\n",
        "        t_eff = t\n",
    ),
    (
        "partial queue_log interval not scaled",
        "forecasting/arrivals.py",
        "            scale = r.interval_seconds / r.observed_seconds\n",
        "            scale = 1.0\n",
    ),
    (
        "future special day ignored",
        "forecasting/arrivals.py",
        "        per_slot = per_slot * factor\n",
        "",
    ),
    (
        "AHT 0 planned as 1 s",
        "forecasting/plan.py",
        "        if bad.size:\n            when",
        "        if False:\n            when",
    ),
]


def main() -> int:
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, rel, old, new in MUTATIONS:
            fails += not _killed(Path(tmp) / "tree", name, rel, old, new)
    return 1 if fails else 0


def _killed(work: Path, name: str, rel: str, old: str, new: str) -> bool:
    if work.exists():
        shutil.rmtree(work)
    for part in ("forecasting", "tests/forecasting", "callcenter"):
        shutil.copytree(SRC / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    (work / "tests" / "__init__.py").write_text("")
    shutil.copy(SRC / "pyproject.toml", work / "pyproject.toml")
    path = work / rel
    text = path.read_text()
    if text.count(old) != 1:
        print(f"SKIP      {name}: pattern found {text.count(old)} times (update this script)")
        return False
    path.write_text(text.replace(old, new))
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/forecasting"],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(work)},
        check=False,
    )
    lines = [ln for ln in r.stdout.splitlines() if "FAILED" in ln or " passed" in ln]
    print(f"{'killed' if r.returncode else 'SURVIVED':9} {name}: {lines[0] if lines else ''}")
    return r.returncode != 0


if __name__ == "__main__":
    sys.exit(main())
