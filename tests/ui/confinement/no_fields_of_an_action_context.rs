use tenantbase::hooks::{Hooks, Register};

fn main() {
    let mut hooks = Hooks::new();
    hooks.action("auth.login", |ctx, _| async move {
        let _runtime = &ctx.runtime;
        Ok(())
    });
}
