//! Collections: follow `@odata.nextLink` verbatim; delta rounds end at the
//! `@odata.deltaLink`.

use futures::stream::{self, Stream};
use serde::de::DeserializeOwned;

use super::GraphClient;
use crate::error::GraphError;
use crate::models::Page;

/// The result of one complete delta round.
#[derive(Debug, Clone, PartialEq)]
pub struct DeltaResult<T> {
    /// Changed items, including `@removed` ones.
    pub items: Vec<T>,
    /// Where the next round starts; store it.
    pub delta_link: String,
    /// Pages read (requests made, retries aside).
    pub pages: u32,
}

impl GraphClient {
    /// The pages of a collection, lazily, starting at `first_url` (a path or
    /// a same-host URL). Ends after the first error.
    pub fn pages<T>(
        &self,
        first_url: &str,
    ) -> impl Stream<Item = Result<Page<T>, GraphError>> + Send + '_
    where
        T: DeserializeOwned + Send + 'static,
    {
        let start = Some(first_url.to_owned());
        stream::try_unfold(start, move |next_url| async move {
            let Some(url) = next_url else {
                return Ok(None);
            };
            let page: Page<T> = self.get_json(&url).await?;
            let following = page.next_link.clone();
            if following.as_deref() == Some(url.as_str()) {
                return Err(GraphError::InvalidUrl {
                    url,
                    reason: "the next link repeats the current page".to_owned(),
                });
            }
            Ok(Some((page, following)))
        })
    }

    /// Every item of a collection, following nextLinks to the end.
    pub async fn get_all_pages<T>(&self, first_url: &str) -> Result<Vec<T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut items = Vec::new();
        let mut next_url = Some(first_url.to_owned());
        while let Some(url) = next_url {
            let page: Page<T> = self.get_json(&url).await?;
            items.extend(page.value);
            next_url = next_link_after(&url, page.next_link)?;
        }
        Ok(items)
    }

    /// One delta round: from `url` (a `/…/delta` path or a stored delta
    /// link) through every nextLink to the deltaLink.
    pub async fn delta<T>(&self, url: &str) -> Result<DeltaResult<T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut current_url = url.to_owned();
        loop {
            let page: Page<T> = self.get_json(&current_url).await?;
            pages += 1;
            items.extend(page.value);
            if let Some(delta_link) = page.delta_link {
                return Ok(DeltaResult {
                    items,
                    delta_link,
                    pages,
                });
            }
            match next_link_after(&current_url, page.next_link)? {
                Some(next_url) => current_url = next_url,
                None => return Err(GraphError::MissingDeltaLink),
            }
        }
    }
}

fn next_link_after(
    current_url: &str,
    next_link: Option<String>,
) -> Result<Option<String>, GraphError> {
    if next_link.as_deref() == Some(current_url) {
        return Err(GraphError::InvalidUrl {
            url: current_url.to_owned(),
            reason: "the next link repeats the current page".to_owned(),
        });
    }
    Ok(next_link)
}
