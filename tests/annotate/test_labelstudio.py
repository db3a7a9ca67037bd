"""The Label Studio round trip: tasks out (ids, format, privacy), annotations back in (ids,
labels, agreement, adjudication), and clear errors for tasks that do not match the config."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.annotate.agreement import cohen_kappa
from pipeline.annotate.labelstudio import (
    ADJUDICATION_FILE,
    AGREEMENT_FILE,
    CONFIG_FILE,
    LABELLED_FILE,
    MANIFEST_FILE,
    TASK_DATA_COLUMNS,
    TASKS_FILE,
    case_key,
    export_tasks,
    import_annotations,
    labeling_config,
    parse_labeling_config,
    read_export,
    task_id,
)
from pipeline.classify import HEAD_LABELS, make_model, proba_column
from pipeline.datasets import LABEL_SETS, load_labelled, load_synth
from pipeline.errors import (
    AnnotationTaskError,
    ConfigError,
    LabelingConfigError,
    LabelledDataError,
    UnknownLabelError,
)
from pipeline.prepare import prepare
from pipeline.synth import generate, write_synth

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth():
    return generate(30, seed=31, workers=1)


@pytest.fixture(scope="module")
def entries(synth, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synth")
    paths = write_synth(synth, folder, fmt="parquet")
    prepare([paths["export"]], out_dir=folder / "interim")
    return folder / "interim" / "entries.parquet"


@pytest.fixture(scope="module")
def model_dir(synth, entries, tmp_path_factory) -> Path:
    labelled = load_synth(entries.parent.parent)
    model = make_model("baseline", min_df=2, n_jobs=1)
    model.fit(labelled["text"], labelled["oversight_type"], labelled["content"])
    return model.save(tmp_path_factory.mktemp("model") / "baseline")


@pytest.fixture(scope="module")
def batch(entries, model_dir, tmp_path_factory):
    """One uncertainty export of 20 tasks with pre-annotations."""
    out = tmp_path_factory.mktemp("batch")
    result = export_tasks([entries], n=20, out_dir=out, model=model_dir, strategy="uncertainty")
    return result, json.loads((out / TASKS_FILE).read_text())


@pytest.fixture(scope="module")
def truth(synth) -> pd.DataFrame:
    return synth.labels.set_index("contact_id")


# --- a simulated annotator ------------------------------------------------------------------


def _result(name: str, label: str) -> dict:
    return {
        "id": f"r-{name}",
        "from_name": name,
        "to_name": "text",
        "type": "choices",
        "origin": "manual",
        "value": {"choices": [label]},
    }


def ls_export(tasks, labels, *, user: int = 1, first_id: int = 101, extra: dict | None = None):
    """The JSON Label Studio writes for a project (Export > JSON) after one annotator labelled
    ``tasks``: ``labels[contact_id]`` = {field: label}. Ids are Label Studio's own."""
    out = []
    for i, task in enumerate(tasks):
        ls_id = first_id + i
        chosen = labels[task["data"]["contact_id"]]
        out.append(
            {
                "id": ls_id,
                "annotations": [
                    {
                        "id": 1000 * user + i,
                        "completed_by": user,
                        "result": [_result(f, v) for f, v in chosen.items() if v is not None],
                        "was_cancelled": False,
                        "ground_truth": False,
                        "created_at": "2026-11-20T10:00:00.000000Z",
                        "updated_at": "2026-11-20T10:00:00.000000Z",
                        "draft_created_at": None,
                        "lead_time": 21.5,
                        "prediction": {},
                        "result_count": 0,
                        "unique_id": f"u-{user}-{i}",
                        "import_id": None,
                        "last_action": None,
                        "task": ls_id,
                        "project": 7,
                        "updated_by": user,
                        "parent_prediction": None,
                        "parent_annotation": None,
                        "last_created_by": None,
                    }
                ],
                "drafts": [],
                "predictions": [
                    {**copy.deepcopy(p), "id": 500 + i, "task": ls_id, "project": 7}
                    for p in task.get("predictions", [])
                ],
                "data": copy.deepcopy(task["data"]),
                "meta": copy.deepcopy(task.get("meta", {})),
                "created_at": "2026-11-20T09:00:00.000000Z",
                "updated_at": "2026-11-20T10:00:00.000000Z",
                "inner_id": i + 1,
                "total_annotations": 1,
                "cancelled_annotations": 0,
                "total_predictions": len(task.get("predictions", [])),
                "comment_count": 0,
                "unresolved_comment_count": 0,
                "last_comment_updated_at": None,
                "project": 7,
                "updated_by": user,
                "file_upload": "tasks.json",
                "comment_authors": [],
                **(extra or {}),
            }
        )
    return out


