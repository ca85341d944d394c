# Pages for `snakemake --report results/report.html`: tables made from each model's and
# corpus's JSON results, beside the loss curves (flagged in train.smk) and the DAG.
# Seconds of work each: on a cluster they run in the main Snakemake process, not as jobs.


localrules:
    report_model,
    report_corpus,
    report_downstream,


rule report_model:
    input:
        ppl="results/{model}/ppl.json",
        quant="results/{model}/export/quant.json",
        samples="results/{model}/samples.md",
        summary="results/{model}/train_summary.json",
    output:
        perplexity=report(
            "results/{model}/report/perplexity.html",
            caption="../report/perplexity.rst",
            category="Perplexity",
            labels={"model": "{model}"},
        ),
        export=report(
            "results/{model}/report/export.html",
            caption="../report/export.rst",
            category="Export",
            labels={"model": "{model}"},
        ),
        samples=report(
            "results/{model}/report/samples.html",
            caption="../report/samples.rst",
            category="Samples",
            labels={"model": "{model}"},
        ),
        training=report(
            "results/{model}/report/training.html",
            caption="../report/training.rst",
            category="Training",
            labels={"model": "{model}", "figure": "summary"},
        ),
    log:
        "results/logs/report_model/{model}.log",
    params:
        code=code("report_model"),
    script:
        "../workflow_scripts/report_model.py"


rule report_corpus:
    input:
        stats="results/corpus/{corpus}/stats.json",
    output:
        report(
            "results/corpus/{corpus}/stats.html",
            caption="../report/corpus.rst",
            category="Corpus",
            labels={"corpus": "{corpus}"},
        ),
    log:
        "results/logs/report_corpus/{corpus}.log",
    params:
        code=code("report_corpus"),
    script:
        "../workflow_scripts/report_corpus.py"


rule report_downstream:
    input:
        "results/{model}/downstream.json",
    output:
        report(
            "results/{model}/report/downstream.html",
            caption="../report/downstream.rst",
            category="Downstream",
            labels={"model": "{model}"},
        ),
    log:
        "results/logs/report_downstream/{model}.log",
    params:
        code=code("report_downstream"),
    script:
        "../workflow_scripts/report_downstream.py"
