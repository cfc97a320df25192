//! Checking every target mailbox against the directory, and for a failing
//! check, what the services logged about the mailboxes that differ.

use galsync::demo::verify::Verification;

use super::{Cluster, Tenant};

impl Cluster {
    /// [`Emulator::verify`](crate::Emulator::verify) of `mailboxes`.
    pub async fn verify<'a>(
        &self,
        tenant: &Tenant,
        mailboxes: impl IntoIterator<Item = &'a String>,
    ) -> Verification {
        self.emulator.verify(tenant, mailboxes).await
    }

    /// [`Cluster::verify`] over every target; panics with the problems and
    /// what the services logged about the mailboxes that differ.
    pub async fn assert_mailboxes_match(&self, tenant: &Tenant) {
        self.emulator
            .assert_mailboxes_match(tenant, |problems| self.mailbox_history(problems))
            .await;
    }

    /// What every service logged about the mailboxes named in `problems`
    /// (`mailbox ID: …`), for a failing test.
    fn mailbox_history(&self, problems: &[String]) -> String {
        let mailboxes: std::collections::BTreeSet<&str> = problems
            .iter()
            .filter_map(|problem| problem.strip_prefix("mailbox ")?.split(':').next())
            .collect();
        let mut history = String::new();
        for mailbox in mailboxes {
            // The scheduler names the work item, not the mailbox: the items
            // the writers name beside the mailbox are followed too.
            let mut needles = std::collections::BTreeSet::from([mailbox.to_owned()]);
            for service in self.services() {
                for line in service.process.log_lines_with(mailbox, 200).lines() {
                    if let Some(item) = line.split("work_item").nth(1).and_then(first_uuid) {
                        needles.insert(item.to_owned());
                    }
                }
            }
            let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
            for service in self.services() {
                let lines = service.process.log_lines_with_any(&needles, 60);
                if !lines.is_empty() {
                    history.push_str(&format!(
                        "--- {} about {mailbox} ---\n{lines}\n",
                        service.process.name()
                    ));
                }
            }
        }
        history
    }
}

/// The first UUID (8-4-4-4-12 hex digits) in `text`.
fn first_uuid(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).find_map(|start| {
        let candidate = &bytes[start..start + 36];
        let shaped = candidate.iter().enumerate().all(|(at, byte)| match at {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        });
        shaped.then(|| &text[start..start + 36])
    })
}
