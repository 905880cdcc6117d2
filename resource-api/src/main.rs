use resource_api::{Application, Settings};
use shared::config::EnvReader;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env(&EnvReader::from_env())?;
    shared::telemetry::init(settings.log_json);
    Application::build(settings).await?.run().await?;
    Ok(())
}
