//! Enums the stores keep as text (a run's state, an app's credential mode):
//! [`stored_names!`](crate::stored_names) declares one with each value's
//! stored name, once, and gives it what reading and writing the store needs.

/// Stored text no value of the enum has: the store was written by something
/// other than galsync's migrations.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {text:?} in the store")]
pub struct UnknownStoredName {
    what: &'static str,
    text: String,
}

impl UnknownStoredName {
    /// `what` names the column in words ("run state"); `text` is what it held.
    pub fn new(what: &'static str, text: String) -> Self {
        Self { what, text }
    }
}

/// Declares an enum stored as text, each variant with its stored name:
///
/// ```
/// galsync_platform::stored_names! {
///     /// Where a job is.
///     pub enum JobState as "job state" {
///         Queued = "queued",
///         /// Finished.
///         Done = "done",
///     }
/// }
/// assert_eq!(JobState::ALL, [JobState::Queued, JobState::Done]);
/// assert_eq!(JobState::Done.as_str(), "done");
/// assert_eq!(JobState::parse("queued"), Some(JobState::Queued));
/// assert_eq!(JobState::try_from("done".to_owned()).unwrap(), JobState::Done);
/// assert_eq!(
///     JobState::try_from("lost".to_owned()).unwrap_err().to_string(),
///     "unknown job state \"lost\" in the store"
/// );
/// ```
///
/// It gets `ALL` (every value, in the order declared), `as_str` (the stored
/// name, also its `Display`), `parse`, and `TryFrom<String>` for sqlx's
/// `#[sqlx(try_from = "String")]`, refusing unknown text with
/// [`UnknownStoredName`].
#[macro_export]
macro_rules! stored_names {
    (
        $(#[$meta:meta])*
        $visibility:vis enum $name:ident as $what:literal {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $visibility enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant),+];

            /// The name in the store (also the logs' and metrics' name).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value stored as `text`, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::stored_name::UnknownStoredName;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                $name::parse(&text)
                    .ok_or_else(|| $crate::stored_name::UnknownStoredName::new($what, text))
            }
        }
    };
}
