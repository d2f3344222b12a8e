//! deixis-ipc: the names of the D-Bus interface (`org.deixis.Deixis1`), shared by the service
//! and its clients. The server trait, client proxy, wire types and error replies (zbus) land
//! here with the daemon; until then this crate holds only the names, so nothing else spells
//! them.

/// Well-known bus name of the service on the session bus.
pub const BUS_NAME: &str = "org.deixis.Deixis1";
/// Object path of the service object.
pub const OBJECT_PATH: &str = "/org/deixis/Deixis1";
/// Interface name.
pub const INTERFACE: &str = "org.deixis.Deixis1";
/// Prefix of the service's D-Bus error names (`org.deixis.Deixis1.Error.InvalidArgument`...).
pub const ERROR_PREFIX: &str = "org.deixis.Deixis1.Error";
