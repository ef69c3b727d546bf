//! Content-addressed blobs: model artifacts and reference data, named by their SHA-256.
//!
//! Uploads are first written to a [`StagedFile`] (hashed while written, size-limited, fsynced), then moved
//! into place by [`ArtifactStore::put`]. A staged file that is never put is deleted when dropped, so a
//! failed request leaves nothing behind.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{Error, Result, io_error};

/// A blob's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A fully written, fsynced upload waiting to be stored. Deleted on drop unless stored.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    blob: BlobRef,
    kept: bool,
}

impl StagedFile {
    /// Where the staged bytes are (readable until the file is stored or dropped).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The blob's hash and size.
    pub fn blob(&self) -> &BlobRef {
        &self.blob
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes one upload to the staging directory, hashing as it goes.
#[derive(Debug)]
pub struct StagingWriter {
    file: Option<tokio::fs::File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
    finished: bool,
}

impl StagingWriter {
    /// Appends bytes. Fails with `TooLarge` once the limit is passed.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(Error::TooLarge { limit: self.limit });
        }
        self.hasher.update(bytes);
        let file = self.file.as_mut().expect("writer used after finish");
        file.write_all(bytes).await.map_err(io_error("writing upload"))
    }

    /// Flushes and fsyncs the file and hands it over as a [`StagedFile`].
    pub async fn finish(mut self) -> Result<StagedFile> {
        let mut file = self.file.take().expect("writer finished twice");
        file.flush().await.map_err(io_error("flushing upload"))?;
        file.sync_all().await.map_err(io_error("syncing upload"))?;
        self.finished = true;
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(StagedFile { path: self.path.clone(), blob: BlobRef { sha256, size: self.size }, kept: false })
    }
}

