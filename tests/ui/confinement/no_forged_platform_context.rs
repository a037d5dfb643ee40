use tenantbase::hooks::{ActionContext, Runtime};

fn main() {}

// Only the scheduler makes the context of a platform job.
fn forge(runtime: Runtime) {
    let forged = ActionContext::scheduled(runtime, None, "forged");
    let _db = forged.platform();
}
