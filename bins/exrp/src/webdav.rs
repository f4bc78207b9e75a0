//! The WebDAV transient storage client: `GET` a recording into a local file (streamed: memory
//! flat in the file's size), `DELETE` it after the upload, `OPTIONS` for `/health`. Basic auth
//! when a user is configured. Errors say whether trying again may help.

use crate::config::WebDavSettings;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A WebDAV failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebDavError {
    /// The file is not (yet) there: MCP may still be uploading it.
    #[error("{path} is not in the WebDAV storage (404)")]
    NotFound {
        /// The relative path.
        path: String,
    },
    /// WebDAV refused the credentials.
    #[error(
        "WebDAV refused the credentials ({status}); check recording-uploader.exec.transientStorage username/password"
    )]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// Another HTTP status.
    #[error("WebDAV answered {status} for {path}")]
    Status {
        /// The status.
        status: u16,
        /// The relative path.
        path: String,
    },
    /// The server could not be reached or the transfer broke.
    #[error("WebDAV unreachable: {0}")]
    Transport(String),
    /// The local staging file failed.
    #[error("local staging file: {0}")]
    Local(#[from] std::io::Error),
}

/// The client.
#[derive(Debug, Clone)]
pub struct WebDav {
    http: reqwest::Client,
    settings: WebDavSettings,
}

impl WebDav {
    /// A client for `settings` with a per-request `timeout` (the whole transfer).
    pub fn new(settings: WebDavSettings, timeout: Duration) -> Result<WebDav, WebDavError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| WebDavError::Transport(e.without_url().to_string()))?;
        Ok(WebDav { http, settings })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.settings.url
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/{}", self.settings.url, path);
        let rb = self.http.request(method, url);
        match &self.settings.username {
            Some(u) => rb.basic_auth(u, self.settings.password.as_ref().map(|p| p.expose())),
            None => rb,
        }
    }

    fn status_error(status: u16, path: &str) -> WebDavError {
        match status {
            404 => WebDavError::NotFound {
                path: path.to_string(),
            },
            401 | 403 => WebDavError::Unauthorized { status },
            _ => WebDavError::Status {
                status,
                path: path.to_string(),
            },
        }
    }

    /// Downloads `path` (relative, validated) into `dest`, chunk by chunk; returns its size.
    pub async fn download(&self, path: &str, dest: &Path) -> Result<u64, WebDavError> {
        let mut resp = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| WebDavError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(Self::status_error(status, path));
        }
        let mut file = tokio::fs::File::create(dest).await?;
        let mut size = 0u64;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| WebDavError::Transport(e.without_url().to_string()))?
        {
            size += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok(size)
    }

    /// Deletes `path`; a file already gone counts as deleted.
    pub async fn delete(&self, path: &str) -> Result<(), WebDavError> {
        let resp = self
            .request(reqwest::Method::DELETE, path)
            .send()
            .await
            .map_err(|e| WebDavError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() || status == 404 {
            Ok(())
        } else {
            Err(Self::status_error(status, path))
        }
    }

    /// Checks the collection answers with these credentials (`OPTIONS` on the base URL).
    pub async fn check(&self) -> Result<(), WebDavError> {
        let resp = self
            .request(reqwest::Method::OPTIONS, "")
            .send()
            .await
            .map_err(|e| WebDavError::Transport(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Self::status_error(status, ""))
        }
    }
}
