"""How jobs reach object storage: hadoop-aws matching pyspark's Hadoop, the S3A settings from the command line and the
environment, and Spark's own S3A failures as one line."""

from __future__ import annotations

from pathlib import Path

import pyspark
import pytest
from s3_server import free_port, settings_for

from curation.config import SparkConfig
from curation.spark.session import hadoop_aws_package, jar_list_file, packages, spark_settings
from curation.storage import S3Settings
from jobs.common import s3_conf, user_error

S = "spark.hadoop.fs.s3a."


def test_hadoop_aws_matches_the_hadoop_spark_runs():
    jars = Path(pyspark.__file__).parent / "jars"
    version = hadoop_aws_package().rsplit(":", 1)[1]
    assert (jars / f"hadoop-client-api-{version}.jar").is_file()
    assert hadoop_aws_package().startswith("org.apache.hadoop:hadoop-aws:")
    assert packages(SparkConfig()) == packages(SparkConfig())[:1]
    cfg = SparkConfig(object_store=True)
    assert packages(cfg)[1] == hadoop_aws_package()
    assert hadoop_aws_package() in spark_settings(cfg)["spark.jars.packages"].split(",")
    assert jar_list_file(cfg) != jar_list_file(SparkConfig())  # the remembered jars are per package list


def test_settings_from_the_environment_and_the_command_line():
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
    conf = s3_conf({}, env)
    assert S3Settings.from_hadoop(conf) == S3Settings("http://127.0.0.1:9000", True, "AK", "SK", None, "us-east-1")
    assert conf[S + "connection.ssl.enabled"] == "false"
    # the command line wins, also over path style; a session token selects the temporary-credentials provider
    given = {S + "endpoint": "https://s3.example.com", S + "path.style.access": "false", S + "access.key": "CLI"}
    conf = s3_conf(given, {**env, "AWS_SESSION_TOKEN": "T", "AWS_REGION": "eu-west-1"})
    got = S3Settings.from_hadoop(conf)
    assert (got.endpoint, got.path_style, got.access_key, got.region) == (
        "https://s3.example.com",
        False,
        "CLI",
        "eu-west-1",
    )
    conf = s3_conf({}, {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T"})
    assert conf[S + "aws.credentials.provider"].endswith("TemporaryAWSCredentialsProvider")
    assert S + "endpoint" not in conf and S + "path.style.access" not in conf  # AWS itself: virtual-host style
    assert s3_conf({}, {}) == {}  # nothing given: Hadoop's and boto3's default chains


def test_a_profile(tmp_path, monkeypatch):
    (tmp_path / "credentials").write_text("[lake]\naws_access_key_id = PK\naws_secret_access_key = PS\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    got = S3Settings.from_hadoop(s3_conf({}, {"AWS_PROFILE": "lake"}))
    assert (got.access_key, got.secret_key) == ("PK", "PS")


@pytest.mark.objectstore
def test_spark_s3a_failures_are_one_line(spark, s3_server):
    """Real S3A failures raised by Spark (through Py4J): the line names what and where."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    for k, v in settings_for(s3_server).hadoop().items():
        hadoop.set(k.removeprefix("spark.hadoop."), v)
    hadoop.set("fs.s3a.bucket.no-such-bucket-x.endpoint", s3_server["endpoint"])

    def failure(uri: str) -> str:
        with pytest.raises(Exception) as e:
            spark.read.format("delta").load(uri).count()
        message = user_error(e.value)
        assert message is not None and "\n" not in message, str(e.value)[:2000]
        return message

    missing = failure("s3a://no-such-bucket-x/lake/t")
    assert "bucket does not exist" in missing and "s3a://no-such-bucket-x/lake/t" in missing
    dead = f"127.0.0.1:{free_port()}"
    hadoop.set("fs.s3a.bucket.dead-bucket-x.endpoint", f"http://{dead}")
    hadoop.set("fs.s3a.bucket.dead-bucket-x.attempts.maximum", "1")
    hadoop.set("fs.s3a.bucket.dead-bucket-x.retry.limit", "1")
    unreachable = failure("s3a://dead-bucket-x/lake/t")
    assert "cannot reach the object store" in unreachable and "dead-bucket-x" in unreachable
