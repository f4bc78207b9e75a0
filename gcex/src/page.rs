//! Pagination: `pageNumber`/`pageSize` listings and cursor (`nextPage`/`nextUri`) listings,
//! as streams of entities.

use crate::client::{GcClient, Req, Retry};
use crate::error::GcError;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A page of a listing (`…EntityListing` in the Platform API models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityListing<T> {
    /// The entities of this page.
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// 1-based page number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u32>,
    /// Total entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Total pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
    /// URI of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_uri: Option<String>,
    /// Cursor of the next page (cursor listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
    /// URI of this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl<T> Default for EntityListing<T> {
    fn default() -> Self {
        Self {
            entities: Vec::new(),
            page_size: None,
            page_number: None,
            total: None,
            page_count: None,
            next_uri: None,
            next_page: None,
            self_uri: None,
        }
    }
}

/// A stream of entities from a paged listing; errors end it.
pub type GcStream<T> = BoxStream<'static, Result<T, GcError>>;

/// Collects a listing stream into a vector.
pub async fn collect_all<T>(s: GcStream<T>) -> Result<Vec<T>, GcError> {
    s.try_collect().await
}

/// Default page size for listings (GC allows up to 100 on most listings; 500 on a few).
pub const PAGE_SIZE: u32 = 100;

impl GcClient {
    /// Streams every entity of a `pageNumber`/`pageSize` listing at `path` with extra `query`.
    pub(crate) fn paged<T: DeserializeOwned + Send + 'static>(
        &self,
        path: String,
        query: Vec<(String, String)>,
    ) -> GcStream<T> {
        let client = self.clone();
        stream::try_unfold(Some(1u32), move |page| {
            let client = client.clone();
            let path = path.clone();
            let query = query.clone();
            async move {
                let Some(page) = page else { return Ok(None) };
                let mut req = Req::new(Method::GET, path, Retry::Safe)
                    .query("pageSize", PAGE_SIZE)
                    .query("pageNumber", page);
                req.query.extend(query);
                let listing: EntityListing<T> = client.call(req).await?;
                let n = listing.entities.len();
                // Without `pageCount` (GC's queue-member listing has none), a full page or a
                // `nextUri` means there may be more; an empty page ends it (as the terraform
                // provider pages that listing).
                let more = match listing.page_count {
                    Some(pc) => page < pc && n > 0,
                    None => n > 0 && (listing.next_uri.is_some() || n >= PAGE_SIZE as usize),
                };
                Ok(Some((listing.entities, more.then_some(page + 1))))
            }
        })
        .map_ok(|v| stream::iter(v.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// Streams every entity of a cursor listing (`nextPage` / `nextUri`).
    pub(crate) fn cursor<T: DeserializeOwned + Send + 'static>(
        &self,
        path: String,
        query: Vec<(String, String)>,
    ) -> GcStream<T> {
        let client = self.clone();
        enum Next {
            First,
            Uri(String),
            Cursor(String),
        }
        stream::try_unfold(Some(Next::First), move |next| {
            let client = client.clone();
            let path = path.clone();
            let query = query.clone();
            async move {
                let req = match next {
                    None => return Ok(None),
                    Some(Next::First) => {
                        let mut r =
                            Req::new(Method::GET, path, Retry::Safe).query("pageSize", PAGE_SIZE);
                        r.query.extend(query);
                        r
                    }
                    Some(Next::Uri(u)) => Req::new(Method::GET, u, Retry::Safe),
                    Some(Next::Cursor(c)) => {
                        let mut r = Req::new(Method::GET, path, Retry::Safe)
                            .query("pageSize", PAGE_SIZE)
                            .query("nextPage", c);
                        r.query.extend(query);
                        r
                    }
                };
                let listing: EntityListing<T> = client.call(req).await?;
                let next = if listing.entities.is_empty() {
                    None
                } else if let Some(u) = listing.next_uri.filter(|u| !u.is_empty()) {
                    Some(Next::Uri(u))
                } else {
                    listing
                        .next_page
                        .filter(|c| !c.is_empty())
                        .map(Next::Cursor)
                };
                Ok(Some((listing.entities, next)))
            }
        })
        .map_ok(|v| stream::iter(v.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }
}
