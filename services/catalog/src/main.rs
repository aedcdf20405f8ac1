#[tokio::main]
async fn main() -> anyhow::Result<()> {
    govshare_runtime::run::<govshare_catalog::App>().await
}