def _write(path: Path, export) -> Path:
    path.write_text(json.dumps(export), "utf-8")
    return path


def _truth_labels(tasks, truth) -> dict:
    return {
        t["data"]["contact_id"]: {
            f: truth.at[t["data"]["contact_id"], f] for f in ("oversight_type", "content")
        }
        for t in tasks
    }


# --- the labeling config ------------------------------------------------------------------------


def test_labeling_config_offers_the_scheme():
    cfg = parse_labeling_config(labeling_config())
    assert cfg.text_names == {"text"}
    assert dict(cfg.choices) == {f: tuple(v) for f, v in LABEL_SETS.items()}
    assert all(cfg.single.values())


@pytest.mark.parametrize(
    ("xml", "needle"),
    [
        ("<View><Text name='text' value='$text'/>", "not XML"),
        ("<View><Choices name='content' toName='text'/></View>", "no named Text"),
        (
            "<View><Text name='text' value='$text'/><Choices name='content' toName='text'>"
            "<Choice value='defensive'/><Choice value='other'/></Choices></View>",
            "'other'",
        ),
        (
            "<View><Text name='text' value='$text'/><Choices name='mood' toName='text'>"
            "<Choice value='happy'/></Choices></View>",
            "'mood'",
        ),
    ],
)
def test_labeling_config_that_is_not_the_scheme_is_refused(xml, needle, tmp_path):
    path = tmp_path / "config.xml"
    path.write_text(xml)
    with pytest.raises(LabelingConfigError, match=needle):
        from pipeline.annotate.labelstudio import load_labeling_config

        load_labeling_config(path)


# --- export -------------------------------------------------------------------------------------


def test_export_writes_label_studio_tasks_with_predictions(batch, entries, tmp_path):
    result, tasks = batch
    out = Path(result.outputs["tasks"]).parent
    assert result.n_tasks == len(tasks) == 20
    assert (out / CONFIG_FILE).read_text() == labeling_config()
    pool = pd.read_parquet(entries).set_index("contact_id")
    for task in tasks:
        data = task["data"]
        assert set(data) <= set(TASK_DATA_COLUMNS)
        assert data["task_id"] == task_id(data["contact_id"])
        assert data["text"] == pool.at[data["contact_id"], "text"]  # the redacted text
        assert data["case"] == case_key(pool.at[data["contact_id"], "crn"])
        assert "id" not in task  # Label Studio numbers tasks itself
        (pred,) = task["predictions"]
        assert pred["model_version"] == result.model_version
        assert result.model_version.startswith("baseline@")
        assert 0 <= pred["score"] <= 1
        by_name = {r["from_name"]: r for r in pred["result"]}
        for head in ("oversight_type", "content"):
            r = by_name[head]
            assert r["type"] == "choices" and r["to_name"] == "text"
            assert r["value"]["choices"][0] in HEAD_LABELS[head]
    # most uncertain first
    u = [t["meta"]["uncertainty"] for t in tasks]
    assert u == sorted(u, reverse=True)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["task_ids"] == [t["data"]["task_id"] for t in tasks]
    assert manifest["strategy"] == "uncertainty" and manifest["n_pool"] == len(pool)


def test_tasks_hold_no_personal_data(batch, synth):
    _, tasks = batch
    blob = json.dumps(tasks)
    cases = synth.cases
    for crn, first, last in zip(
        cases["crn"], cases["pop_forename"], cases["pop_surname"], strict=True
    ):
        assert crn not in blob
        assert f"{first} {last}" not in blob
    for name in set(cases["pp_name"]) | set(cases["spo_name"]):
        assert name not in blob


def test_task_ids_follow_the_contact_not_the_row_order(entries, tmp_path):
    pool = pd.read_parquet(entries)
    shuffled = tmp_path / "shuffled.parquet"
    pool.sample(frac=1.0, random_state=3).to_parquet(shuffled)
    a = export_tasks([entries], n=len(pool), out_dir=tmp_path / "a", strategy="random")
    b = export_tasks([shuffled], n=len(pool), out_dir=tmp_path / "b", strategy="random")
    ids = {}
    for res in (a, b):
        for t in json.loads(Path(res.outputs["tasks"]).read_text()):
            ids.setdefault(t["data"]["contact_id"], set()).add(t["data"]["task_id"])
    assert len(ids) == len(pool)
    assert all(len(v) == 1 for v in ids.values())
    assert len({next(iter(v)) for v in ids.values()}) == len(pool)  # distinct


