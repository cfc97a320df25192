//! The seeded group tree: one group per department, nested in one group per
//! division, nested in "All Staff" (which also holds the top of the manager
//! tree directly, so transitive listings must deduplicate).

use uuid::Uuid;

use super::names;
use super::{SeedRng, SeedSummary, SeededGroup};
use crate::directory::model::{Group, MemberRef};

pub(super) fn build_groups(
    rng: &mut SeedRng,
    domain: &str,
    member_ids: &[Uuid],
    departments_of_members: &[usize],
    summary: &mut SeedSummary,
) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut all_staff = Group::new_security("All Staff");
    all_staff.id = rng.uuid();
    all_staff.mail_enabled = true;
    all_staff.mail = Some(format!("allstaff@{domain}"));
    for division in names::DIVISIONS {
        let mut division_group = Group::new_security(&format!("Division - {division}"));
        division_group.id = rng.uuid();
        for (department_index, department) in names::DEPARTMENTS.iter().enumerate() {
            if department.division != *division {
                continue;
            }
            let mut department_group = Group::new_security(&format!("Dept - {}", department.name));
            department_group.id = rng.uuid();
            for (member_index, member) in member_ids.iter().enumerate() {
                if departments_of_members[member_index] == department_index {
                    department_group.members.push(MemberRef::User(*member));
                }
            }
            division_group
                .members
                .push(MemberRef::Group(department_group.id));
            groups.push(department_group);
        }
        all_staff.members.push(MemberRef::Group(division_group.id));
        groups.push(division_group);
    }
    // The top of the manager tree is also a direct member: it must appear once.
    if let Some(chief) = member_ids.first() {
        all_staff.members.push(MemberRef::User(*chief));
    }
    summary.all_staff_group_id = Some(all_staff.id);
    groups.push(all_staff);
    for group in &groups {
        let kind = if group.display_name == "All Staff" {
            "all"
        } else if group.display_name.starts_with("Division") {
            "division"
        } else {
            "department"
        };
        summary.groups.push(SeededGroup {
            id: group.id,
            display_name: group.display_name.clone(),
            kind: kind.to_owned(),
            direct_members: group.members.len(),
        });
    }
    groups
}
