"""``request-dse export --mlperf DIR``: a study's bundles laid out as an MLPerf Inference submission
(open division), for a submitter to start from. The layout is the one ``docs/mlperf-export.md``
specifies (:data:`RESULT_FILES`, :data:`SYSTEM_FIELDS`); every bundle must carry LoadGen logs
(``measure.protocol: loadgen``).

    DIR/open/<submitter>/systems/<system>.json
    DIR/open/<submitter>/src/<model>/README.md, study.yaml
    DIR/open/<submitter>/results/<system>/<model>/<Scenario>/
        README.md, user.conf, measurements.json, performance/run_1/, accuracy/, TEST01/, TEST04/

A system is a target with a framework (``<target>_<framework>``, with ``_<n>`` added when two
bundles would share one result folder). Fields request-dse cannot know are ``unknown`` and listed
in the result's README for the submitter to fill in.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from request_dse.errors import UserError
from request_dse.protocol import MLPERF_MIN_DURATION_MS, MLPERF_MIN_QUERIES
from request_dse.submission.bundle import Bundle, open_bundle
from request_dse.submission.loadgen_logs import LOADGEN_DIR
from request_dse.targets.loadgen import SCENARIO_NAMES, read_detail

#: Files every result folder has (relative to results/<system>/<model>/<Scenario>/).
RESULT_FILES = ("README.md", "user.conf", "measurements.json",
                "performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_detail.txt",
                "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt")
#: Files of the compliance tests, when the bundle ran them (the confirm phase does).
COMPLIANCE_FILES = ("TEST01/performance/run_1/mlperf_log_summary.txt", "TEST01/performance/run_1/mlperf_log_detail.txt",
                    "TEST01/performance/run_1/mlperf_log_accuracy.json", "TEST01/verify_accuracy.txt",
                    "TEST04/performance/run_1/mlperf_log_summary.txt", "TEST04/performance/run_1/mlperf_log_detail.txt",
                    "TEST04/verify_performance.txt")
#: The fields of measurements.json.
MEASUREMENT_FIELDS = ("input_data_types", "retraining", "starting_weights_filename", "weight_data_types",
                      "weight_transformations")
#: The system-description fields MLPerf's submission checker requires.
SYSTEM_FIELDS = ("division", "submitter", "status", "system_name", "number_of_nodes", "host_processor_model_name",
                 "host_processors_per_node", "host_processor_core_count", "host_memory_capacity",
                 "host_storage_capacity", "host_storage_type", "accelerators_per_node", "accelerator_model_name",
                 "accelerator_memory_capacity", "framework", "operating_system", "system_type",
                 "other_software_stack", "host_processor_frequency", "host_processor_caches",
                 "host_memory_configuration", "host_processor_interconnect", "host_networking",
                 "host_networking_topology", "accelerator_frequency", "accelerator_host_interconnect",
                 "accelerator_interconnect", "accelerator_interconnect_topology", "accelerator_memory_configuration",
                 "accelerator_on-chip_memories", "cooling", "hw_notes", "sw_notes", "host_network_card_count",
                 "system_type_detail")
_LOGS = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json")


def _name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def system_doc(bundle: Bundle, submitter: str) -> dict[str, Any]:
    """MLPerf's system description from the bundle's ``system.json`` (``unknown`` where not known)."""
    doc: dict[str, Any] = {k: "unknown" for k in SYSTEM_FIELDS}
    no_accelerator = not bundle.system.get("accelerators_per_node")
    if no_accelerator:
        doc.update({k: "N/A" for k in SYSTEM_FIELDS if k.startswith("accelerator_")}, accelerators_per_node=0)
    doc.update({k: v for k, v in bundle.system.items() if isinstance(v, (str, int, float)) and v != ""})
    doc.update(division="open", submitter=submitter, status="rdi", system_type_detail="N/A",
               hw_notes=doc["hw_notes"] if doc["hw_notes"] != "unknown" else "",
               sw_notes=doc["sw_notes"] if doc["sw_notes"] != "unknown" else "")
    return doc


def _measurements(bundle: Bundle) -> dict[str, str]:
    w = bundle.submission["workload"]
    precision = str(w.get("precision", "fp32"))
    return {"input_data_types": "fp32", "retraining": "No",
            "starting_weights_filename": f"{w['name']} zoo model {w['model_id']} (sha256 {w.get('model_sha256', '')})",
            "weight_data_types": precision,
            "weight_transformations": "static QDQ quantization" if precision == "int8" else "none"}


def _copy_logs(src: Path, dest: Path, names: Iterable[str]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (src / name).is_file():
            shutil.copyfile(src / name, dest / name)


def _mlperf_valid(run: Path, scenario: str) -> str:
    values = read_detail(run / "mlperf_log_detail.txt")
    long_enough = int(values.get("effective_min_duration_ms", 0)) >= MLPERF_MIN_DURATION_MS and \
        int(values.get("effective_min_query_count", 0)) >= MLPERF_MIN_QUERIES[scenario]
    verdict = values.get("result_validity", "unknown")
    return (f"LoadGen judged the run {verdict}; its settings {'meet' if long_enough else 'do not meet'} MLPerf's "
            f"minimum run ({MLPERF_MIN_DURATION_MS // 1000} s and at least {MLPERF_MIN_QUERIES[scenario]} quer"
            f"{'y' if MLPERF_MIN_QUERIES[scenario] == 1 else 'ies'})")


def _readme(bundle: Bundle, scenario: str, valid: str) -> str:
    doc = bundle.submission
    return "\n".join([
        f"# {doc['workload']['model_id']} / {SCENARIO_NAMES[scenario]} on {bundle.target} ({bundle.framework})", "",
        f"Exported by request-dse from bundle `{bundle.id}` ({doc.get('label', '')}).", "",
        f"- Framework flags: `{json.dumps(doc['framework'].get('flags', {}), sort_keys=True)}`; batch "
        f"{doc['target']['batch_size']}, {doc['target']['threads']} thread(s).",
        f"- MLPerf validity: {valid}.",
        "- Fields marked `unknown` in systems/*.json are for the submitter to fill in; `status` is `rdi`.",
        f"- Check the bundle again: `{doc['reproduce']['validate']}`",
        *([f"- Run what produced it: `{doc['reproduce']['rebuild']}`"] if doc["reproduce"].get("rebuild") else []),
        "", "Settings of the performance run: user.conf. Scenario's figures: "
            "performance/run_1/mlperf_log_summary.txt.", ""])


def _result(bundle: Bundle, folder: Path) -> None:
    logs = bundle.root / LOADGEN_DIR  # type: ignore[operator]
    scenario = str(bundle.submission["measurement"]["protocol"].get("scenario", "single_stream"))
    _copy_logs(logs / "performance" / "run_1", folder / "performance" / "run_1", _LOGS)
    _copy_logs(logs / "accuracy", folder / "accuracy", (*_LOGS, "accuracy.txt"))
    shutil.copyfile(logs / "performance" / "run_1" / "user.conf", folder / "user.conf")
    for test, extra in (("TEST01", "verify_accuracy.txt"), ("TEST04", "verify_performance.txt")):
        if (logs / test / extra).is_file():
            _copy_logs(logs / test / "performance" / "run_1", folder / test / "performance" / "run_1", _LOGS)
            shutil.copyfile(logs / test / extra, folder / test / extra)
    (folder / "measurements.json").write_text(json.dumps(_measurements(bundle), indent=1) + "\n")
    valid = _mlperf_valid(logs / "performance" / "run_1", scenario)
    (folder / "README.md").write_text(_readme(bundle, scenario, valid))


def write_tree(bundle_paths: Iterable[Path], out: Path, submitter: str, study_file: Path | None = None) -> list[Path]:
    """Lay the bundles out under ``out/open/<submitter>/``; returns the result folders."""
    root = out / "open" / _name(submitter)
    taken: dict[tuple[str, str, str], int] = {}
    folders = []
    for path in bundle_paths:
        with open_bundle(path) as bundle:
            logs = bundle.root / LOADGEN_DIR  # type: ignore[operator]
            if not (logs / "performance" / "run_1" / "mlperf_log_detail.txt").is_file() or \
                    not (logs / "accuracy" / "mlperf_log_accuracy.json").is_file():
                raise UserError(f"{path}: has no LoadGen logs (measurements/loadgen/); an MLPerf tree needs a study "
                                "measured with `measure.protocol: loadgen`")
            scenario = str(bundle.submission["measurement"]["protocol"].get("scenario", "single_stream"))
            model = _name(f"{bundle.workload}-{bundle.submission['workload']['model_id']}")
            system = _name(f"{bundle.target}_{bundle.framework}")
            key = (system, model, scenario)
            taken[key] = taken.get(key, 0) + 1
            if taken[key] > 1:
                system = f"{system}_{taken[key]}"
            folder = root / "results" / system / model / SCENARIO_NAMES[scenario]
            folder.mkdir(parents=True, exist_ok=True)
            _result(bundle, folder)
            (root / "systems").mkdir(parents=True, exist_ok=True)
            sysdoc = system_doc(bundle, submitter)
            sysdoc["system_name"] = f"{sysdoc['system_name']} [{system}]"
            (root / "systems" / f"{system}.json").write_text(json.dumps(sysdoc, indent=1, sort_keys=True) + "\n")
            src = root / "src" / model
            src.mkdir(parents=True, exist_ok=True)
            if study_file is not None and study_file.is_file():
                shutil.copyfile(study_file, src / "study.yaml")
            (src / "README.md").write_text(f"# {model}\n\nBuilt and measured by request-dse "
                                           f"({bundle.submission['reproduce'].get('request_dse_version', '')}); "
                                           "study.yaml is the study that found it. Rebuild and measure again with "
                                           "`request-dse tune study.yaml`.\n")
            folders.append(folder)
    return folders
