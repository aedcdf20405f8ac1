#[tokio::main]
async fn main() -> anyhow::Result<()> {
    govshare_shared::run::<govshare_recall::App>().await
}