def test_export_excludes_what_was_sent_before(batch, entries, tmp_path):
    result, first = batch
    again = export_tasks(
        [entries],
        n=15,
        out_dir=tmp_path,
        strategy="stratified",
        exclude=[Path(result.outputs["tasks"])],
    )
    second = json.loads((tmp_path / TASKS_FILE).read_text())
    assert again.n_excluded == 20
    assert not {t["data"]["contact_id"] for t in first} & {t["data"]["contact_id"] for t in second}
    assert "predictions" not in second[0]  # no model, no scored input: no pre-annotations


def test_export_uses_a_scored_inputs_probabilities(entries, model_dir, tmp_path):
    from pipeline.classify import load_model

    pool = pd.read_parquet(entries)
    pred = load_model(model_dir).predict(pool["text"].tolist())
    scored = pd.concat([pool, pred.drop(columns=["oversight_type", "content"])], axis=1)
    scored["model_version"] = "oversight/3@abc"
    scored.to_parquet(tmp_path / "scored.parquet")
    export_tasks([tmp_path / "scored.parquet"], n=5, out_dir=tmp_path / "out")
    tasks = json.loads((tmp_path / "out" / TASKS_FILE).read_text())
    assert {t["predictions"][0]["model_version"] for t in tasks} == {"oversight/3@abc"}
    cid = tasks[0]["data"]["contact_id"]
    row = scored.set_index("contact_id").loc[cid]
    best = max(HEAD_LABELS["content"], key=lambda lab: row[proba_column("content", lab)])
    content = next(r for r in tasks[0]["predictions"][0]["result"] if r["from_name"] == "content")
    assert content["value"]["choices"] == [best]


def test_export_refuses_what_it_cannot_do(entries, tmp_path):
    with pytest.raises(ConfigError, match="needs a model"):
        export_tasks([entries], n=5, out_dir=tmp_path, strategy="uncertainty")
    with pytest.raises(ConfigError, match="unknown --strategy"):
        export_tasks([entries], n=5, out_dir=tmp_path, strategy="loudest")
    raw = tmp_path / "raw.parquet"
    pd.DataFrame({"contact_id": ["1"], "notes": ["raw note"]}).to_parquet(raw)
    with pytest.raises(LabelledDataError, match="oversight prepare"):
        export_tasks([raw], n=1, out_dir=tmp_path, strategy="random")
    assert not (tmp_path / TASKS_FILE).exists()


# --- import: the round trip -------------------------------------------------------------------


def test_round_trip_preserves_every_id_and_label(batch, truth, tmp_path):
    _, tasks = batch
    alice = _truth_labels(tasks, truth)
    # bob agrees on the type but flips content on every fourth task
    bob = copy.deepcopy(alice)
    flipped = set()
    for i, t in enumerate(tasks):
        if i % 4 == 0:
            cid = t["data"]["contact_id"]
            other = [c for c in LABEL_SETS["content"] if c != alice[cid]["content"]]
            bob[cid]["content"] = other[0]
            flipped.add(cid)
    a = _write(tmp_path / "alice.json", ls_export(tasks, alice, user=1))
    b = _write(tmp_path / "bob.json", ls_export(tasks, bob, user=1, first_id=901))
    result = import_annotations([a, b], out_dir=tmp_path / "out")

    labelled = pd.read_parquet(tmp_path / "out" / LABELLED_FILE).set_index("contact_id")
    assert set(labelled.index) == {t["data"]["contact_id"] for t in tasks}
    for t in tasks:
        cid = t["data"]["contact_id"]
        assert labelled.at[cid, "task_id"] == t["data"]["task_id"]
        assert labelled.at[cid, "crn"] == t["data"]["case"]
        assert labelled.at[cid, "oversight_type"] == alice[cid]["oversight_type"]
        if cid in flipped:  # two annotators, two labels: left for the adjudicator
            assert pd.isna(labelled.at[cid, "content"])
            assert labelled.at[cid, "content_resolution"] == "unresolved"
        else:
            assert labelled.at[cid, "content"] == alice[cid]["content"]
    assert result.annotators == ["alice", "bob"]

    adjudication = pd.read_csv(tmp_path / "out" / ADJUDICATION_FILE, dtype=str)
    assert set(adjudication["contact_id"]) == flipped
    assert (adjudication["fields_disagreed"] == "content").all()
    report = json.loads((tmp_path / "out" / AGREEMENT_FILE).read_text())
    order = [t["data"]["contact_id"] for t in tasks]
    expected = cohen_kappa([alice[c]["content"] for c in order], [bob[c]["content"] for c in order])
    (pair,) = report["fields"]["content"]["cohen_kappa"]
    assert pair["kappa"] == pytest.approx(expected)
    assert pair["n_tasks"] == len(tasks)
    assert report["fields"]["oversight_type"]["krippendorff_alpha"] == pytest.approx(1.0)

    # train reads the labelled file: the same ids and labels, grouped by case
    frame = load_labelled(tmp_path / "out" / LABELLED_FILE).set_index("id")
    assert set(frame.index) == set(labelled.index)
    assert (frame["oversight_type"] == labelled.loc[frame.index, "oversight_type"]).all()
    assert (frame["group"] == labelled.loc[frame.index, "crn"].str.upper()).all()


