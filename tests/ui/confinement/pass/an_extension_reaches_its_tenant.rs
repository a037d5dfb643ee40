use tenantbase::{
    entities::user,
    hooks::{Hooks, ListParams, Register},
};

fn main() {
    let mut hooks = Hooks::new();
    hooks.filter("items.create", |ctx, item| {
        Box::pin(async move {
            let txn = ctx.txn();
            let members = txn.find::<user::Entity>().count(txn).await.map_err(tenantbase::error::Error::from)?;
            println!("{members} members in tenant {}", ctx.tenant_id());
            Ok(item)
        })
    });
    hooks.action("items.create", |ctx, _| async move {
        let notes = ctx.items("notes").list(ListParams::default()).await?;
        println!("{} notes; platform handle: {}", notes.len(), ctx.platform().is_some());
        Ok(())
    });
}
