//! [`ArtifactStore`] on S3-compatible object storage (AWS S3, MinIO, Ceph, s3s), through `object_store`.
//!
//! Uploads are staged and hashed on local disk as with the filesystem store, then written to
//! `<prefix>/sha256/<ab>/<hash>` (a single PUT, or a multipart upload above 32 MiB). Objects are immutable and
//! named by their content, so replicas sharing a bucket never overwrite each other's bytes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::artifacts::{ArtifactStore, BlobRef, FsArtifactStore, StagedFile, StagingWriter, valid_sha256};
use crate::{Error, Result, io_error};

/// Files up to this size are written with one PUT; larger ones in parts of this size.
const PART: usize = 32 << 20;

/// Blobs in an S3 bucket; staging on local disk.
#[derive(Debug)]
pub struct S3ArtifactStore {
    store: Arc<dyn ObjectStore>,
    /// `<prefix>/sha256`.
    root: ObjectPath,
    local: FsArtifactStore,
    url: String,
}

fn s3_error(context: &str) -> impl FnOnce(object_store::Error) -> Error + '_ {
    move |err| Error::Io { context: context.to_owned(), source: std::io::Error::other(err.to_string()) }
}

impl S3ArtifactStore {
    /// Opens `s3://bucket/prefix` with credentials, region and endpoint from the standard `AWS_*`
    /// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
    /// `AWS_ALLOW_HTTP` for a plain-HTTP endpoint); stages uploads under `<data_dir>/tmp`. Checks that the
    /// bucket answers.
    pub async fn open(url: &str, data_dir: &Path) -> Result<Self> {
        let invalid = |message: String| Error::Io { context: message, source: std::io::Error::other("invalid") };
        let rest = url.strip_prefix("s3://").ok_or_else(|| invalid(format!("'{url}' is not an s3:// URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid(format!("'{url}' names no bucket")));
        }
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| invalid(format!("S3 artifact store {url}: {e}")))?;
        let prefix = prefix.trim_matches('/');
        let root =
            if prefix.is_empty() { ObjectPath::from("sha256") } else { ObjectPath::from(format!("{prefix}/sha256")) };
        let store = S3ArtifactStore {
            store: Arc::new(store),
            root,
            local: FsArtifactStore::open_staging_only(data_dir)?,
            url: url.to_owned(),
        };
        // Fail at start-up, not at the first registration, when the bucket is unreachable.
        store.store.list_with_delimiter(Some(&store.root)).await.map_err(s3_error(&format!("cannot list {url}")))?;
        Ok(store)
    }

    fn key(&self, sha256: &str) -> Result<ObjectPath> {
        valid_sha256(sha256)?;
        Ok(self.root.clone().join(&sha256[..2]).join(sha256))
    }

    /// Every blob with how long ago it was written.
    async fn list_with_ages(&self) -> Result<Vec<(String, Duration)>> {
        let objects: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&self.root)).try_collect().await.map_err(s3_error("listing blobs"))?;
        let now = std::time::SystemTime::now();
        let mut found: Vec<(String, Duration)> = objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.to_owned();
                valid_sha256(&name).ok()?;
                let modified =
                    std::time::UNIX_EPOCH + Duration::from_millis(meta.last_modified.timestamp_millis().max(0) as u64);
                Some((name, now.duration_since(modified).unwrap_or_default()))
            })
            .collect();
        found.sort();
        Ok(found)
    }
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn stage(&self, limit: u64) -> Result<StagingWriter> {
        self.local.stage(limit).await
    }

    async fn put(&self, staged: StagedFile) -> Result<BlobRef> {
        let blob = staged.blob().clone();
        let key = self.key(&blob.sha256)?;
        if self.store.head(&key).await.is_ok() {
            return Ok(blob); // same content already stored; the staged copy is dropped
        }
        let mut file = tokio::fs::File::open(staged.path()).await.map_err(io_error("opening staged upload"))?;
        if blob.size as usize <= PART {
            let mut bytes = Vec::with_capacity(blob.size as usize);
            file.read_to_end(&mut bytes).await.map_err(io_error("reading staged upload"))?;
            self.store.put(&key, PutPayload::from(bytes)).await.map_err(s3_error("storing blob"))?;
        } else {
            let upload = self.store.put_multipart(&key).await.map_err(s3_error("starting blob upload"))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                let read = file.read(&mut buffer).await.map_err(io_error("reading staged upload"))?;
                if read == 0 {
                    break;
                }
                writer.wait_for_capacity(4).await.map_err(s3_error("uploading blob"))?;
                writer.write(&buffer[..read]);
            }
            writer.finish().await.map_err(s3_error("finishing blob upload"))?;
        }
        Ok(blob)
    }

    async fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let key = self.key(sha256)?;
        match self.store.get(&key).await {
            Ok(got) => Ok(got.bytes().await.map_err(s3_error("reading blob"))?.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound(format!("blob {sha256} is not stored"))),
            Err(err) => Err(s3_error(&format!("reading blob {sha256}"))(err)),
        }
    }

    async fn remove(&self, sha256: &str) -> Result<()> {
        match self.store.delete(&self.key(sha256)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(s3_error("removing blob")(err)),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        Ok(self.list_with_ages().await?.into_iter().map(|(name, _)| name).collect())
    }

    async fn orphan_candidates(&self) -> Result<Vec<String>> {
        let settled = Duration::from_secs(3600);
        Ok(self.list_with_ages().await?.into_iter().filter(|(_, age)| *age >= settled).map(|(n, _)| n).collect())
    }

    async fn clear_staging(&self) -> Result<()> {
        self.local.clear_staging().await
    }
}

impl std::fmt::Display for S3ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}
