//! Where a dataset lives: a local folder or `s3://bucket/prefix` on an S3-compatible object
//! store (object_store, the version DataFusion uses). The rest of the code asks a `Location` to
//! list, read, write and delete; only this module and the Parquet writer know the difference.
//!
//! S3 settings come from the standard variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, …) and from `--storage-option key=value`
//! (object_store's S3 keys: `endpoint`, `allow_http`, `access_key_id`, …). All object-store I/O
//! runs on one process-wide runtime, so it may be awaited from any runtime or blocked on from
//! plain threads.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::SpawnedReqwestConnector;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use super::writer::StoreError;

/// The runtime object-store requests run on.
static IO: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("iotdest-io")
        .enable_all()
        .build()
        .expect("cannot start the I/O runtime")
});

/// Runs `f` to completion from synchronous code (also from inside a multi-threaded runtime).
pub fn block<F: Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| IO.block_on(f))
        }
        _ => IO.block_on(f),
    }
}

/// An object store and a prefix in it.
#[derive(Debug)]
pub struct Remote {
    /// `s3://bucket`.
    pub base: Url,
    pub store: Arc<dyn ObjectStore>,
}

/// A local folder, or a prefix on an object store.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Remote {
        remote: Arc<Remote>,
        /// Key prefix without leading or trailing `/` (empty: the bucket's root).
        prefix: String,
    },
}

/// One file or object directly under a location.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    /// Modification time, microseconds since the epoch (0 when unknown).
    pub mtime_us: i64,
    /// The object's entity tag, when the store gives one.
    pub etag: Option<String>,
}

fn describe(e: &object_store::Error) -> &'static str {
    match e {
        object_store::Error::NotFound { .. } => "not found (check the bucket and the prefix)",
        object_store::Error::PermissionDenied { .. } => {
            "permission denied (the credentials are valid but may not do this)"
        }
        object_store::Error::Unauthenticated { .. } => {
            "credentials refused (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        }
        _ => {
            let text = e.to_string();
            if text.contains("InvalidAccessKeyId") || text.contains("SignatureDoesNotMatch") {
                "credentials refused (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            } else if text.contains("NoSuchBucket") {
                "no such bucket"
            } else if text.contains("AccessDenied") || text.contains("403") {
                "permission denied"
            } else if text.contains("error sending request")
                || text.contains("connect")
                || text.contains("dns error")
            {
                "endpoint unreachable (check AWS_ENDPOINT_URL and AWS_ALLOW_HTTP)"
            } else {
                "object store error"
            }
        }
    }
}