def test_adjudicated_labels_become_final(batch, truth, tmp_path):
    _, tasks = batch
    tasks = tasks[:6]
    alice = _truth_labels(tasks, truth)
    bob = copy.deepcopy(alice)
    cid = tasks[0]["data"]["contact_id"]
    bob[cid]["oversight_type"] = next(
        t for t in LABEL_SETS["oversight_type"] if t != alice[cid]["oversight_type"]
    )
    exports = [
        _write(tmp_path / "alice.json", ls_export(tasks, alice)),
        _write(tmp_path / "bob.json", ls_export(tasks, bob)),
    ]
    first = import_annotations(exports, out_dir=tmp_path / "round1")
    assert first.n_disagreements == 1
    table = pd.read_csv(tmp_path / "round1" / ADJUDICATION_FILE, dtype=str)
    table["final_oversight_type"] = bob[cid]["oversight_type"]  # the adjudicator sides with bob
    table.to_csv(tmp_path / "decided.csv", index=False)
    second = import_annotations(
        exports, out_dir=tmp_path / "round2", adjudicated=tmp_path / "decided.csv"
    )
    assert second.n_adjudicated == 1
    labelled = pd.read_parquet(tmp_path / "round2" / LABELLED_FILE).set_index("contact_id")
    assert labelled.at[cid, "oversight_type"] == bob[cid]["oversight_type"]
    assert labelled.at[cid, "oversight_type_resolution"] == "adjudicated"


def test_two_annotators_give_the_hand_checked_kappa(batch, tmp_path):
    _, tasks = batch
    tasks = tasks[:10]
    s, d = "substantive", "defensive"
    a = [s, s, s, s, s, s, d, d, d, d]
    b = [s, s, s, s, s, d, d, d, d, s]
    # p_o = 8/10; A and B each: 6 substantive, 4 defensive, so p_e = .6*.6 + .4*.4 = .52
    # kappa = (.8 - .52) / (1 - .52) = .28 / .48 = 7/12
    # alpha (2 coders): o_ss = 10, o_dd = 6, o_sd = o_ds = 2; n_s = 12, n_d = 8, n = 20
    # alpha = 1 - (n - 1) * (o_sd + o_ds) / (2 n_s n_d) = 1 - 19 * 4 / 192 = 29/48
    ids = [t["data"]["contact_id"] for t in tasks]
    ea = ls_export(tasks, {c: {"content": v} for c, v in zip(ids, a, strict=True)})
    eb = ls_export(tasks, {c: {"content": v} for c, v in zip(ids, b, strict=True)}, user=2)
    result = import_annotations(
        [_write(tmp_path / "a.json", ea), _write(tmp_path / "b.json", eb)], out_dir=tmp_path
    )
    content = result.agreement["fields"]["content"]
    assert content["cohen_kappa"][0]["kappa"] == pytest.approx(7 / 12)
    assert content["krippendorff_alpha"] == pytest.approx(29 / 48)
    per_label = {r["label"]: r for r in content["per_label"]}
    assert per_label[s]["tasks_disagreed"] == per_label[d]["tasks_disagreed"] == 2


def test_one_export_with_several_annotators_per_task(batch, truth, tmp_path):
    _, tasks = batch
    tasks = tasks[:4]
    labels = _truth_labels(tasks, truth)
    export = ls_export(tasks, labels, user=3)
    for task in export:
        second = copy.deepcopy(task["annotations"][0])
        second.update(id=second["id"] + 1, completed_by={"id": 4, "email": "b@example.org"})
        cancelled = copy.deepcopy(second)
        cancelled.update(id=second["id"] + 2, completed_by=5, was_cancelled=True)
        task["annotations"] += [second, cancelled]
    frame = read_export(_write(tmp_path / "project.json", export))
    assert sorted(frame["annotator"].unique()) == ["project:3", "project:4"]  # 5 skipped
    assert len(frame) == 8
    assert "b@example.org" not in json.dumps(frame.astype(str).to_dict("records"))


