"""The benchmark's quick mode, end to end at a small N: every phase runs on the local cluster
and the result row holds what the README's table and the targets are made of."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kube_helpers import ROOT

N = 20


@pytest.mark.timeout(1200)
def test_bench_runs_every_phase_and_a_restart_writes_nothing(tmp_path: Path) -> None:
    # On the local cluster (bench/run.py brings it up): its audit log counts the requests.
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), str(N), "--name", "ci",
         "--results", str(tmp_path), "--repeat", "2"],
        capture_output=True, text=True, timeout=1100, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    row = json.loads((tmp_path / "ci.json").read_text())["rows"][0]
    for key in ("n", "t_api_s", "t_contract_s", "t_kubectl_s", "t_op_s", "resync_writes",
                "rss_mib", "op_over_api", "op_over_contract", "op_over_kubectl", "churn_s",
                "t_api_nopods_s", "t_op_nopods_s"):
        assert key in row, f"{key} missing from {row}"
    assert row["n"] == N
    # --repeat 2: two T_contract/T_op pairs side by side, each T_op with an operator of its
    # own that created every App's Deployment once; the ratio is the median of the pairs'.
    pairs = row["pairs"]
    assert len(pairs) == 2, row
    assert [pair["op_requests"]["patch deployments"] for pair in pairs] == [N, N], row
    assert all(pair["t_contract_s"] > 0 and pair["t_op_s"] > 0 for pair in pairs), row
    assert row["op_over_contract"] == round((pairs[0]["ratio"] + pairs[1]["ratio"]) / 2, 2), row
    assert "resync_note" not in row, row  # 20 Apps settle well within the window
    assert row["resync_writes"] == 0 and row["resync_child_writes"] == 0, row
    # The contract itself needs three children and a status per App, and a Deployment and a
    # status per changed App: fewer writes would mean work left undone. Reads have no such
    # floor (the informers serve them), so they are reported, not asserted.
    assert row["op_writes_per_app"] >= 4, row
    # T_contract's operator requests were sent as the operator's ServiceAccount (the audit
    # log has them): three children and one status an App, nothing else.
    assert row["contract_requests"] == {"patch apps/status": N, "patch deployments": N,
                                        "patch services": N,
                                        "patch persistentvolumeclaims": N}, row
    assert row["op_requests"]["patch deployments"] == N, row
    assert row["churn_writes"] >= N // 10 * 2, row
    assert 0 < row["rss_mib"] < 500, row
    assert f"| {N} |" in (tmp_path / "ci.md").read_text()
    assert (tmp_path / "ci.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