impl Location {
    /// A local path, or `s3://bucket[/prefix]` with `options` (`key=value` pairs of
    /// object_store's S3 configuration) over the environment's `AWS_*` settings.
    pub fn parse(spec: &str, options: &[(String, String)]) -> Result<Location, StoreError> {
        let Some(rest) = spec.strip_prefix("s3://") else {
            if spec.contains("://") {
                return Err(StoreError::Object {
                    location: spec.to_string(),
                    message: "only local paths and s3:// locations are supported".into(),
                });
            }
            return Ok(Location::Local(PathBuf::from(spec)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::Object {
                location: spec.to_string(),
                message: "no bucket in the URL (s3://bucket/prefix)".into(),
            });
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (k, v) in options {
            let key: AmazonS3ConfigKey = k.parse().map_err(|_| StoreError::Object {
                location: spec.to_string(),
                message: format!("unknown --storage-option {k:?} (use object_store's S3 keys: endpoint, allow_http, access_key_id, secret_access_key, region, …)"),
            })?;
            builder = builder.with_config(key, v);
        }
        let store = builder
            .with_http_connector(SpawnedReqwestConnector::new(IO.handle().clone()))
            .build()
            .map_err(|e| StoreError::Object {
                location: spec.to_string(),
                message: format!("cannot configure the S3 client: {e}"),
            })?;
        let base = Url::parse(&format!("s3://{bucket}")).map_err(|e| StoreError::Object {
            location: spec.to_string(),
            message: e.to_string(),
        })?;
        Ok(Location::Remote {
            remote: Arc::new(Remote {
                base,
                store: Arc::new(store),
            }),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The location `rel` (`/`-separated) below this one.
    pub fn join(&self, rel: impl AsRef<str>) -> Location {
        let rel = rel.as_ref().trim_matches('/');
        match self {
            Location::Local(p) => Location::Local(p.join(rel)),
            Location::Remote { remote, prefix } => Location::Remote {
                remote: remote.clone(),
                prefix: if prefix.is_empty() {
                    rel.to_string()
                } else if rel.is_empty() {
                    prefix.clone()
                } else {
                    format!("{prefix}/{rel}")
                },
            },
        }
    }

    /// The local path, if this is one.
    pub fn local(&self) -> Option<&Path> {
        match self {
            Location::Local(p) => Some(p),
            Location::Remote { .. } => None,
        }
    }

    /// A URL DataFusion can list (`/path/` or `s3://bucket/prefix/`).
    pub fn url(&self) -> String {
        match self {
            Location::Local(p) => format!(
                "{}/",
                p.canonicalize().unwrap_or_else(|_| p.clone()).display()
            ),
            Location::Remote { remote, prefix } => {
                format!("{}/{prefix}/", remote.base.as_str().trim_end_matches('/'))
            }
        }
    }

    /// The object store and its base URL (`file:///` for local paths), for DataFusion.
    pub fn store(&self) -> Option<(Url, Arc<dyn ObjectStore>)> {
        match self {
            Location::Local(_) => None,
            Location::Remote { remote, .. } => Some((remote.base.clone(), remote.store.clone())),
        }
    }

    /// The key (or absolute path) of this location in its store, for a file scan.
    pub fn store_path(&self) -> Result<StorePath, StoreError> {
        match self {
            Location::Local(p) => {
                let abs = std::path::absolute(p).map_err(|source| StoreError::Io {
                    path: p.clone(),
                    source,
                })?;
                StorePath::from_absolute_path(&abs).map_err(|e| StoreError::Object {
                    location: p.display().to_string(),
                    message: e.to_string(),
                })
            }
            Location::Remote { prefix, .. } => Ok(StorePath::from(prefix.as_str())),
        }
    }

    fn error(&self, e: object_store::Error) -> StoreError {
        StoreError::Object {
            location: self.to_string(),
            message: format!("{}: {e}", describe(&e)),
        }
    }

    fn key(prefix: &str) -> StorePath {
        StorePath::from(prefix)
    }

    /// Sub-folders (common prefixes) directly below, by name, sorted. Hidden ones (`.`) left out.
    pub fn dirs(&self) -> Result<Vec<(String, Location)>, StoreError> {
        let mut out: Vec<(String, Location)> = match self {
            Location::Local(p) => match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter_map(|e| {
                        let name = e.file_name().to_str()?.to_string();
                        Some((name.clone(), self.join(&name)))
                    })
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(source) => {
                    return Err(StoreError::Io {
                        path: p.clone(),
                        source,
                    })
                }
            },
            Location::Remote { remote, prefix } => {
                let key = Self::key(prefix);
                let listed = block(remote.store.list_with_delimiter(Some(&key)))
                    .map_err(|e| self.error(e))?;
                listed
                    .common_prefixes
                    .iter()
                    .filter_map(|p| {
                        let name = p.filename()?.to_string();
                        Some((name.clone(), self.join(&name)))
                    })
                    .collect()
            }
        };
        out.retain(|(n, _)| !n.starts_with('.'));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Files (objects) directly below, sorted by name. Hidden ones (`.`) left out.
    pub fn files(&self) -> Result<Vec<Entry>, StoreError> {
        let mut out: Vec<Entry> = match self {
            Location::Local(p) => match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_str()?.to_string();
                        let meta = e.metadata().ok().filter(|m| m.is_file())?;
                        let mtime_us = meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                            .map_or(0, |d| d.as_micros() as i64);
                        Some(Entry {
                            name,
                            size: meta.len(),
                            mtime_us,
                            etag: None,
                        })
                    })
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(source) => {
                    return Err(StoreError::Io {
                        path: p.clone(),
                        source,
                    })
                }
            },
            Location::Remote { remote, prefix } => {
                let key = Self::key(prefix);
                let listed = block(remote.store.list_with_delimiter(Some(&key)))
                    .map_err(|e| self.error(e))?;
                listed
                    .objects
                    .into_iter()
                    .filter_map(|o| {
                        Some(Entry {
                            name: o.location.filename()?.to_string(),
                            size: o.size,
                            mtime_us: o.last_modified.timestamp_micros(),
                            etag: o.e_tag,
                        })
                    })
                    .collect()
            }
        };
        out.retain(|e| !e.name.starts_with('.'));
        out.sort();
        Ok(out)
    }

    /// Whether anything is stored at or below this location.
    pub fn exists(&self) -> Result<bool, StoreError> {
        match self {
            Location::Local(p) => Ok(p.exists()),
            Location::Remote { remote, prefix } => {
                // An object of that name, or a prefix with objects below it.
                match block(remote.store.head(&Self::key(prefix))) {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => {
                        Ok(!self.files()?.is_empty() || !self.dirs()?.is_empty())
                    }
                    Err(e) => Err(self.error(e)),
                }
            }
        }
    }

    /// The whole file or object; None when it does not exist.
    pub fn read(&self) -> Result<Option<Bytes>, StoreError> {
        match self {
            Location::Local(p) => match std::fs::read(p) {
                Ok(b) => Ok(Some(Bytes::from(b))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(StoreError::Io {
                    path: p.clone(),
                    source,
                }),
            },
            Location::Remote { remote, prefix } => {
                let key = Self::key(prefix);
                let store = remote.store.clone();
                match block(async move { store.get(&key).await?.bytes().await }) {
                    Ok(b) => Ok(Some(b)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.error(e)),
                }
            }
        }
    }

    /// Writes a whole file or object so that a reader sees the old one or the new one (a local
    /// temporary file renamed into place; one PUT on an object store).
    pub fn write(&self, bytes: Bytes) -> Result<(), StoreError> {
        match self {
            Location::Local(p) => {
                let io = |path: &Path| {
                    let path = path.to_path_buf();
                    move |source| StoreError::Io { path, source }
                };
                if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                let name = p
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                let tmp = p.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
                std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
                std::fs::rename(&tmp, p).map_err(io(p))
            }
            Location::Remote { remote, prefix } => {
                let key = Self::key(prefix);
                block(remote.store.put(&key, PutPayload::from_bytes(bytes)))
                    .map(|_| ())
                    .map_err(|e| self.error(e))
            }
        }
    }

    /// Copies this object to `to` on the same object store (server side).
    pub fn copy_to(&self, to: &Location) -> Result<(), StoreError> {
        match (self, to) {
            (Location::Remote { remote, prefix }, Location::Remote { prefix: dest, .. }) => {
                block(remote.store.copy(&Self::key(prefix), &Self::key(dest)))
                    .map_err(|e| self.error(e))
            }
            (Location::Local(a), Location::Local(b)) => {
                std::fs::copy(a, b)
                    .map(|_| ())
                    .map_err(|source| StoreError::Io {
                        path: b.clone(),
                        source,
                    })
            }
            _ => Err(StoreError::Object {
                location: to.to_string(),
                message: format!("cannot copy {self} there"),
            }),
        }
    }

    /// Deletes this file or object (nothing when it does not exist).
    pub fn delete(&self) -> Result<(), StoreError> {
        match self {
            Location::Local(p) => match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io {
                    path: p.clone(),
                    source: e,
                }),
                _ => Ok(()),
            },
            Location::Remote { remote, prefix } => {
                match block(remote.store.delete(&Self::key(prefix))) {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(self.error(e)),
                }
            }
        }
    }

    /// Deletes everything at and below this location.
    pub fn delete_tree(&self) -> Result<(), StoreError> {
        match self {
            Location::Local(p) => match std::fs::remove_dir_all(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io {
                    path: p.clone(),
                    source: e,
                }),
                _ => Ok(()),
            },
            Location::Remote { remote, prefix } => {
                let key = Self::key(prefix);
                let store = remote.store.clone();
                block(async move {
                    let objects: Vec<_> = store.list(Some(&key)).try_collect().await?;
                    for o in objects {
                        match store.delete(&o.location).await {
                            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(())
                })
                .map_err(|e| self.error(e))
            }
        }
    }

    /// The footer (metadata) of the Parquet file or object here, of `size` bytes.
    pub fn parquet_metadata(
        &self,
        size: u64,
    ) -> Result<parquet::file::metadata::ParquetMetaData, StoreError> {
        use parquet::file::metadata::ParquetMetaDataReader;
        let bad = |e: parquet::errors::ParquetError| StoreError::Parquet {
            path: PathBuf::from(self.to_string()),
            source: e,
        };
        match self {
            Location::Local(p) => {
                let file = std::fs::File::open(p).map_err(|source| StoreError::Io {
                    path: p.clone(),
                    source,
                })?;
                ParquetMetaDataReader::new()
                    .parse_and_finish(&file)
                    .map_err(bad)
            }
            Location::Remote { remote, prefix } => {
                // (Deprecated in parquet 59.2 in favour of readers of one's own; it still reads
                // a footer in one suffix request, and our store already runs its I/O on the
                // I/O runtime.)
                #[allow(deprecated)]
                let mut reader = parquet::arrow::async_reader::ParquetObjectReader::new(
                    remote.store.clone(),
                    Self::key(prefix),
                )
                .with_file_size(size);
                block(async move {
                    ParquetMetaDataReader::new()
                        .load_via_suffix_and_finish(&mut reader)
                        .await
                })
                .map_err(bad)
            }
        }
    }

    /// Checks that the location can be listed (and so that the bucket, endpoint and credentials
    /// work): one clear error before a long run starts.
    pub fn check(&self) -> Result<(), StoreError> {
        match self {
            Location::Local(_) => Ok(()),
            Location::Remote { .. } => self.files().map(|_| ()),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Remote { remote, prefix } => {
                write!(f, "{}/{prefix}", remote.base.as_str().trim_end_matches('/'))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_and_s3_and_joins() {
        let l = Location::parse("some/dir", &[]).unwrap();
        assert_eq!(l.join("a/b").local(), Some(Path::new("some/dir/a/b")));
        let r = Location::parse("s3://bucket/pre/fix/", &[]).unwrap();
        assert_eq!(r.to_string(), "s3://bucket/pre/fix");
        assert_eq!(
            r.join("dns").join("device=x").to_string(),
            "s3://bucket/pre/fix/dns/device=x"
        );
        assert_eq!(r.join("t").url(), "s3://bucket/pre/fix/t/");
        assert!(r.local().is_none());
        let root = Location::parse("s3://bucket", &[]).unwrap();
        assert_eq!(root.join("t").to_string(), "s3://bucket/t");
        assert!(Location::parse("s3:///x", &[]).is_err());
        assert!(Location::parse("gs://b/x", &[]).is_err());
        let bad = Location::parse("s3://b/x", &[("no_such_key".into(), "1".into())]);
        assert!(bad.unwrap_err().to_string().contains("no_such_key"));
    }
}
