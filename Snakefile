# minnow: raw text → corpus → tokenizer → token shards (→ model → evaluation → export).
# The DAG is in docs/ARCHITECTURE.md; each stage is one file under rules/.
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

# Every step imports this workflow's own lib/minnow, whichever minnow the environment
# has installed (two clones may share one venv): first here, then in each job, which
# inherits PYTHONPATH (a cluster job parses this file again and sets it itself).
LIB = f"{workflow.basedir}/lib"
sys.path.insert(0, LIB)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [LIB, os.environ.get("PYTHONPATH")]))
)


configfile: "config/config.yaml"


validate(config, "config/schema/config.schema.yaml")


include: "rules/common.smk"
include: "rules/download.smk"
include: "rules/prepare_corpus.smk"
include: "rules/train_tokenizer.smk"
include: "rules/shard.smk"
include: "rules/train.smk"
include: "rules/perplexity.smk"
include: "rules/samples.smk"
include: "rules/export.smk"
include: "rules/downstream.smk"
include: "rules/report.smk"


report: "report/workflow.rst"


onstart:
    create_tracking_store()


onsuccess:
    print(tracking_ui_hint())


rule all:
    input:
        all_targets(),


rule unknown_model:
    # Matches a target under results/ whose folder is no model of the config, only to
    # say so (and list the presets) instead of Snakemake's "No rule to produce".
    input:
        unknown_model,
    output:
        "results/{not_a_model}/{file}",
