# minnow: raw text → corpus → tokenizer → token shards (→ model → evaluation → export).
# The DAG is in docs/ARCHITECTURE.md; each stage is one file under rules/.
from snakemake.utils import min_version, validate

min_version("9.0")


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
include: "rules/report.smk"


report: "report/workflow.rst"


onstart:
    create_tracking_store()


rule all:
    input:
        all_targets(),
