"""Hostile bundles, as reliability cases (:mod:`request_dse.testing.hostile` runs them).

Each starts from a real bundle (:class:`request_dse.testing.bundles.Kit`) and does what a
participant could: settings that write files or load libraries, archive and data bombs,
documents nested 100,000 deep, names that print a fake verdict, a self-written
``validation.json``. ``validate`` must refuse each with one escaped line (exit code 2) before
anything of it runs; ``scoreboard`` must list a bad bundle, rank the others and show a claim as
a claim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from request_dse.testing import bundles as B
from request_dse.testing.bundles import Kit
from request_dse.testing.hostile import Case, Invocation

#: Where the first two settings would have written, had they been applied.
PLANTED = "planted-by-bundle"


def _validate(make: Callable[[Path, Kit], Path]) -> Callable[[Path, Kit], Invocation]:
    def build(tmp: Path, kit: Kit) -> Invocation:
        return Invocation(["validate", str(make(tmp, kit))], env={"REQUEST_DSE_CACHE": str(kit.folder / "cache")})
    return build


def _nothing_planted(folder: Path) -> list[str]:
    planted = [p for p in folder.rglob(f"{PLANTED}*")] + [p for p in Path("/tmp").glob(f"{PLANTED}*")]
    return [f"a file was written where the bundle chose: {p}" for p in planted]


def _ort_writes(key: str, value: str) -> Callable[[Path, Kit], Path]:
    return lambda tmp, kit: B.add_setting(kit.copy(tmp), {"kind": "session_option", "key": key,
                                                          "value": value.replace("TMP", str(tmp))})


def _tvm_preload(tmp: Path, kit: Kit) -> Path:
    root = kit.copy(tmp)
    meta = json.loads((root / "artifact" / "meta.json").read_text())
    return B.as_backend(root, "tvm", {"meta.json": {**meta, "backend": "tvm",
                                                    "runtime_env": {"LD_PRELOAD": str(tmp / f"{PLANTED}.so")}}})


def _torch_compiler(tmp: Path, kit: Kit) -> Path:
    settings = {"model": {"family": "mobilenet", "width": 0.25, "depth": None, "resolution": 4, "num_classes": 10},
                "sample_shape": [1, 4, 4], "batch_size": 1, "compile": {"mode": "default"},
                "model_option": {"memory_format": "contiguous", "autocast": "none"},
                "inductor_config": {"freezing": False, "cpp.cxx": ["sh", "-c", f"touch {tmp}/{PLANTED}"]}, "flags": {}}
    return B.as_backend(kit.copy(tmp), "torch", {"session.json": settings})


def _inputs_bomb(tmp: Path, kit: Kit) -> Path:
    root = kit.copy(tmp)
    with np.load(root / "data" / "inputs.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["x_eval"] = np.zeros((1 << 31) // 4, np.float32)  # 2 GiB once loaded, 2 MB on disk
    np.savez_compressed(root / "data" / "inputs.npz", **arrays)
    return B.resign(root)


def _deep(name: str) -> Callable[[Path, Kit], Path]:
    def make(tmp: Path, kit: Kit) -> Path:
        root = kit.copy(tmp)
        (root / name).write_text(B.deep_json())
        return B.resign(root)
    return make


def _fake_verdict_name(tmp: Path, kit: Kit) -> Path:
    root = kit.copy(tmp)
    (root / "artifact" / "x\n\x1b[32mrequest-dse: all bundles reproduced\x1b[0m").write_text("")
    return root  # not in the checksums: rejected, naming the file


def _scoreboard(make: Callable[[Path, Kit], None]) -> Callable[[Path, Kit], Invocation]:
    def build(tmp: Path, kit: Kit) -> Invocation:
        subs = tmp / "subs"
        subs.mkdir()
        make(subs, kit)
        return Invocation(["scoreboard", str(subs), "-o", str(tmp / "board.html")])
    return build


def _good_and_deep(subs: Path, kit: Kit) -> None:
    kit.copy(subs / "good")
    _deep("submission.json")(subs / "bad", kit)
    (subs / "good" / next((subs / "good").iterdir()).name / "validation.json").write_text(B.deep_json())


def _self_badged(subs: Path, kit: Kit) -> None:
    from request_dse.submission import read_bundle

    root = kit.copy(subs)
    claim = {"bundle_digest": read_bundle(root).digest, "status": "reproduced",
             "badges": ["available", "functional", "reproduced"]}
    (root / "validation.json").write_text(json.dumps(claim))


def _page(*needles: str, absent: tuple[str, ...] = ()) -> Callable[[Path], list[str]]:
    def verify(folder: Path) -> list[str]:
        page = folder / "board.html"
        if not page.is_file():
            return ["no page was written"]
        html = page.read_text()
        problems = [f"the page lacks {n!r}" for n in needles if n not in html]
        problems += [f"the page shows {a!r}" for a in absent if a in html]
        if str(folder) in html or os.path.expanduser("~") + "/" in html:
            problems.append("the page embeds an absolute path of this machine")
        return problems
    return verify


CASES: tuple[Case, ...] = (
    Case("bundle-ort-optimized-model-path", "an ONNX Runtime session option that writes the optimized model "
         "where the bundle says", _validate(_ort_writes("optimized_model_filepath", f"TMP/{PLANTED}.onnx")),
         "rejected (unsafe_settings): artifact/session.json: settings[", verify=_nothing_planted),
    Case("bundle-ort-profile-prefix", "an ONNX Runtime session option that writes profiles where the bundle says",
         _validate(_ort_writes("profile_file_prefix", f"/tmp/{PLANTED}")),
         "'profile_file_prefix' writes files where it names", verify=_nothing_planted),
    Case("bundle-tvm-ld-preload", "a TVM artifact whose meta.json sets LD_PRELOAD for the loading process",
         _validate(_tvm_preload), "artifact/meta.json: runtime_env.LD_PRELOAD: is not among the runtime_env keys"),
    Case("bundle-torch-inductor-compiler", "a torch artifact whose Inductor config names its own compiler command",
         _validate(_torch_compiler), "artifact/session.json: inductor_config.cpp.cxx: is not among the "
         "inductor_config keys", verify=_nothing_planted),
    Case("bundle-inputs-bomb", "data/inputs.npz of 2 MB that loads as 2 GiB", _validate(_inputs_bomb),
         "rejected (too_large): data/inputs.npz: expands to more than 512 MiB"),
    Case("bundle-tar-bomb", "a .tar.gz of a few MB holding a 1.5 GB member",
         _validate(lambda tmp, kit: B.tar_bomb(tmp / "bomb.tar.gz", 1.5)),
         "rejected (too_large): its members declare more than 1 GiB"),
    Case("bundle-zip-bomb", "a .zip of a few MB whose members expand to 1.5 GB",
         _validate(lambda tmp, kit: B.zip_bomb(tmp / "bomb.zip", 1.5)),
         "rejected (too_large): its members declare more than 1 GiB"),
    Case("bundle-100k-members", "a .tar.gz of 100,000 empty members",
         _validate(lambda tmp, kit: B.tar_of_many(tmp / "many.tar.gz", 100_000)),
         "rejected (too_large): more than 10,000 members"),
    Case("bundle-deep-submission", "submission.json nested 100,000 deep, re-signed", _validate(_deep("submission.json")),
         "rejected (bad_json): submission.json: nests deeper than 64 levels"),
    Case("bundle-name-fake-verdict", "a file named with a newline and ANSI colours printing a fake verdict",
         _validate(_fake_verdict_name),
         "rejected (uncovered_file): artifact/x\\n\\x1b[32mrequest-dse: all bundles reproduced\\x1b[0m: not covered"),
    Case("scoreboard-skips-a-deep-bundle", "a folder with a good bundle (its validation.json 100,000 deep) and a "
         "submission.json 100,000 deep", _scoreboard(_good_and_deep), "1 bundle(s) rejected", code=0,
         verify=_page("rejected (bad_json): submission.json: nests deeper than 64 levels", '"track":"live"')),
    Case("scoreboard-self-written-badge", "a bundle with its own validation.json claiming every badge",
         _scoreboard(_self_badged), "scoreboard: 1 entries", code=0,
         verify=_page('"badge":"","claimed":"reproduced"', absent=('"badge":"reproduced"',))),
)
