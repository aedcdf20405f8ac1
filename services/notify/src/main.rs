#[tokio::main]
async fn main() -> anyhow::Result<()> {
    Ok(())
}
