fn raw(db: &tenantbase::db::PlatformDb) {
    let _raw = db.platform_conn();
}

fn main() {}
