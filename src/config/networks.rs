//! What the config needs from each network plugin: the name of its table
//! (`[name]`) and desks (`desk = "name[:target]"`), a parser for that
//! table, and a check of desk targets. The plugins themselves are listed
//! by the binary's composition file (`crate::bridges`); the config never
//! names one.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use super::Located;

/// One network's parsed `[name]` table.
pub trait NetworkSettings: Any + Debug + Send + Sync {
    /// For [`super::Config::settings`]: the concrete settings type.
    fn as_any(&self) -> &dyn Any;
    /// One line for `check-config` (no secrets).
    fn describe(&self) -> String;
    /// A deprecated spelling of `[conversation] internal_prefix` inside
    /// this table, with its span.
    fn deprecated_internal_prefix(&self) -> Option<&toml::Spanned<String>> {
        None
    }
}

/// Parses the network's table out of the whole document (so spans are
/// the document's); `Ok(None)` when it has none.
pub type ParseSection = fn(&str) -> Result<Option<Arc<dyn NetworkSettings>>, Located>;

/// A network plugin as the config sees it.
#[derive(Clone, Copy)]
pub struct NetworkDef {
    pub name: &'static str,
    pub parse: ParseSection,
    /// Checks a desk target (None: a private room per case); the error
    /// says what is wrong and how to write it.
    pub check_desk: fn(Option<&str>) -> Result<(), String>,
    /// The keys of this network's bridge records that hold what the
    /// customer `user` at `room` said or is (`handoff forget` erases
    /// them with the rest of the person).
    pub customer_records: fn(room: &str, user: &str) -> Vec<String>,
}

impl Debug for NetworkDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkDef")
            .field("name", &self.name)
            .finish()
    }
}
