"""Each backend and workload has a structured schema Hydra checks as it composes, made from what its
module declares (``OPTIONS``: keys, types, defaults), which its ``conf/<group>/<name>.yaml`` extends.

Real Hydra compositions (``initialize_config_dir`` + ``compose``) of parsweep's ``conf/`` and of a
copy with one file made wrong: a key the part does not have, or a value its type cannot hold, fails
in Hydra's composition, before any code of parsweep reads the config.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import CONF_DIR

pytestmark = pytest.mark.timeout(120)

PARTS = [(group, path.stem) for group in ("backend", "workload") for path in sorted((CONF_DIR / group).glob("*.yaml"))]


@pytest.mark.parametrize("group, name", PARTS, ids=[f"{g}={n}" for g, n in PARTS])
def test_every_part_extends_its_schema_and_composes_to_its_declared_defaults(hydra_conf, group: str, name: str) -> None:
    from runner.trial import backends, workloads

    data = yaml.safe_load((CONF_DIR / group / f"{name}.yaml").read_text())
    assert data["defaults"][0] == f"/parsweep_schema_{group}_{name}@_here_", f"conf/{group}/{name}.yaml does not extend its schema"
    declared = (backends if group == "backend" else workloads).get(name).OPTIONS
    overrides = [f"{group}={name}"] + (["workload.function=m:f"] if name == "custom" else [])
    composed = hydra_conf(config_name="config", overrides=overrides)[group]
    assert list(composed) == ["name", *declared], "the composed keys are the schema's: name, then OPTIONS in order"
    # one source of defaults: the YAML repeats none (custom's pythonpath is the launch folder, a Hydra interpolation)
    repeated = {k for k in data if k in declared and k != "pythonpath"}
    assert repeated == set(), f"conf/{group}/{name}.yaml repeats the defaults its module declares: {repeated}"


def wrong_copy(tmp_path: Path, group: str, name: str, line: str) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf, ignore=shutil.ignore_patterns("__pycache__"))
    path = conf / group / f"{name}.yaml"
    path.write_text(path.read_text() + line + "\n")
    return conf


@pytest.mark.parametrize(
    "group, name, line, message",
    [
        ("backend", "multiprocessing", "start_method: [fork, spawn]", "start_method"),  # a list where a string is declared
        ("backend", "process_pool", "strat_method: spawn", "Key 'strat_method' not in"),  # a key it does not have
        ("workload", "custom", "combine: {module: f}", "combine"),
        ("workload", "sum_range", "block: 4", "Key 'block' not in"),
    ],
)
def test_a_wrong_group_field_fails_in_hydras_composition(tmp_path: Path, group: str, name: str, line: str, message: str) -> None:
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import ValidationError

    import runner.app.main  # noqa: F401  registers the schemas

    conf = wrong_copy(tmp_path, group, name, line)
    overrides = [f"{group}={name}"] + (["workload.function=m:f"] if name == "custom" else [])
    with initialize_config_dir(version_base="1.3", config_dir=str(conf), job_name="test"), \
            pytest.raises((ConfigCompositionException, ValidationError)) as raised:
        compose(config_name="config", overrides=overrides)
    assert message in str(raised.value) + str(raised.value.__cause__), raised.value


def test_a_part_file_that_does_not_extend_its_schema_still_composes(tmp_path: Path) -> None:
    """Why the whole config's ``backend`` and ``workload`` stay ``Any`` (runner/app/schema.py): a part's
    YAML of one's own without ``parsweep_schema_<group>_<name>`` composes with its options, and
    parsweep's own checks judge them; a closed type for ``backend`` would refuse ``start_method``."""
    from hydra import compose, initialize_config_dir

    import runner.app.main  # noqa: F401  registers the schemas
    from runner.trial.spec import build_spec

    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf, ignore=shutil.ignore_patterns("__pycache__"))
    (conf / "backend" / "mine.yaml").write_text("name: multiprocessing\nstart_method: spawn\n")
    with initialize_config_dir(version_base="1.3", config_dir=str(conf), job_name="test"):
        composed = compose(config_name="config", overrides=["backend=mine"])
    assert dict(composed.backend) == {"name": "multiprocessing", "start_method": "spawn"}
    assert build_spec(composed).backend == "multiprocessing"
