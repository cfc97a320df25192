//! Group memberships through `/groups/{id}/transitiveMembers/microsoft.graph.user`
//! (nested groups flattened by Graph), ids only.

use std::collections::HashSet;

use futures::stream::{self, StreamExt, TryStreamExt};
use galsync_graph::GraphClient;
use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// The user ids among a group's transitive members; `Ok(None)` when the group does not exist.
pub async fn transitive_user_ids(
    client: &GraphClient,
    tenant_id: &str,
    group_id: &str,
) -> Result<Option<HashSet<String>>> {
    let url =
        format!("/groups/{group_id}/transitiveMembers/microsoft.graph.user?$select=id&$top=999");
    match client.get_all_pages::<IdOnly>(&url).await {
        Ok(members) => Ok(Some(members.into_iter().map(|member| member.id).collect())),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(Error::graph(tenant_id, error)),
    }
}

/// The union of the members of `group_ids`, read in parallel; a group that
/// does not exist fails the read (dropping or keeping everyone would be wrong).
pub async fn union_of_members(
    client: &GraphClient,
    tenant_id: &str,
    group_ids: &[String],
    concurrency: usize,
) -> Result<HashSet<String>> {
    let listings: Vec<(String, Option<HashSet<String>>)> = stream::iter(group_ids.iter().cloned())
        .map(|group_id| async move {
            let members = transitive_user_ids(client, tenant_id, &group_id).await?;
            Ok::<_, Error>((group_id, members))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut union = HashSet::new();
    for (group_id, members) in listings {
        let Some(members) = members else {
            return Err(Error::NotFound(format!(
                "group {group_id} does not exist in tenant {tenant_id}"
            )));
        };
        union.extend(members);
    }
    Ok(union)
}
