"""`reglab submit k8s` writes Kubernetes manifests that validate against the Kubernetes OpenAPI
schema (kubernetes-validate's bundled schemas, strict: unknown fields are errors) of 1.30 (the
Job's `backoffLimitPerIndex` is on by default from 1.29) and of the newest version the validator
knows. No cluster is involved."""
import json
import subprocess
from pathlib import Path

import pytest

from _helpers import reglab_cli

kv = pytest.importorskip("kubernetes_validate")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    if reglab_cli() is None:
        pytest.skip("no reglab binary built (cargo build --release)")
    out = tmp_path_factory.mktemp("k8s") / "sub"
    cmd = [reglab_cli(), "submit", "k8s", str(ROOT / "experiments" / "quickstart.toml"), "--out", str(out),
           "--image", "registry.example/reglab:0.1", "--pvc", "reglab-work", "--chunk", "4",
           "--cpu", "2", "--memory", "4Gi", "--gpus", "1", "--parallelism", "2", "--namespace", "ml",
           "--data", "/reglab/data"]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return {name: json.loads((out / "k8s" / f"{name}-job.json").read_text()) for name in ("cells", "merge")}


@pytest.mark.parametrize("version", ["1.30.0", None])
@pytest.mark.parametrize("name", ["cells", "merge"])
def test_manifests_validate_against_the_kubernetes_schema(manifests, name, version):
    kv.validate(manifests[name], version or kv.latest_version(), strict=True)


def test_the_cells_job_is_indexed_and_the_validator_is_strict(manifests):
    job = manifests["cells"]
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == 2  # quickstart: 6 cells, 4 per index
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "JOB_COMPLETION_INDEX" in script and "--resume" in script and "REGLAB_DATA=/reglab/data" in script
    # the check can fail: a misspelt field is rejected
    bad = json.loads(json.dumps(job))
    bad["spec"]["template"]["spec"]["containers"][0]["imag"] = bad["spec"]["template"]["spec"]["containers"][0].pop("image")
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, kv.latest_version(), strict=True)
