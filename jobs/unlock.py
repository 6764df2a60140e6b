"""``lakeforge unlock --lakehouse s3a://…``: show, then clear, the writer lease a killed job left behind.

A writing job on a lakehouse in object storage holds ``<root>/_lakeforge/writer.lease`` while it runs (see
:mod:`curation.lease`); one that was killed (SIGKILL, a lost node) leaves it, and every later writer is refused until
it is cleared. Clear it only once the job it names is gone.
"""

from __future__ import annotations

import json

from jobs.common import JobError, Parser, conf_args, s3_conf


def parser() -> Parser:
    p = Parser(prog="lakeforge unlock", description=__doc__.split("\n\n")[0])
    p.add_argument("--lakehouse", required=True, metavar="URI", help="the lakehouse (s3a://BUCKET/PREFIX)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="spark.hadoop.fs.s3a.* setting")
    p.add_argument("--show", action="store_true", help="only print the lease (JSON; null when there is none)")
    return p


def main(argv=None) -> int:
    from curation import lease
    from curation.storage import S3Settings, is_remote, open_store, spark_uri

    args = parser().parse_args(argv)
    if not is_remote(args.lakehouse):
        raise JobError(f"{args.lakehouse}: only a lakehouse in object storage has a writer lease")
    root = spark_uri(args.lakehouse)
    store = open_store(root, S3Settings.from_hadoop(s3_conf(conf_args(args.conf))))
    store.check_bucket(root)
    held = lease.holder(store, root) if args.show else lease.clear(store, root)
    print(json.dumps({"lease": lease.lease_uri(root), "holder": held, "cleared": not args.show and held is not None}))
    return 0
