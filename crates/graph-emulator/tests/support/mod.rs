//! The emulator's test support, one module for every test binary: an
//! emulator on port 0 with a seeded directory (`directory`), with mailboxes
//! and an app token (`mailbox`), or with one tenant, app and certificate
//! keys for the identity platform (`identity`); `Reply` is a Graph answer.
//! Each test binary uses part of it.

#![allow(dead_code, unused_imports)]

pub mod directory;
pub mod identity;
pub mod mailbox;
pub mod reply;