impl Drop for StagingWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Where blobs live.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Starts a staged upload of at most `limit` bytes.
    async fn stage(&self, limit: u64) -> Result<StagingWriter>;
    /// Stages a local file by copying it (for callers that already have the bytes on disk).
    async fn stage_file(&self, source: &Path, limit: u64) -> Result<StagedFile> {
        let mut reader =
            tokio::fs::File::open(source).await.map_err(io_error(format!("opening {}", source.display())))?;
        let mut writer = self.stage(limit).await?;
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let read = tokio::io::AsyncReadExt::read(&mut reader, &mut buffer)
                .await
                .map_err(io_error(format!("reading {}", source.display())))?;
            if read == 0 {
                break;
            }
            writer.write(&buffer[..read]).await?;
        }
        writer.finish().await
    }
    /// Stores a staged file durably under its hash. Storing a blob that exists already is a no-op.
    async fn put(&self, staged: StagedFile) -> Result<BlobRef>;
    /// Reads a blob whole.
    async fn read(&self, sha256: &str) -> Result<Vec<u8>>;
    /// Whether a blob is stored and its bytes still hash to its name.
    async fn verify(&self, sha256: &str) -> Result<bool> {
        match self.read(sha256).await {
            Ok(bytes) => Ok(hex::encode(Sha256::digest(&bytes)) == sha256),
            Err(Error::NotFound(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }
    /// Removes a blob (no error if absent).
    async fn remove(&self, sha256: &str) -> Result<()>;
    /// Every stored blob's hash.
    async fn list(&self) -> Result<Vec<String>>;
    /// The blobs start-up may remove when no version refers to them: all of them for a store only this
    /// process writes; on a store other replicas share, only those stored over an hour ago (a younger one may
    /// belong to a registration still under way elsewhere).
    async fn orphan_candidates(&self) -> Result<Vec<String>> {
        self.list().await
    }
    /// Deletes leftovers of uploads interrupted by a crash.
    async fn clear_staging(&self) -> Result<()>;
}

/// Blobs on the local filesystem: `<root>/sha256/<first two hex digits>/<hash>`.
#[derive(Debug, Clone)]
pub struct FsArtifactStore {
    blobs: PathBuf,
    staging: PathBuf,
}

pub(crate) fn valid_sha256(sha256: &str) -> Result<()> {
    if sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(Error::NotFound(format!("'{sha256}' is not a SHA-256 digest")))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl FsArtifactStore {
    /// Uses `<data_dir>/artifacts` for blobs and `<data_dir>/tmp` for staging, creating both.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let blobs = data_dir.join("artifacts").join("sha256");
        let staging = data_dir.join("tmp");
        for dir in [&blobs, &staging] {
            std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
        }
        Ok(FsArtifactStore { blobs, staging })
    }

    /// Uses `<data_dir>/tmp` for staging only (blobs live elsewhere).
    pub(crate) fn open_staging_only(data_dir: &Path) -> Result<Self> {
        let staging = data_dir.join("tmp");
        std::fs::create_dir_all(&staging).map_err(io_error(format!("creating {}", staging.display())))?;
        Ok(FsArtifactStore { blobs: data_dir.join("artifacts").join("sha256"), staging })
    }

    fn blob_path(&self, sha256: &str) -> Result<PathBuf> {
        valid_sha256(sha256)?;
        Ok(self.blobs.join(&sha256[..2]).join(sha256))
    }
}

#[async_trait]
impl ArtifactStore for FsArtifactStore {
    async fn stage(&self, limit: u64) -> Result<StagingWriter> {
        let name = format!("upload-{:016x}", rand::rng().next_u64());
        let path = self.staging.join(name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io_error("creating staging file"))?;
        Ok(StagingWriter { file: Some(file), path, hasher: Sha256::new(), size: 0, limit, finished: false })
    }

    async fn put(&self, mut staged: StagedFile) -> Result<BlobRef> {
        let target = self.blob_path(&staged.blob.sha256)?;
        let source = staged.path.clone();
        let blob = staged.blob.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let dir = target.parent().expect("blob path has a parent");
            std::fs::create_dir_all(dir).map_err(io_error("creating blob directory"))?;
            if target.exists() {
                return Ok(()); // same content already stored; the staged copy is dropped
            }
            std::fs::rename(&source, &target).map_err(io_error("moving blob into place"))?;
            sync_dir(dir).map_err(io_error("syncing blob directory"))
        })
        .await
        .expect("blob writer panicked")?;
        staged.kept = !staged.path.exists();
        Ok(blob)
    }

    async fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(sha256)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NotFound(format!("blob {sha256} is not stored")))
            }
            Err(err) => Err(io_error(format!("reading blob {sha256}"))(err)),
        }
    }

    async fn remove(&self, sha256: &str) -> Result<()> {
        match tokio::fs::remove_file(self.blob_path(sha256)?).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io_error("removing blob")(err)),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut found = Vec::new();
            for shard in std::fs::read_dir(&blobs).map_err(io_error("listing blobs"))? {
                let shard = shard.map_err(io_error("listing blobs"))?.path();
                if !shard.is_dir() {
                    continue;
                }
                for entry in std::fs::read_dir(&shard).map_err(io_error("listing blobs"))? {
                    let name = entry.map_err(io_error("listing blobs"))?.file_name();
                    let name = name.to_string_lossy();
                    if valid_sha256(&name).is_ok() {
                        found.push(name.into_owned());
                    }
                }
            }
            found.sort();
            Ok(found)
        })
        .await
        .expect("blob lister panicked")
    }

    async fn clear_staging(&self) -> Result<()> {
        let mut entries = tokio::fs::read_dir(&self.staging).await.map_err(io_error("listing staging"))?;
        while let Some(entry) = entries.next_entry().await.map_err(io_error("listing staging"))? {
            tokio::fs::remove_file(entry.path()).await.map_err(io_error("clearing staging"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn staged(store: &FsArtifactStore, bytes: &[u8]) -> StagedFile {
        let mut writer = store.stage(1024).await.unwrap();
        writer.write(bytes).await.unwrap();
        writer.finish().await.unwrap()
    }

    #[tokio::test]
    async fn put_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsArtifactStore::open(dir.path()).unwrap();
        let first = staged(&store, b"model bytes").await;
        let expected = hex::encode(Sha256::digest(b"model bytes"));
        assert_eq!(first.blob().sha256, expected);
        store.put(first).await.unwrap();
        store.put(staged(&store, b"model bytes").await).await.unwrap();
        assert_eq!(store.list().await.unwrap(), vec![expected.clone()]);
        assert_eq!(store.read(&expected).await.unwrap(), b"model bytes");
        assert!(store.verify(&expected).await.unwrap());
        // Nothing is left in staging once stored.
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn dropped_and_oversized_uploads_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsArtifactStore::open(dir.path()).unwrap();
        drop(staged(&store, b"abandoned").await);
        let mut writer = store.stage(4).await.unwrap();
        assert!(matches!(writer.write(b"too long").await, Err(Error::TooLarge { limit: 4 })));
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn tampered_blob_fails_verification_and_bad_names_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsArtifactStore::open(dir.path()).unwrap();
        let blob = store.put(staged(&store, b"abc").await).await.unwrap();
        let path = store.blob_path(&blob.sha256).unwrap();
        std::fs::write(&path, b"abd").unwrap();
        assert!(!store.verify(&blob.sha256).await.unwrap());
        assert!(matches!(store.read("../../etc/passwd").await, Err(Error::NotFound(_))));
    }
}
