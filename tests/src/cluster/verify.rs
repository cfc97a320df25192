//! Checking every target mailbox against the directory, and for a failing
//! check, what the services logged about the mailboxes that differ.

use galsync::demo::verify::{self, Verification};

use super::{Cluster, Tenant};

impl Cluster {
    /// Compares every mailbox in `mailboxes` with the directory through the
    /// emulator's admin API: exactly one contact per synced user in the
    /// galsync folder, with the user's current fields; foreign contacts left
    /// alone.
    pub async fn verify<'a>(
        &self,
        tenant: &Tenant,
        mailboxes: impl IntoIterator<Item = &'a String>,
    ) -> Verification {
        let users = self.emulator.users(&tenant.tenant_id).await;
        let expected = verify::expected_contacts(&users);
        let mut report = Verification {
            expected_contacts: expected.len(),
            ..Verification::default()
        };
        for mailbox in mailboxes {
            let folders = self.emulator.folders(&tenant.tenant_id, mailbox).await;
            let outcome = match verify::galsync_folder(&folders) {
                Ok(folder_id) => {
                    let contacts = self
                        .emulator
                        .contacts(&tenant.tenant_id, mailbox, &folder_id)
                        .await;
                    verify::check_folder(&contacts, &expected)
                }
                Err(problem) => Err(problem),
            };
            report.record(mailbox, outcome);
        }
        report
    }

    /// [`Cluster::verify`] over every target; panics with the problems.
    pub async fn assert_mailboxes_match(&self, tenant: &Tenant) {
        let report = self.verify(tenant, tenant.targets.keys()).await;
        assert!(
            report.passed(),
            "{} of {} mailboxes match the directory: {:#?}\n{}",
            report.mailboxes_correct,
            report.mailboxes_checked,
            report.problems,
            self.mailbox_history(&report.problems)
        );
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
