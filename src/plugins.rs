//! The plugins this binary runs, in one list: core reads their declarations (types, task
//! bodies, migrations) and never names them. A new plugin is one more entry here.

use pith_actors::plugin::{TaskBodies, Types};
use pith_entities::migration::PluginMigrations;

/// Every running plugin's detail types.
pub fn types() -> Types {
    let mut t = Types::default();
    t.extend(pith_file::types());
    t
}

/// Core's task bodies with every plugin's.
pub fn bodies(test_tasks: bool) -> TaskBodies {
    let mut b = pith_actors::tasks::core_bodies(test_tasks);
    b.add(pith_file::bodies());
    b.add_creators(pith_file::creators());
    b
}

/// Every plugin's migrations (core runs its own with them, in one timeline).
pub fn migrations() -> Vec<PluginMigrations> {
    vec![pith_file::MIGRATIONS]
}
