//! The editor drawn from a spec, with the error beside its field and, when
//! the form comes back refused, the rule fields as typed.

use galsync_proto::v1;

use super::attribute_rules::{attribute_rule_lines, SOURCE, TARGETS};
use super::field_rules::field_rule_lines;
use super::{FieldError, Typed};
use crate::html::Page;

/// Where the form posts and what it may change.
#[derive(Clone, Copy)]
pub struct Editor<'a> {
    pub action: &'a str,
    pub csrf_token: &'a str,
    pub expected_version: u64,
    /// A profile's tenant is fixed once it exists.
    pub tenant_editable: bool,
    pub error: Option<&'a FieldError>,
    /// The rule fields as typed, when the form comes back refused.
    pub typed: Option<&'a Typed>,
}

impl Editor<'_> {
    /// The error for `field`, as a paragraph the field names with
    /// `aria-describedby`. An error on a field the form does not have
    /// shows only above the form; one on source or target rule N beside
    /// the text area holding it.
    fn error_for(&self, field: &str) -> Option<&str> {
        let error = self.error?;
        (error.field == field).then_some(error.message.as_str())
    }

    fn input(&self, body: &mut Page, field: &str, id: &str, label: &str, value: &str) {
        body.markup("<label for=\"")
            .markup(id)
            .markup("\">")
            .markup(label)
            .markup("</label> <div><input id=\"")
            .markup(id)
            .markup("\" name=\"")
            .markup(id)
            .markup("\" value=\"")
            .text(value)
            .markup("\"");
        self.error_after(body, field, id);
    }

    /// A text area of `values` one a line, or of `typed` when the form
    /// comes back refused.
    fn typed_textarea(
        &self,
        body: &mut Page,
        field: &str,
        id: &str,
        label: &str,
        values: &[String],
        typed: fn(&Typed) -> &str,
    ) {
        match self.typed {
            Some(form) => self.textarea(body, field, id, label, &[typed(form).to_owned()]),
            None => self.textarea(body, field, id, label, values),
        }
    }

    fn textarea(&self, body: &mut Page, field: &str, id: &str, label: &str, values: &[String]) {
        body.markup("<label for=\"")
            .markup(id)
            .markup("\">")
            .markup(label)
            .markup("</label> <div><textarea rows=\"3\" id=\"")
            .markup(id)
            .markup("\" name=\"")
            .markup(id)
            .markup("\"");
        let text = values.join("\n");
        self.error_after_open(body, field, id);
        body.markup(">").text(&text).markup("</textarea>");
        self.error_paragraph(body, field, id);
        body.markup("</div>\n");
    }

    fn checkbox(&self, body: &mut Page, id: &str, label: &str, checked: bool) {
        body.markup("<span></span><div><input type=\"checkbox\" id=\"")
            .markup(id)
            .markup("\" name=\"")
            .markup(id)
            .markup("\" value=\"on\"");
        if checked {
            body.markup(" checked");
        }
        body.markup("> <label for=\"")
            .markup(id)
            .markup("\">")
            .markup(label)
            .markup("</label></div>\n");
    }

    /// Ends an `<input` with the error's attributes and paragraph.
    fn error_after(&self, body: &mut Page, field: &str, id: &str) {
        self.error_after_open(body, field, id);
        body.markup(">");
        self.error_paragraph(body, field, id);
        body.markup("</div>\n");
    }

    fn error_after_open(&self, body: &mut Page, field: &str, id: &str) {
        if self.error_for(field).is_some() {
            body.markup(" aria-invalid=\"true\" aria-describedby=\"")
                .markup(id)
                .markup("-error\"");
        }
    }

    fn error_paragraph(&self, body: &mut Page, field: &str, id: &str) {
        if let Some(message) = self.error_for(field) {
            body.markup("<p class=\"error field-error\" id=\"")
                .markup(id)
                .markup("-error\">")
                .text(message)
                .markup("</p>");
        }
    }

    /// The whole form for `spec`.
    pub fn render(&self, body: &mut Page, spec: &v1::ProfileSpec) {
        if let Some(error) = self.error {
            body.markup("<p class=\"error\" role=\"alert\">The profile was refused: ");
            if !error.field.is_empty() {
                body.text(&error.field).markup(" ");
            }
            body.text(&error.message).markup("</p>\n");
        }
        let source_rules = spec
            .source
            .as_ref()
            .map_or(&[][..], |source| &source.rules[..]);
        let target_rules = spec
            .targets
            .as_ref()
            .map_or(&[][..], |targets| &targets.rules[..]);
        let resolved = self.error.map(|error| {
            let field = SOURCE.field_of_rule_error(&error.field, source_rules);
            FieldError {
                field: TARGETS.field_of_rule_error(field, target_rules).to_owned(),
                message: error.message.clone(),
            }
        });
        Editor {
            error: resolved.as_ref(),
            ..*self
        }
        .fields(body, spec);
    }

    fn fields(&self, body: &mut Page, spec: &v1::ProfileSpec) {
        let source = spec.source.clone().unwrap_or_default();
        let targets = spec.targets.clone().unwrap_or_default();
        let write = spec.write.clone().unwrap_or_default();
        body.markup("<form method=\"post\" class=\"fields\" action=\"")
            .text(self.action)
            .markup("\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
            .text(self.csrf_token)
            .markup("\"><input type=\"hidden\" name=\"expected_version\" value=\"")
            .number(self.expected_version)
            .markup("\">\n");
        self.input(body, "spec.name", "name", "Name", &spec.name);
        if self.tenant_editable {
            self.input(
                body,
                "spec.tenant_id",
                "tenant_id",
                "Tenant (Directory) ID",
                &spec.tenant_id,
            );
        } else {
            body.markup("<input type=\"hidden\" name=\"tenant_id\" value=\"")
                .text(&spec.tenant_id)
                .markup("\">");
        }
        self.checkbox(
            body,
            "enabled",
            "Enabled (runs on its schedule)",
            spec.enabled,
        );
        body.markup("<h2 class=\"span\">Source filter</h2>\n");
        self.textarea(
            body,
            "spec.source.include_group_ids",
            "include_group_ids",
            "Only members of these groups (object ids, one a line; empty: everyone)",
            &source.include_group_ids,
        );
        self.textarea(
            body,
            "spec.source.exclude_group_ids",
            "exclude_group_ids",
            "Never members of these groups (object ids, one a line)",
            &source.exclude_group_ids,
        );
        self.typed_textarea(
            body,
            SOURCE.include_field,
            "include_where",
            "Keep only users where, one rule a line: ATTRIBUTE=VALUE[,VALUE…] (one of the values) or ATTRIBUTE^=PREFIX (e.g. department=Sales,Support; all lines must hold)",
            &attribute_rule_lines(&source.rules, false),
            |typed| &typed.include_where,
        );
        self.typed_textarea(
            body,
            SOURCE.exclude_field,
            "exclude_where",
            "Drop users where, one rule a line, same form (e.g. department=Interns or jobTitle^=Temp)",
            &attribute_rule_lines(&source.rules, true),
            |typed| &typed.exclude_where,
        );
        self.checkbox(
            body,
            "include_disabled",
            "Include disabled accounts",
            source.include_disabled,
        );
        self.checkbox(
            body,
            "include_guests",
            "Include guests",
            source.include_guests,
        );
        self.input(
            body,
            "spec.source.odata_prefilter",
            "odata_prefilter",
            "OData prefilter (passed to Graph as is)",
            &source.odata_prefilter,
        );
        body.markup("<h2 class=\"span\">Targets</h2>\n");
        self.checkbox(
            body,
            "targets_all",
            "Every user mailbox",
            targets.all_mailboxes,
        );
        self.textarea(
            body,
            "spec.targets",
            "target_users",
            "Users (UPN or object id, one a line)",
            &targets.users,
        );
        self.textarea(
            body,
            "spec.targets.group_ids",
            "target_group_ids",
            "Members of these groups (object ids, one a line)",
            &targets.group_ids,
        );
        self.typed_textarea(
            body,
            TARGETS.include_field,
            "target_include_where",
            "Only mailboxes of users where, one rule a line, same form as the source's (e.g. country=NO)",
            &attribute_rule_lines(&targets.rules, false),
            |typed| &typed.target_include_where,
        );
        self.typed_textarea(
            body,
            TARGETS.exclude_field,
            "target_exclude_where",
            "No mailboxes of users where, one rule a line (e.g. jobTitle^=Temp)",
            &attribute_rule_lines(&targets.rules, true),
            |typed| &typed.target_exclude_where,
        );
        body.markup("<h2 class=\"span\">Writing</h2>\n");
        self.input(
            body,
            "spec.write.folder_name",
            "folder_name",
            "Contact folder name (empty: Company Directory)",
            &write.folder_name,
        );
        self.typed_textarea(
            body,
            "spec.write.field_rules",
            "field_rules",
            "Field rules, one a line: FIELD=overwrite, only-if-empty or never (e.g. mobilePhone=never; unlisted fields: overwrite)",
            &field_rule_lines(&write.field_rules),
            |typed| &typed.field_rules,
        );
        self.deletion_mode(body, write.deletion_mode);
        let percent = if write.deletion_guard_percent == 0.0 {
            String::new()
        } else {
            write.deletion_guard_percent.to_string()
        };
        self.input(
            body,
            "spec.write.deletion_guard_percent",
            "deletion_guard_percent",
            "Deletion guard: hold deletes above this % of managed contacts (empty: 10)",
            &percent,
        );
        let minimum = if write.deletion_guard_minimum == 0 {
            String::new()
        } else {
            write.deletion_guard_minimum.to_string()
        };
        self.input(
            body,
            "spec.write.deletion_guard_minimum",
            "deletion_guard_minimum",
            "… and above this count (empty: 50)",
            &minimum,
        );
        body.markup("<h2 class=\"span\">Schedule</h2>\n");
        self.schedule(body, spec.schedule.as_ref());
        body.markup("<button type=\"submit\">Save profile</button></form>\n");
    }

    fn deletion_mode(&self, body: &mut Page, mode: i32) {
        let selected = v1::DeletionMode::try_from(mode).unwrap_or(v1::DeletionMode::Unspecified);
        body.markup("<label for=\"deletion_mode\">Deletion mode</label> <div><select id=\"deletion_mode\" name=\"deletion_mode\"");
        self.error_after_open(body, "spec.write.deletion_mode", "deletion_mode");
        body.markup(">");
        let options = [
            (
                v1::DeletionMode::Unspecified,
                "",
                "default (removed from source)",
            ),
            (
                v1::DeletionMode::RemovedFromSource,
                "removed_from_source",
                "delete contacts whose user left the source",
            ),
            (v1::DeletionMode::Never, "never", "never delete"),
            (
                v1::DeletionMode::Mirror,
                "mirror",
                "mirror (also delete contacts galsync cannot account for)",
            ),
        ];
        for (value, name, label) in options {
            body.markup("<option value=\"").markup(name).markup("\"");
            if value == selected {
                body.markup(" selected");
            }
            body.markup(">").markup(label).markup("</option>");
        }
        body.markup("</select>");
        self.error_paragraph(body, "spec.write.deletion_mode", "deletion_mode");
        body.markup("</div>\n");
    }

    fn schedule(&self, body: &mut Page, schedule: Option<&v1::Schedule>) {
        let (kind, interval, cron) = match schedule.and_then(|schedule| schedule.kind.as_ref()) {
            Some(v1::schedule::Kind::IntervalSeconds(seconds)) => {
                ("interval", seconds.to_string(), String::new())
            }
            Some(v1::schedule::Kind::Cron(expression)) => {
                ("cron", String::new(), expression.clone())
            }
            None => ("none", String::new(), String::new()),
        };
        body.markup("<label for=\"schedule_kind\">Runs</label> <div><select id=\"schedule_kind\" name=\"schedule_kind\"");
        self.error_after_open(body, "spec.schedule", "schedule_kind");
        body.markup(">");
        for (value, label) in [
            ("none", "on demand only"),
            ("interval", "every N seconds"),
            ("cron", "on a cron schedule"),
        ] {
            body.markup("<option value=\"").markup(value).markup("\"");
            if value == kind {
                body.markup(" selected");
            }
            body.markup(">").markup(label).markup("</option>");
        }
        body.markup("</select>");
        self.error_paragraph(body, "spec.schedule", "schedule_kind");
        body.markup("</div>\n");
        self.input(
            body,
            "spec.schedule.interval_seconds",
            "interval_seconds",
            "Interval (seconds)",
            &interval,
        );
        self.input(
            body,
            "spec.schedule.cron",
            "cron",
            "Cron expression, e.g. 0 0 6 * * *",
            &cron,
        );
        let time_zone = schedule.map_or("", |schedule| schedule.time_zone.as_str());
        self.input(
            body,
            "spec.schedule.time_zone",
            "time_zone",
            "Time zone for cron (IANA, empty: UTC)",
            time_zone,
        );
    }
}