def test_the_latest_annotation_of_an_annotator_counts(batch, truth, tmp_path):
    from pipeline.annotate.labelstudio import read_exports

    _, tasks = batch
    tasks = tasks[:1]
    cid = tasks[0]["data"]["contact_id"]
    labels = _truth_labels(tasks, truth)
    changed = copy.deepcopy(labels)
    changed[cid]["content"] = next(c for c in LABEL_SETS["content"] if c != labels[cid]["content"])
    export = ls_export(tasks, changed)
    newer = export[0]["annotations"][0]
    newer["updated_at"] = "2026-11-21T10:00:00.000000Z"
    older = ls_export(tasks, labels)[0]["annotations"][0]
    export[0]["annotations"].append(older)  # listed after, but updated before
    frame = read_exports([_write(tmp_path / "ann.json", export)])
    assert frame["content"].tolist() == [changed[cid]["content"]]
    assert frame["annotator"].tolist() == ["ann"]


# --- import: clear errors -----------------------------------------------------------------------


def _break(task: dict, how: str) -> None:
    result = task["annotations"][0]["result"]
    if how == "from_name":
        result[0]["from_name"] = "risk_level"
    elif how == "choice":
        result[0]["value"]["choices"] = ["other"]
    elif how == "two_choices":
        result[0]["value"]["choices"] = ["risk", "review"]
    elif how == "to_name":
        result[0]["to_name"] = "notes"
    elif how == "contact_id":
        del task["data"]["contact_id"]
    elif how == "task_id":
        task["data"]["task_id"] = "ov-0000000000000000"
    elif how == "text":
        task["data"]["text"] = ""


@pytest.mark.parametrize(
    ("how", "error", "field", "needle"),
    [
        ("from_name", AnnotationTaskError, "risk_level", "from_name 'risk_level'"),
        ("choice", UnknownLabelError, "oversight_type", "choice 'other'"),
        ("two_choices", AnnotationTaskError, "oversight_type", "2 oversight_type choices"),
        ("to_name", AnnotationTaskError, "oversight_type", "to_name 'notes'"),
        ("contact_id", AnnotationTaskError, "data.contact_id", "no data.contact_id"),
        ("task_id", AnnotationTaskError, "data.task_id", "does not belong"),
        ("text", AnnotationTaskError, "data.text", "no data.text"),
    ],
)
def test_tasks_that_do_not_match_the_config_give_clear_errors(
    batch, truth, tmp_path, how, error, field, needle
):
    _, tasks = batch
    tasks = tasks[:3]
    export = ls_export(tasks, _truth_labels(tasks, truth))
    _break(export[1], how)
    path = _write(tmp_path / "broken.json", export)
    with pytest.raises(error, match=needle) as err:
        import_annotations([path], out_dir=tmp_path / "out")
    assert err.value.path == str(path)
    assert err.value.row == 2
    assert err.value.field == field
    assert "task 102" in str(err.value)  # Label Studio's id of the second task
    assert tasks[1]["data"]["text"][:30] not in str(err.value)
    assert not (tmp_path / "out" / LABELLED_FILE).exists()


def test_a_projects_own_config_narrows_what_is_accepted(batch, truth, tmp_path):
    _, tasks = batch
    tasks = tasks[:3]
    config = tmp_path / "content_only.xml"
    config.write_text(
        "<View><Text name='text' value='$text'/><Choices name='content' toName='text' "
        "choice='single'><Choice value='defensive'/><Choice value='substantive'/></Choices></View>"
    )
    labels = {t["data"]["contact_id"]: {"content": "defensive"} for t in tasks}
    path = _write(tmp_path / "a.json", ls_export(tasks, labels))
    result = import_annotations([path], out_dir=tmp_path / "out", config=config)
    assert result.n_labelled == 3
    both = _write(tmp_path / "b.json", ls_export(tasks, _truth_labels(tasks, truth)))
    with pytest.raises(AnnotationTaskError, match="from_name 'oversight_type'"):
        import_annotations([both], out_dir=tmp_path / "out2", config=config)


def test_an_export_without_annotations_is_refused(batch, tmp_path):
    _, tasks = batch
    export = ls_export(tasks[:2], {t["data"]["contact_id"]: {} for t in tasks[:2]})
    with pytest.raises(LabelledDataError, match="no annotation"):
        import_annotations([_write(tmp_path / "empty.json", export)], out_dir=tmp_path)
