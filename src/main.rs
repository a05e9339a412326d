//! The `minitwit` binary: parse settings, set up logging, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use minitwit::config::{Cli, Command, ModeratorAction};
use minitwit::startup::Application;
use minitwit::store::Store;
use minitwit::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before logging starts, so the first error is already reported; kept until exit.
    let _reports = match minitwit::error_reports::init(&cli.settings) {
        Ok(guard) => guard,
        Err(message) => {
            eprintln!("minitwit: {message}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(&cli.settings);
    let settings = cli.settings;
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(&settings.database_url).await,
        Command::Sim(args) => {
            minitwit::sim::run(&args.url, &args.scenario, args.concurrency, args.limit).await
        }
        Command::Seed(args) => seed(&settings.database_url, args).await,
        Command::Moderator { action } => moderator(&settings.database_url, action).await,
        Command::Backup(args) => {
            minitwit::backup::backup_command(&settings.database_url, &args.path).await
        }
    };
    minitwit::log_writer::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("minitwit: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: minitwit::config::Settings) -> Result<(), String> {
    let app = Application::build(settings)
        .await
        .map_err(|e| minitwit::error_chain::one_line(&e))?;
    tracing::info!(addr = %app.addr(), "MiniTwit is serving on http://{}", app.addr());
    app.run_until_stopped(shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))
}

async fn migrate(database_url: &str) -> Result<(), String> {
    let store = Store::connect(database_url).await?;
    store.migrate().await?;
    tracing::info!("migrations applied");
    store.close().await;
    Ok(())
}

async fn seed(database_url: &str, args: minitwit::config::SeedArgs) -> Result<(), String> {
    let store = Store::connect(database_url).await?;
    store.migrate().await?;
    let plan = minitwit::seed::SeedPlan {
        users: args.users,
        messages: args.messages,
        follows_per_user: args.follows_per_user,
    };
    let summary = minitwit::seed::seed(&store, &plan).await?;
    println!("{summary}");
    store.close().await;
    Ok(())
}

async fn moderator(database_url: &str, action: ModeratorAction) -> Result<(), String> {
    let (name, grant) = match &action {
        ModeratorAction::Grant { name } => (name, true),
        ModeratorAction::Revoke { name } => (name, false),
    };
    let store = Store::connect(database_url).await?;
    store.migrate().await?;
    let found = store
        .set_moderator(name, grant)
        .await
        .map_err(|e| format!("cannot change the role: {e}"));
    store.close().await;
    match found? {
        true if grant => println!("{name} is a moderator"),
        true => println!("{name} is no longer a moderator"),
        false => return Err(format!("no user is named {name:?}")),
    }
    Ok(())
}

/// Completes on SIGINT or SIGTERM (what Docker sends on a rolling update).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
