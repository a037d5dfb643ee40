use tenantbase::hooks::{Hooks, Register};

fn main() {
    let mut hooks = Hooks::new();
    hooks.filter("items.create", |ctx, item| {
        Box::pin(async move {
            let _raw = ctx.txn().platform_conn();
            Ok(item)
        })
    });
}
