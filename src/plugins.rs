//! The plugins this binary runs, in one list: core reads their declarations (types, endpoints,
//! serializers, task bodies, migrations) and never names them. A new plugin is one more entry
//! here.

use pith_entities::migration::PluginMigrations;
use pith_http::plugin::{Core, Platform, Plugin};

fn plugins() -> Vec<Plugin> {
    vec![pith_file::plugin(), pith_certguard::plugin()]
}

/// Core with every plugin (test-only endpoints and bodies with `test_tasks`), their settings
/// read from the environment as `PULP_<NAME>`, as Pulp's dynaconf reads them.
pub fn platform(test_tasks: bool) -> Platform {
    Platform::new(Core::new(test_tasks), plugins(), test_tasks)
        .with_settings(|name| std::env::var(format!("PULP_{name}")).ok())
}

/// Every plugin's migrations, for the commands that only migrate.
pub fn migrations() -> Vec<PluginMigrations> {
    plugins().into_iter().map(|p| p.migrations).collect()
}
