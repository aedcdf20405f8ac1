#[tokio::main]
async fn main() -> anyhow::Result<()> {
    govshare_shared::run::<govshare_deadlines::App>().await
}
