"""The archive's object store: a bucket (and key prefix) reached through a pyarrow filesystem.

Natively and in compose this is MinIO (``MINIO_*`` settings, bucket ``MINIO_BUCKET_TELEMETRY``);
any S3 endpoint works, and so does any other pyarrow filesystem (a local directory, for example).
Writers and readers share this one definition of where keys live.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow.fs as pafs

from p424.config import Config, load_config

S3_REGION = "us-east-1"  # MinIO's default region; the endpoint decides where requests go


@dataclass(frozen=True, kw_only=True)
class ArchiveStore:
    """Keys of the archive (``bronze/...``) under ``<bucket>/<prefix>`` of ``fs``."""

    fs: pafs.FileSystem = field(repr=False)
    bucket: str
    prefix: str = ""
    endpoint: str = ""  # host:port of an S3 endpoint ("" for a local filesystem)
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.prefix and not self.prefix.endswith("/"):
            raise ValueError(f"archive prefix {self.prefix!r} must end with '/'")
        if self.prefix.startswith("/") or not self.bucket:
            raise ValueError("the archive needs a bucket, and a prefix relative to it")

    @classmethod
    def from_config(cls, cfg: Config | None = None, prefix: str | None = None) -> ArchiveStore:
        cfg = cfg or load_config()
        fs = pafs.S3FileSystem(
            access_key=cfg.minio_root_user,
            secret_key=cfg.minio_root_password,
            endpoint_override=cfg.minio_endpoint,
            scheme="http",
            region=S3_REGION,
            allow_bucket_creation=False,
            allow_bucket_deletion=False,
        )
        return cls(
            fs=fs,
            bucket=cfg.minio_bucket_telemetry,
            prefix=cfg.archive_prefix if prefix is None else prefix,
            endpoint=cfg.minio_endpoint,
            access_key=cfg.minio_root_user,
            secret_key=cfg.minio_root_password,
        )

    def path(self, key: str) -> str:
        """The filesystem path of an archive key."""
        return f"{self.bucket}/{self.prefix}{key}"

    def url(self, key: str) -> str:
        """The key as DuckDB names it (``s3://bucket/...``, globs allowed); a local path otherwise."""
        return f"s3://{self.path(key)}" if self.endpoint else self.path(key)

    def put(self, key: str, data: bytes) -> None:
        if not self.endpoint:
            self.fs.create_dir(self.path(key).rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(self.path(key)) as out:
            out.write(data)

    def get(self, key: str) -> bytes:
        with self.fs.open_input_stream(self.path(key)) as src:
            return bytes(src.read())

    def exists(self, key: str) -> bool:
        return bool(self.fs.get_file_info(self.path(key)).type == pafs.FileType.File)

    def delete(self, key: str) -> None:
        self.fs.delete_file(self.path(key))

    def list(self, prefix: str, recursive: bool = True) -> list[str]:
        """Keys (files) under ``prefix``, sorted; directories too when not recursive."""
        base = self.path(prefix).rstrip("/")
        infos = self.fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=recursive))
        root = f"{self.bucket}/{self.prefix}"
        keep = (pafs.FileType.File,) if recursive else (pafs.FileType.File, pafs.FileType.Directory)
        return sorted(i.path[len(root) :] for i in infos if i.type in keep and i.path.startswith(root))
