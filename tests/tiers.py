"""Which test modules make the e2e tier (used by tests/conftest.py; checked by tests/test_layout.py)."""

# The e2e tier: `make test` runs it, `make test-fast` leaves it out. A test module belongs here when it runs jobs end
# to end: a whole chain, a kill/resume, the browser, the installed command in new processes (each a JVM start), a
# multi-job scenario on Spark, multi-process training, or a bench/eval over its full real input. What stays in the
# fast tier: the library's pure logic, and one Spark session for the adapters' single-job checks.
E2E_MODULES = {
    "jobs/test_pipeline_run.py": "lakeforge run: the whole chain, killed and resumed",
    "curation/spark/test_report_browser.py": "a whole pipeline run, its report rendered in headless Chromium",
    "bench/test_smoke.py": "every bench and eval started on a tiny input",
    "jobs/test_cli.py": "the installed command in new processes",
    "jobs/test_curate_cli.py": "curate, stats, filter and sql, each a new process",
    "jobs/test_cluster.py": "2 workers, packed env, S3 inputs + lakehouse: the chain equals local mode; worker killed",
    "jobs/test_session_errors.py": "new JVMs: jar cache, JIT, logging, one-line errors",
    "jobs/test_sql_job.py": "lakeforge sql / tables / history processes",
    "jobs/test_warm.py": "lakeforge warm, then new JVMs that map its class archive (and one that does not)",
    "training/test_train_cpu.py": "torchrun with 2 processes: TP, PP, DP, resume",
    "training/test_train_from_object_storage.py": "lakeforge train processes staging shards from the S3 server",
    "curation/spark/test_classify_job.py": "curate, train a classifier, classify, filter",
    "curation/spark/test_dedup_job.py": "curate, dedup, incremental dedup, filter",
    "curation/spark/test_dedup_large_component.py": "dedup of a component of 100,000 near-identical pages",
    "curation/spark/test_mix_job.py": "tokenize, mix, Megatron reads the blend, lineage",
    "curation/spark/test_tokenize_job.py": "a table version → shards → Megatron-Core reads them back",
    "curation/test_eval_extraction.py": "the extraction eval over its 990 real pages",
    "jobs/test_objectstore.py": "lakeforge run on the S3 server vs local; sql/tables/history; bad settings; 2 writers",
}
