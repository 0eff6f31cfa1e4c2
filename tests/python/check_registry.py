"""Reads a registered trainer model back through MLflow's own Python client.

usage: check_registry.py URI RUN_ID MODEL VERSION PULLED_DIR DATASET_SHA256

Checks the run's dataset inputs (one per split, with the dataset's SHA-256 in the profile), the
version's lineage (its run), and that MLflow parses the pulled model's MLmodel (flavor and
signature). Prints "registry ok" and exits 0, or fails with an assertion.
"""

import json
import sys

import mlflow
from mlflow.models import Model
from mlflow.tracking import MlflowClient

uri, run_id, name, version, pulled, sha256 = sys.argv[1:7]
mlflow.set_tracking_uri(uri)

inputs = mlflow.get_run(run_id).inputs.dataset_inputs
contexts = {}
for i in inputs:
    tags = {t.key: t.value for t in i.tags}
    contexts[tags["mlflow.data.context"]] = i.dataset
assert set(contexts) == {"training", "validation", "test"}, contexts
for d in contexts.values():
    assert d.name == "mnist-10k", d.name
    assert json.loads(d.profile)["sha256"] == sha256, d.profile
    assert json.loads(d.source)["uri"].endswith("datasets/mnist-10k"), d.source

mv = MlflowClient().get_model_version(name, version)
assert mv.run_id == run_id, (mv.run_id, run_id)
assert mv.source.endswith("/model"), mv.source

m = Model.load(pulled)
assert m.flavors["trainer"]["model"] == "mlp", m.flavors
assert m.run_id == run_id, m.run_id
spec = m.signature.inputs.to_dict()[0]
assert list(spec["tensor-spec"]["shape"]) == [-1, 1, 28, 28], spec
out = m.signature.outputs.to_dict()[0]
assert list(out["tensor-spec"]["shape"]) == [-1, 10], out
print("registry ok")
