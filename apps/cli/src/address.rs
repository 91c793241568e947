//! Where the services are: gRPC addresses from flags or the environment.
//! The clients themselves (trace context and `JIGI_TOKEN` on every call)
//! are `jigi_stack::clients`.

pub use jigi_stack::clients::*;

/// `--registry` / `JIGI_REGISTRY_ADDR`.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryAddress {
    /// The registry's gRPC address (`jigi up` prints it).
    #[arg(
        long = "registry",
        env = "JIGI_REGISTRY_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub address: String,
}

impl RegistryAddress {
    pub async fn connect(&self) -> anyhow::Result<RegistryClient> {
        let channel = connect(&self.address, "registry", "--registry", "JIGI_REGISTRY_ADDR").await?;
        Ok(registry_client(channel))
    }
}

/// `--payments` / `JIGI_PAYMENTS_ADDR`.
#[derive(clap::Args, Debug, Clone)]
pub struct PaymentsAddress {
    /// The payments service's gRPC address (`jigi up` prints it).
    #[arg(
        long = "payments",
        env = "JIGI_PAYMENTS_ADDR",
        default_value = "http://127.0.0.1:50052"
    )]
    pub address: String,
}

impl PaymentsAddress {
    pub async fn connect(&self) -> anyhow::Result<PaymentsClient> {
        let channel = connect(&self.address, "payments service", "--payments", "JIGI_PAYMENTS_ADDR").await?;
        Ok(payments_client(channel))
    }
}

/// `--nutrition` / `JIGI_NUTRITION_ADDR`.
#[derive(clap::Args, Debug, Clone)]
pub struct NutritionAddress {
    /// The nutrition service's gRPC address (`jigi up` prints it).
    #[arg(
        long = "nutrition",
        env = "JIGI_NUTRITION_ADDR",
        default_value = "http://127.0.0.1:50053"
    )]
    pub address: String,
}

impl NutritionAddress {
    pub async fn connect(&self) -> anyhow::Result<NutritionClient> {
        let channel = connect(&self.address, "nutrition service", "--nutrition", "JIGI_NUTRITION_ADDR").await?;
        Ok(nutrition_client(channel))
    }
}

/// `--monitoring` / `JIGI_MONITORING_ADDR`.
#[derive(clap::Args, Debug, Clone)]
pub struct MonitoringAddress {
    /// The national monitoring's gRPC address (`jigi up` prints it).
    #[arg(
        long = "monitoring",
        env = "JIGI_MONITORING_ADDR",
        default_value = "http://127.0.0.1:50054"
    )]
    pub address: String,
}

impl MonitoringAddress {
    pub async fn connect(&self) -> anyhow::Result<MonitoringClient> {
        let channel = connect(&self.address, "monitoring", "--monitoring", "JIGI_MONITORING_ADDR").await?;
        Ok(monitoring_client(channel))
    }
}

/// `--linkage` / `JIGI_LINKAGE_ADDR`.
#[derive(clap::Args, Debug, Clone)]
pub struct LinkageAddress {
    /// The national linkage index's gRPC address (`jigi up` prints it).
    #[arg(
        long = "linkage",
        env = "JIGI_LINKAGE_ADDR",
        default_value = "http://127.0.0.1:50057"
    )]
    pub address: String,
}

impl LinkageAddress {
    pub async fn connect(&self) -> anyhow::Result<LinkageClient> {
        let channel = connect(&self.address, "linkage index", "--linkage", "JIGI_LINKAGE_ADDR").await?;
        Ok(linkage_client(channel))
    }
}

/// `--activities` / `JIGI_ACTIVITIES_ADDR`.
#[derive(clap::Args, Debug, Clone)]
pub struct ActivitiesAddress {
    /// The activities service's (MA, AGR, HIMO) gRPC address (`jigi up` prints it).
    #[arg(
        long = "activities",
        env = "JIGI_ACTIVITIES_ADDR",
        default_value = "http://127.0.0.1:50055"
    )]
    pub address: String,
}

impl ActivitiesAddress {
    pub async fn connect(&self) -> anyhow::Result<ActivitiesClient> {
        let channel = connect(
            &self.address,
            "activities service",
            "--activities",
            "JIGI_ACTIVITIES_ADDR",
        )
        .await?;
        Ok(activities_client(channel))
    }
}
