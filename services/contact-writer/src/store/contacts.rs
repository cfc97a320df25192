//! Per (profile, mailbox, source user): the contact id and the hashes of
//! what was written, applied a batch at a time.

use std::collections::HashMap;

use galsync_platform::with_pool;

use super::WriterStore;

/// One contact galsync wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub source_id: String,
    pub contact_id: String,
    pub content_hash: String,
    pub photo_hash: String,
}

/// Rows per delete statement: one parameter each stays far below SQLite's 999.
const ROWS_PER_STATEMENT: usize = 100;

/// Rows per upsert statement. sqlx-sqlite looks up every parameter's name
/// when it binds it (`sqlite3_bind_parameter_name`, a scan of the
/// statement's parameters), so binding grows with the square of a
/// statement's parameters: at 100 rows of 6 it was a tenth of the writer's
/// CPU in the benchmark's S2 (`perf record -e cpu-clock`). 32 rows of 4,
/// with the profile and mailbox bound once, cost about a seventh of that a
/// row.
const UPSERT_ROWS_PER_STATEMENT: usize = 32;

/// `count` numbered placeholders from `$first`: single ones (`$3, $4`) when
/// `width` is 1, else tuples of `width` (`($1, $2), ($3, $4)`). With
/// `shared` > 0 every tuple starts with the same `$1`..`$shared` (bound once
/// for the whole statement), and `first` follows them.
fn placeholders(first: usize, count: usize, width: usize, shared: usize) -> String {
    let mut text = String::with_capacity(count * (width + shared) * 5);
    let tuple = width + shared > 1;
    for row in 0..count {
        if row > 0 {
            text.push_str(", ");
        }
        if tuple {
            text.push('(');
        }
        let numbers = (1..=shared).chain((0..width).map(|column| first + row * width + column));
        for (index, number) in numbers.enumerate() {
            if index > 0 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&number.to_string());
        }
        if tuple {
            text.push(')');
        }
    }
    text
}

impl WriterStore {
    pub async fn contacts(
        &self,
        profile_id: &str,
        mailbox_id: &str,
    ) -> Result<HashMap<String, ContactRecord>, sqlx::Error> {
        let rows: Vec<(String, String, String, String)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT source_id, contact_id, content_hash, photo_hash FROM writer_contacts \
                 WHERE profile_id = $1 AND mailbox_id = $2",
            )
            .bind(profile_id)
            .bind(mailbox_id)
            .fetch_all(pool)
            .await?
        });
        let mut records = HashMap::with_capacity(rows.len());
        for (source_id, contact_id, content_hash, photo_hash) in rows {
            records.insert(
                source_id.clone(),
                ContactRecord {
                    source_id,
                    contact_id,
                    content_hash,
                    photo_hash,
                },
            );
        }
        Ok(records)
    }

    /// Inserts or replaces rows and removes others, in one transaction: one
    /// statement per hundred rows, not one per row (a batch's twenty
    /// outcomes are one round trip to the database). Removals come first: a
    /// replaced contact's old row goes and its new one stays.
    pub async fn apply(
        &self,
        profile_id: &str,
        mailbox_id: &str,
        upserts: &[ContactRecord],
        removed_source_ids: &[String],
    ) -> Result<(), sqlx::Error> {
        if upserts.is_empty() && removed_source_ids.is_empty() {
            return Ok(());
        }
        // One row per source id (the last wins): PostgreSQL refuses to
        // update a row twice in one statement.
        let mut seen = std::collections::HashSet::with_capacity(upserts.len());
        let mut rows: Vec<&ContactRecord> = upserts
            .iter()
            .rev()
            .filter(|record| seen.insert(record.source_id.as_str()))
            .collect();
        rows.reverse();
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            for chunk in removed_source_ids.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "DELETE FROM writer_contacts \
                     WHERE profile_id = $1 AND mailbox_id = $2 AND source_id IN ({})",
                    placeholders(3, chunk.len(), 1, 0)
                );
                let mut query = sqlx::query(&sql).bind(profile_id).bind(mailbox_id);
                for source_id in chunk {
                    query = query.bind(source_id);
                }
                query.execute(&mut *transaction).await?;
            }
            for chunk in rows.chunks(UPSERT_ROWS_PER_STATEMENT) {
                let sql = format!(
                    "INSERT INTO writer_contacts \
                       (profile_id, mailbox_id, source_id, contact_id, content_hash, photo_hash) \
                     VALUES {} \
                     ON CONFLICT (profile_id, mailbox_id, source_id) DO UPDATE SET \
                       contact_id = excluded.contact_id, content_hash = excluded.content_hash, \
                       photo_hash = excluded.photo_hash",
                    placeholders(3, chunk.len(), 4, 2)
                );
                let mut query = sqlx::query(&sql).bind(profile_id).bind(mailbox_id);
                for record in chunk {
                    query = query
                        .bind(&record.source_id)
                        .bind(&record.contact_id)
                        .bind(&record.content_hash)
                        .bind(&record.photo_hash);
                }
                query.execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Replaces every row of the mailbox (after a rebuild from the mailbox).
    pub async fn replace_all(
        &self,
        profile_id: &str,
        mailbox_id: &str,
        records: &[ContactRecord],
    ) -> Result<(), sqlx::Error> {
        self.forget_contacts(profile_id, mailbox_id).await?;
        self.apply(profile_id, mailbox_id, records, &[]).await
    }

    pub async fn forget_contacts(
        &self,
        profile_id: &str,
        mailbox_id: &str,
    ) -> Result<(), sqlx::Error> {
        with_pool!(&self.pool, pool => {
            sqlx::query("DELETE FROM writer_contacts WHERE profile_id = $1 AND mailbox_id = $2")
                .bind(profile_id)
                .bind(mailbox_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_parameter_once() {
        assert_eq!(super::placeholders(3, 2, 1, 0), "$3, $4");
        assert_eq!(
            super::placeholders(1, 2, 3, 0),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(
            super::placeholders(3, 2, 2, 2),
            "($1, $2, $3, $4), ($1, $2, $5, $6)"
        );
    }
}
