"""AWS Bedrock: model customization jobs, with the training data in Amazon S3.

Files are S3 objects holding the user's bytes (``storage.py``). A job names
its base model; the training (and validation) file is converted to that
model's format (``dataset.py``) into a copy beside the original, and
``CreateModelCustomizationJob`` trains on the copy. The job's name is the
gateway's job id and it carries that id as a tag, so a create that died on
the way is found again (``find_job``). Remote ids are ``s3://`` URIs and job
ARNs (they contain ``/``), so the gateway mints the public ids.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
import uuid
from typing import Any

from ...errors import ProviderNotFound
from ..base import Provider
from ..data import JobCreate, Page, RemoteJob
from ..gateway_id import GATEWAY_ID_KEY
from .aws import AwsClients
from .catalog import EXTRA_HYPERPARAMETERS, family_of
from .dataset import convert_lines
from .jobs import event_page, job_events, job_request, remote_job
from .storage import S3Files, converted_key, parse_s3_uri

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
#: Keys whose values are AWS credentials (never shown).
CREDENTIAL_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


class BedrockProvider(S3Files, Provider):
    """Bedrock model customization jobs and S3 files for one configured entry."""

    kind = "bedrock"
    model_family = "bedrock"
    example_models = ("amazon.nova-micro-v1:0:128k",)
    extra_hyperparameters = EXTRA_HYPERPARAMETERS
    lists_checkpoints = False  # Bedrock keeps no intermediate checkpoints to list
    result_files_are_files = False  # outputs are a custom model and S3 objects
    mints_ids = True
    can_delete_models = True  # DeleteCustomModel
    options = frozenset(
        {
            "aws_region_name",
            *CREDENTIAL_KEYS,
            "aws_role_name",
            "aws_endpoint_url",
            "role_arn",
            "s3_bucket",
            "s3_prefix",
            "output_s3_uri",
            "vpc_config",
            "kms_key_id",
        }
    )

    def __init__(self, entry: dict[str, Any]):
        super().__init__(entry)
        self.aws = AwsClients(entry, self.name, self.timeout, self.max_retries)
        self.bucket: str = entry.get("s3_bucket") or ""
        self.prefix: str = str(entry.get("s3_prefix") or "").strip("/")
        self.job_options = {
            key: entry.get(key) for key in ("role_arn", "output_s3_uri", "vpc_config", "kms_key_id")
        }

    @classmethod
    def check_entry(cls, entry: dict[str, Any]) -> None:
        """Check option values: region, bucket, URIs, ARNs, key pairs, VPC."""
        region = entry.get("aws_region_name")
        if region is not None and not _REGION.match(str(region)):
            raise ValueError("key 'aws_region_name' must be a region such as 'us-east-1'")
        if bool(entry.get("aws_access_key_id")) != bool(entry.get("aws_secret_access_key")):
            raise ValueError("keys 'aws_access_key_id' and 'aws_secret_access_key' go together")
        if entry.get("aws_session_token") and not entry.get("aws_access_key_id"):
            raise ValueError("key 'aws_session_token' needs 'aws_access_key_id'")
        for key in ("aws_role_name", "role_arn"):
            value = entry.get(key)
            if value is not None and not _ROLE_ARN.match(str(value)):
                raise ValueError(f"key {key!r} must be an IAM role ARN (arn:aws:iam::…:role/…)")
        endpoint = entry.get("aws_endpoint_url")
        if endpoint is not None and not re.match(r"^https?://[^/]", str(endpoint)):
            raise ValueError("key 'aws_endpoint_url' must be an http(s) URL")
        bucket = entry.get("s3_bucket")
        if bucket is not None and not _BUCKET.match(str(bucket)):
            raise ValueError("key 's3_bucket' must be an S3 bucket name (no 's3://', no '/')")
        if not bucket:
            raise ValueError("key 's3_bucket' is required: Bedrock reads training data from S3")
        output = entry.get("output_s3_uri")
        if output is not None and not str(output).startswith("s3://"):
            raise ValueError("key 'output_s3_uri' must be an s3:// URI")
        if entry.get("api") != "files_settings":
            for key in ("role_arn", "output_s3_uri"):
                if not entry.get(key):
                    raise ValueError(
                        f"key {key!r} is required for bedrock in finetune_settings "
                        "(the role Bedrock trains with, and where it writes its output)"
                    )
        vpc = entry.get("vpc_config")
        if vpc is not None and not (
            isinstance(vpc, dict)
            and set(vpc) == {"subnetIds", "securityGroupIds"}
            and all(isinstance(v, list) and v for v in vpc.values())
        ):
            raise ValueError("key 'vpc_config' must hold the lists subnetIds and securityGroupIds")
        kms = entry.get("kms_key_id")
        if kms is not None and not isinstance(kms, str):
            raise ValueError("key 'kms_key_id' must be a KMS key id or ARN")

    # ---- fine-tuning jobs ----------------------------------------------
    def check_job(self, job: JobCreate) -> None:
        """What ``create_job`` refuses, without a call (placeholder files)."""
        placeholder = f"s3://{self.bucket}/ftproxy-check/train.jsonl"
        job_request(
            dataclasses.replace(
                job,
                training_file=placeholder,
                validation_file=placeholder if job.validation_file else None,
            ),
            self.job_options,
            job.gateway_id or "ftjob-check",
        )

    def create_job(self, job: JobCreate) -> RemoteJob:
        """Convert the files to the base model's format, then create the job
        (sent once; ``clientRequestToken`` is the gateway's job id)."""
        name = job.gateway_id or f"ftjob-{uuid.uuid4().hex[:24]}"
        self.check_job(dataclasses.replace(job, gateway_id=name))
        training = self._converted(job.training_file, job.model)
        validation = (
            self._converted(job.validation_file, job.model) if job.validation_file else None
        )
        params = job_request(
            dataclasses.replace(job, training_file=training, validation_file=validation),
            self.job_options,
            name,
        )
        answer = self.aws.call("bedrock", "create_model_customization_job", retried=False, **params)
        sent = {k: v for k, v in params.items() if k not in ("clientRequestToken", "jobTags")}
        created = remote_job(
            {**sent, "jobArn": answer["jobArn"], "status": "InProgress"}, job.metadata
        )
        # Bedrock answers a create with the ARN alone; a new job starts by
        # validating its data (the first of its documented stages).
        return dataclasses.replace(created, status="validating_files")

    def _converted(self, uri: str, model: str) -> str:
        """Write the ``model``-format copy of the file ``uri``; its URI."""
        family = family_of(model)
        bucket, key = parse_s3_uri(uri)
        answer = self.aws.call("s3", "get_object", Bucket=bucket, Key=key)
        target = converted_key(key, family.data_format)
        with tempfile.TemporaryFile() as converted:
            try:  # a read that breaks mid-file is botocore's to report, mapped
                self.aws.guard(
                    lambda: convert_lines(answer["Body"].iter_lines(), converted, family, model)
                )
            finally:
                answer["Body"].close()
            size = converted.tell()
            converted.seek(0)
            self.aws.call(
                "s3",
                "put_object",
                Bucket=bucket,
                Key=target,
                Body=converted,
                ContentLength=size,
                ContentType="application/jsonl",
            )
        return f"s3://{bucket}/{target}"

    def find_job(self, gateway_id: str) -> RemoteJob | None:
        """The job named ``gateway_id`` that carries it as its tag, or None
        when Bedrock lists none."""
        answer = self.aws.call(
            "bedrock", "list_model_customization_jobs", nameContains=gateway_id, maxResults=100
        )
        for summary in answer.get("modelCustomizationJobSummaries") or []:
            if summary.get("jobName") != gateway_id:
                continue
            tags = self.aws.call("bedrock", "list_tags_for_resource", resourceARN=summary["jobArn"])
            if {"key": GATEWAY_ID_KEY, "value": gateway_id} in (tags.get("tags") or []):
                return self.retrieve_job(summary["jobArn"])
        return None

    def _job(self, remote_id: str) -> dict[str, Any]:
        if not str(remote_id).startswith("arn:") or ":model-customization-job/" not in remote_id:
            raise ProviderNotFound(f"Not a Bedrock customization job ARN: {remote_id!r}.")
        return self.aws.call("bedrock", "get_model_customization_job", jobIdentifier=remote_id)

    def retrieve_job(self, remote_id: str) -> RemoteJob:
        """``GetModelCustomizationJob``."""
        return remote_job(self._job(remote_id))

    def cancel_job(self, remote_id: str) -> RemoteJob:
        """``StopModelCustomizationJob``, then the job as it is now
        (``Stopping`` for a while, then ``Stopped``: both read cancelled)."""
        if not str(remote_id).startswith("arn:"):
            raise ProviderNotFound(f"Not a Bedrock customization job ARN: {remote_id!r}.")
        self.aws.call("bedrock", "stop_model_customization_job", jobIdentifier=remote_id)
        return self.retrieve_job(remote_id)

    def list_job_events(self, remote_id: str, after: str | None, limit: int) -> Page | None:
        """Events derived from the job's stages and metrics, newest first."""
        return event_page(job_events(self._job(remote_id)), after, limit)

    def delete_model(self, model: str, job_payload: dict[str, Any]) -> None:
        """``DeleteCustomModel`` with the custom model's ARN (the job's
        ``fine_tuned_model``; AWS takes the model's name or its ARN). A model
        still behind a Provisioned Throughput or a deployment is refused by
        Bedrock, and its answer passed on."""
        self.aws.call("bedrock", "delete_custom_model", modelIdentifier=model)
