//! The command line: every command, option and help text (clap derive).
// These doc comments are `--help` text first: URLs stay plain, as a terminal shows them.
#![allow(rustdoc::bare_urls)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{
    ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};
use referrals::Secret;
use referrals::auth::{CredentialSource, env as sign_in};

use crate::profile::env;

/// The exit codes, shown at the end of `--help` and relied on by scripts.
pub const EXIT_CODES: &str = "\
Exit codes: each means one thing, whatever the command.
  0  success; also accept, decline, won or lost of a referral already in that
     state (stderr says so; nothing is sent)
  1  the API answered with an error, or the network failed (timeout, connection,
     a continuation that cannot be followed)
  2  bad arguments or input file: refused before any request
  3  configuration or authentication: invalid base URL, missing, refused or
     rejected credentials (a listing stopped by one shows no `--resume`: fix the
     sign-in first)
  4  a listing stopped part-way on an API or network error (a sync too): what
     was received is kept, and stderr shows, after the error, the `--resume`
     option (and a full command line) that continues it
  5  a response could not be decoded: not the documented JSON (an HTML page from
     a proxy, a mistyped field); a listing stopped by one shows its `--resume` too
     (a referral with a mistyped field: the other referrals of its page are
     printed first, and stderr names its page, position and id)
  6  `sync` completed, but some referrals could not be decoded: each is kept as
     received in the mirror's quarantine (`list --db PATH --quarantined`), stderr
     names them, and every sync lists them again until a version that decodes
     replaces them
  7  `referrals due` found at least one referral due (0 when none): for cron
  8  `push`: the endpoint refused a change; stderr names its sequence number, the
     referral and the status, and the next run starts with that change again

Environment:
  PARTNER_CENTER_BASE_URL   the API base URL (default https://api.partner.microsoft.com)
  Credentials, the first that is configured (REFERRALS_AUTH or --auth forces one):
  PARTNER_CENTER_TOKEN      a bearer token (--token)
  PARTNER_CENTER_REFRESH_TOKEN  a refresh token, with AZURE_CLIENT_ID [, AZURE_TENANT_ID]
  the token cache           filled by `referrals login` (REFERRALS_TOKEN_CACHE moves it)
  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH
                            client credentials (app-only: the Referrals API refuses them)
  the Azure CLI             `az account get-access-token`
  AZURE_AUTHORITY_HOST      the sign-in authority (default https://login.microsoftonline.com)

Try it offline: referrals list --demo --all";

/// `referrals`: list, get, create and update Microsoft Partner Center referrals.
#[derive(Parser, Debug)]
#[command(
    name = "referrals",
    version,
    about = "List, get, create and update Microsoft Partner Center referrals",
    long_about = "List, get, create and update Microsoft Partner Center referrals.\n\n\
        Listings stream to stdout page by page; an interrupted listing prints the \
        `--resume` option that continues it without losing or repeating a referral.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    /// Options of every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The process's command line, with its matches (which tell an option from the variable
    /// clap read for it); a usage error exits with code 2 and clap's message.
    pub fn parse_with_matches() -> (Cli, ArgMatches) {
        Cli::try_parse_with_matches(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// As [`Cli::parse_with_matches`], for these arguments (the program's name first), with the
    /// usage error returned.
    pub fn try_parse_with_matches<I, T>(args: I) -> Result<(Cli, ArgMatches), clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command()
            .try_get_matches_from(args)
            .map_err(with_api_tip)?;
        let cli = Cli::from_arg_matches(&matches)?;
        Ok((cli, matches))
    }
}

/// An API option refused (written before the command's name, or given to a command that does
/// not call the API) gets a tip saying where it goes; the option is told by clap's context.
fn with_api_tip(mut error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    let Some(ContextValue::String(given)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let name = given
        .split('=')
        .next()
        .unwrap_or(given)
        .trim_start_matches('-');
    let api = ApiArgs::augment_args(clap::Command::new("api"));
    if !api.get_arguments().any(|arg| arg.get_long() == Some(name)) {
        return error;
    }
    let tip = format!(
        "--{name} is an option of the commands that call the API, after the command's name: \
         `referrals list --{name} ...`"
    );
    let mut tips = match error.get(ContextKind::Suggested) {
        Some(ContextValue::StyledStrs(tips)) => tips.clone(),
        _ => Vec::new(),
    };
    tips.push(tip.into());
    error.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    error
}

/// Options of every command, before or after its name.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Log requests, retries and pages to stderr (-vv for more); tokens are never logged
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// The named profile of the config file to use (default: the file's `default_profile`, else
    /// `default`)
    #[arg(long, global = true, env = env::PROFILE, value_name = "NAME")]
    pub profile: Option<String>,
}

/// Options of the commands that call the Referrals API: where it is, the credential, how
/// patiently. Written after the command's name, and listed after its own options.
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "API options")]
pub struct ApiArgs {
    /// The API base URL; `http://` only for loopback hosts
    #[arg(long, env = env::BASE_URL, value_name = "URL")]
    pub base_url: Option<String>,

    /// A bearer token (prefer the PARTNER_CENTER_TOKEN variable: arguments are visible to other
    /// users of the machine)
    #[arg(long, value_name = "TOKEN", value_parser = parse_secret)]
    pub token: Option<Secret>,

    /// Use only this credential source instead of the first one configured
    #[arg(long, env = sign_in::AUTH, value_name = "SOURCE",
          value_parser = PossibleValuesParser::new(CredentialSource::NAMES)
              .try_map(|name| name.parse::<CredentialSource>()))]
    pub auth: Option<CredentialSource>,

    /// Retries of a failed request after the first attempt (default 4)
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// The simulator and the timeout.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Options of every command that goes on the network (the API's, and `login`'s).
#[derive(Args, Clone, Debug, Default)]
pub struct ConnectArgs {
    /// Run against an embedded simulator with 250 synthetic referrals, with its own address and
    /// credentials
    #[arg(long)]
    pub demo: bool,

    /// Timeout of one attempt (connect, headers and body), in seconds
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List referrals (the first page, or every page with --all)
    #[command(after_help = EXIT_CODES)]
    List(Box<ListArgs>),
    /// Get one referral by id (printed as JSON)
    #[command(after_help = EXIT_CODES)]
    Get {
        /// The referral's id
        id: String,
        /// Where the API is, and the credential.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Create a referral from a JSON file (printed as created), or a batch exactly once
    /// (--from)
    #[command(after_help = EXIT_CODES)]
    Create {
        /// The referral as JSON (type, customerProfile, consent, details required); `-` reads
        /// stdin
        #[arg(
            long,
            short,
            value_name = "FILE",
            required_unless_present = "from",
            conflicts_with = "from"
        )]
        file: Option<PathBuf>,
        /// Create a batch, each referral exactly once however often this is run: one referral
        /// per line (NDJSON), or CSV with a header of JSON paths (the columns `list --format
        /// csv` writes, and any other such as consent.consentToContact); every line needs its
        /// own externalReferenceId. Every line is checked before anything is sent (exit 2 with
        /// each problem); the mirror (--db) is synced first, and lines whose
        /// externalReferenceId it has are not sent. Prints one JSON line per line: line,
        /// externalReferenceId, outcome (created, exists, refused, failed), id, error; exits 1
        /// when a line was refused or failed. `-` reads stdin
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// With --from, the mirror: a SQLite file (created if missing)
        /// [default: REFERRALS_DB, else the profile's `database`, else referrals.db]
        #[arg(long, value_name = "PATH")]
        db: Option<PathBuf>,
        /// With --from, what the file holds [default: csv for a .csv file, else ndjson]
        #[arg(long, value_enum, value_name = "FORMAT")]
        input_format: Option<InputFormat>,
        /// With --from, create requests in flight at once, 1 to 16
        #[arg(long, value_name = "N", default_value_t = referrals_sync::batch::DEFAULT_CONCURRENCY)]
        concurrency: usize,
        /// With --from, how long to wait for a `referrals sync` of the same mirror to finish
        #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
        wait: Duration,
        /// Where the API is, and the credential.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Update a referral with a JSON Patch (`replace` and `add` operations)
    #[command(after_help = EXIT_CODES)]
    Update {
        /// The referral's id
        id: String,
        /// A JSON Patch array, e.g. [{"op":"replace","path":"/status","value":"Active"}]; `-`
        /// reads stdin
        #[arg(long, short, value_name = "FILE")]
        patch: PathBuf,
        /// Update only if the referral still has this eTag (else HTTP 412)
        #[arg(long, value_name = "ETAG")]
        if_match: Option<String>,
        /// Where the API is, and the credential.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Replace a whole referral (PUT) with a JSON file holding its id and eTag
    #[command(after_help = EXIT_CODES)]
    Replace {
        /// The referral as JSON, with `id` and `eTag`; `-` reads stdin
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
        /// Where the API is, and the credential.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run a Partner Center simulator in the foreground until Ctrl-C, for your own tests
    Simulate(SimulateArgs),
    /// Receive Partner Center webhook events, verify them and keep the mirror current
    ///
    /// It starts with a sync of the mirror, as `referrals sync` makes one (full the first
    /// time, incremental after), so that the mirror holds every referral, not only those that
    /// change while it listens; then it serves. A mirror of another API is refused.
    #[command(after_help = EXIT_CODES)]
    Listen(Box<ListenArgs>),
    /// Register and test the webhook on the Partner Center registration API
    #[command(after_help = EXIT_CODES)]
    Webhooks(Box<WebhooksArgs>),
    /// Sign in with a device code (App+User, as the Referrals API requires); the tokens are
    /// kept in the token cache
    #[command(after_help = EXIT_CODES)]
    Login(LoginArgs),
    /// Remove a stored sign-in from the token cache
    #[command(after_help = EXIT_CODES)]
    Logout(LogoutArgs),
    /// Which credential is used
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Accept a new referral (New → Active/Accepted)
    #[command(after_help = LIFECYCLE_HELP)]
    Accept(LifecycleArgs),
    /// Decline a referral (New or Active → Closed/Declined)
    #[command(after_help = LIFECYCLE_HELP)]
    Decline(ReasonArgs),
    /// Close an active referral as won (Active → Closed/Won)
    #[command(after_help = LIFECYCLE_HELP)]
    Won(LifecycleArgs),
    /// Close an active referral as lost (Active → Closed/Lost)
    #[command(after_help = LIFECYCLE_HELP)]
    Lost(ReasonArgs),
    /// Register a won co-sell deal, or update its registration
    #[command(subcommand)]
    Deal(DealCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to stdout
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The config file and its profiles
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Bring a local SQLite mirror up to date (full or incremental listing; see docs/sync.md)
    #[command(after_help = EXIT_CODES)]
    Sync(SyncArgs),
    /// Print the mirror's change journal as NDJSON (per named consumer, with acknowledgement)
    Changes(ChangesArgs),
    /// The New referrals that expire within --within (or already have, while still New),
    /// soonest first; exit 7 when any is due, 0 when none
    #[command(after_help = EXIT_CODES)]
    Due(Box<DueArgs>),
    /// Write the mirror's pipeline as one self-contained HTML page: totals, charts and what is
    /// due (see docs/report.md)
    #[command(after_help = EXIT_CODES)]
    Report(ReportArgs),
    /// Deliver the mirror's changes to an HTTP endpoint, one POST per change, in order (see
    /// docs/push.md)
    ///
    /// Each change after the consumer's offset is posted as the JSON object `referrals
    /// changes` prints, with an Idempotency-Key that is the same on every attempt of it; a 2xx
    /// moves the offset before the next is sent. 408, 429, 5xx (but 501 and 505) and
    /// connection failures are retried, Retry-After honoured; any other answer stops with exit
    /// 8, the offset just before the change, so the next run starts with it again.
    #[command(after_help = EXIT_CODES)]
    Push(PushArgs),
}

/// `referrals due`.
#[derive(Args, Clone, Debug)]
pub struct DueArgs {
    /// How far ahead to look: the New referrals whose expirationDateTime falls before now plus
    /// this, e.g. 90m, 72h, 3d
    #[arg(long, value_name = "DURATION", default_value = "72h", value_parser = parse_duration)]
    pub within: Duration,

    /// Output format [default: table on a terminal, ndjson otherwise]; the table shows the time
    /// left, the customer, the deal value and the id
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Read a local mirror written by `referrals sync` instead of the API, offline
    #[arg(long, value_name = "PATH", help_heading = "Offline")]
    pub db: Option<PathBuf>,

    /// Where the API is, and the credential.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `referrals report`.
#[derive(Args, Clone, Debug)]
pub struct ReportArgs {
    /// The mirror written by `referrals sync` [default: REFERRALS_DB, else the profile's
    /// `database`, else referrals.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// The HTML file to write (replaced whole; readable by its owner only, as it holds
    /// customers' names and deal values)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The horizon of the report's table of due referrals, e.g. 90m, 72h, 3d
    #[arg(long, value_name = "DURATION", default_value = "72h", value_parser = parse_duration)]
    pub within: Duration,
}

/// `referrals push`.
#[derive(Args, Clone, Debug)]
pub struct PushArgs {
    /// The mirror written by `referrals sync` or `referrals listen` [default: REFERRALS_DB,
    /// else the profile's `database`, else referrals.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// The named consumer whose offset the push moves (as `referrals changes --consumer`)
    #[arg(long, value_name = "NAME")]
    pub consumer: String,

    /// The endpoint: https, or http to a loopback host only; a query is kept and never printed
    #[arg(long, value_name = "URL")]
    pub url: String,

    /// Keep running: deliver new changes as `sync` or `listen` write them, until Ctrl-C or
    /// SIGTERM (which finish the change in flight)
    #[arg(long)]
    pub follow: bool,

    /// Sign each body: `X-Referrals-Signature: sha256=<hex HMAC-SHA256>`, the key read from
    /// this environment variable (never an argument)
    #[arg(long, value_name = "VAR")]
    pub secret_env: Option<String>,

    /// Retries of one change after its first attempt before the run stops (default 4)
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

/// `referrals login`.
#[derive(Args, Clone, Debug)]
pub struct LoginArgs {
    /// The tenant (id or domain) [default: AZURE_TENANT_ID, else `organizations`]
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// The application (client) id of your Entra app registration [default: AZURE_CLIENT_ID]
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// The embedded simulator, and the timeout.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `referrals logout`.
#[derive(Args, Clone, Debug)]
pub struct LogoutArgs {
    /// The tenant signed in to [default: AZURE_TENANT_ID, else any]
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,
    /// The application (client) id [default: AZURE_CLIENT_ID, else any]
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
}

/// `referrals auth …`.
#[derive(Subcommand, Clone, Debug)]
pub enum AuthCommand {
    /// Which credential would be used (source, tenant, client id, account, expiry; never a
    /// token), checked by getting a token: exit 0 when usable, 3 otherwise
    Status {
        /// The credential options of the commands that call the API.
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// How a life-cycle command works, shown at the end of its `--help`.
pub const LIFECYCLE_HELP: &str = "\
The referral is read, the move checked against the status table, then updated
with If-Match set to the eTag just read. A move the table forbids is refused
before any update is sent (exit 2), naming the current status and what is
allowed. If the referral changed meanwhile (HTTP 412), it is read once more and
the update retried when the move still applies. The updated referral is
printed: a table on a terminal, JSON otherwise.

Status table:
  New     may move to New, Active, Closed   (substatus Pending, Received)
  Active  may move to Active, Closed        (substatus Accepted)
  Closed  stays Closed                      (substatus Won, Lost, Declined, Expired)";

const COMPLETIONS_HELP: &str = "\
Install, for example:
  bash:        referrals completions bash > ~/.local/share/bash-completion/completions/referrals
  zsh:         referrals completions zsh > \"${fpath[1]}/_referrals\"
  fish:        referrals completions fish > ~/.config/fish/completions/referrals.fish
  powershell:  referrals completions powershell | Out-String | Invoke-Expression
  elvish:      referrals completions elvish >> ~/.config/elvish/rc.elv";

/// `referrals accept|won ID`.
#[derive(Args, Clone, Debug)]
pub struct LifecycleArgs {
    /// The referral's id
    pub id: String,
    /// Output format of the updated referral [default: table on a terminal, json otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Where the API is, and the credential.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `referrals decline|lost ID [--reason TEXT]`.
#[derive(Args, Clone, Debug)]
pub struct ReasonArgs {
    /// The referral's id and output format
    #[command(flatten)]
    pub target: LifecycleArgs,
    /// Why (sent as the referral's statusReason)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// `referrals deal …`.
#[derive(Subcommand, Clone, Debug)]
pub enum DealCommand {
    /// Register a won co-sell deal on a referral from a JSON file (contract, solutionDetails)
    #[command(after_help = DEAL_HELP)]
    Register {
        /// The referral's id
        id: String,
        /// The registration as JSON; `-` reads stdin
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
        /// Output format of the referral read back [default: table on a terminal, json otherwise]
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Where the API is, and the credential.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Update a referral's deal registration with a JSON Patch under /registrations/0/...
    #[command(after_help = DEAL_HELP)]
    Update {
        /// The referral's id
        id: String,
        /// A JSON Patch array, e.g.
        /// [{"op":"replace","path":"/registrations/0/contract/value","value":25000}]; `-` reads
        /// stdin
        #[arg(long, short, value_name = "FILE")]
        patch: PathBuf,
        /// Output format of the referral read back [default: table on a terminal, json otherwise]
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Where the API is, and the credential.
        #[command(flatten)]
        api: ApiArgs,
    },
}

const DEAL_HELP: &str = "\
A registration file:
  {\"type\": \"AzureIPCoSell\",
   \"contract\": {\"currency\": \"USD\", \"value\": 120000, \"term\": \"Finite\",
                \"startDateTime\": \"2025-01-01T00:00:00Z\", \"endDateTime\": \"2027-12-31T00:00:00Z\"},
   \"solutionDetails\": [{\"id\": \"<solution id>\", \"currency\": \"USD\", \"value\": 120000,
                        \"isDeployedOnAzure\": true, \"primaryDeploymentOn\": \"Customer\",
                        \"pricingModel\": \"PayAsYouGo\"}]}
Checked before sending: ISO 4217 currencies, term Perpetual or Finite (with an
end date), values that are numbers and not negative; an error names the field's
JSON path (exit 2). The referral is read back and printed after the update.";

/// `referrals config …`.
#[derive(Subcommand, Clone, Debug)]
pub enum ConfigCommand {
    /// Print the effective settings and where each comes from (flag, environment, profile,
    /// default); secrets are never printed
    #[command(after_help = CONFIG_HELP)]
    Show,
}

/// The config file, shown at the end of `referrals config show --help`.
pub const CONFIG_HELP: &str = "\
The config file is $REFERRALS_CONFIG, else $XDG_CONFIG_HOME/referrals/config.toml
(~/.config/referrals/config.toml; on macOS ~/Library/Application Support,
on Windows %APPDATA%). It is optional. Example:

  default_profile = \"prod\"

  [profiles.prod]
  base_url = \"https://api.partner.microsoft.com\"
  tenant = \"contoso.onmicrosoft.com\"
  client_id = \"00000000-0000-0000-0000-000000000000\"
  auth = \"login\"          # token, refresh-token, login, client-credentials, azure-cli
  database = \"/var/lib/referrals/mirror.db\"
  format = \"table\"        # table, json, ndjson, csv

Precedence: a flag, then the environment, then the profile, then the default.
Secrets (tokens, client secrets) are not read from the file.";

/// `referrals sync`.
#[derive(Args, Clone, Debug)]
pub struct SyncArgs {
    /// The mirror: a SQLite file (created if missing; tables documented in docs/sync.md)
    /// [default: REFERRALS_DB, else the profile's `database`, else referrals.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// List every referral (and mark those no longer listed removed), even if an incremental
    /// listing would do
    #[arg(long)]
    pub full: bool,

    /// How far before the newest `updatedDateTime` already synced an incremental listing
    /// reaches, e.g. 90s, 5m, 1h
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub overlap: Duration,

    /// A full listing when the last one is older than this, e.g. 12h, 7d
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    pub full_every: Duration,

    /// Referrals per page, 1 to 100 [default: 100]. Given, a full listing is sequential in the
    /// 2018 form (pageSize=N), as with `list --all --page-size`
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,

    /// At most this many page requests at once in a full listing, 1 to 64 [default: 16]: it
    /// is split into createdDateTime ranges listed at once, starting at 4 requests and growing
    /// while the service answers fast; 1 is the sequential listing in the 2018 form
    #[arg(long, value_name = "N", conflicts_with = "page_size",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: Option<u32>,

    /// Also write the changes this run records to stdout
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub changes: Option<ChangesFormat>,

    /// How long to wait for another `referrals sync` on the same file before giving up
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub wait: Duration,

    /// Where the API is, and the credential.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The formats of `--changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangesFormat {
    /// One JSON object per change, as `referrals changes` prints them
    Ndjson,
}

/// `referrals changes`.
#[derive(Args, Clone, Debug)]
pub struct ChangesArgs {
    /// The mirror written by `referrals sync` [default: REFERRALS_DB, else the profile's
    /// `database`, else referrals.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Only changes after this sequence number (default: from the start, or the consumer's
    /// offset)
    #[arg(long, value_name = "SEQ", conflicts_with = "consumer")]
    pub since: Option<i64>,

    /// A named consumer: print the changes after its acknowledged offset (the offset does not
    /// move until --ack)
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,

    /// Acknowledge that the consumer has processed every change up to SEQ (prints nothing)
    #[arg(long, value_name = "SEQ", requires = "consumer")]
    pub ack: Option<i64>,

    /// At most this many changes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

/// `referrals listen`.
#[derive(Args, Clone, Debug)]
pub struct ListenArgs {
    /// The mirror database the events are kept in and applied to [default: REFERRALS_DB, else
    /// the profile's `database`, else referrals.db]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// The address to listen on, e.g. 0.0.0.0:8443 (required unless --demo)
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::SocketAddr>,
    /// The path events are POSTed to
    #[arg(long, default_value = referrals_webhooks::DEFAULT_PATH, value_name = "PATH")]
    pub path: String,
    /// Allowed certificate URL prefix (repeat for more; replaces the default
    /// https://3psostorageacct.blob.core.windows.net/cert/); http:// only for loopback hosts
    #[arg(long = "cert-url-prefix", value_name = "URL")]
    pub cert_url_prefixes: Vec<String>,
    /// A PEM file of trust anchors added to the platform and webpki roots (repeat for more)
    #[arg(long = "trust-anchor", value_name = "PEM")]
    pub trust_anchors: Vec<PathBuf>,
    /// Trust only the --trust-anchor files, not the platform and webpki roots
    #[arg(long, requires = "trust_anchors")]
    pub only_trust_anchors: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Where the API is, and the credential.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `referrals webhooks`.
#[derive(Args, Clone, Debug)]
pub struct WebhooksArgs {
    /// The registration host (not the Referrals API host)
    #[arg(long, env = env::WEBHOOKS_URL, default_value = referrals::registration::DEFAULT_BASE_URL,
          value_name = "URL")]
    pub webhooks_url: String,
    /// A bearer token for the registration host, whose audience is
    /// https://api.partnercenter.microsoft.com (prefer the variable)
    #[arg(long, env = env::WEBHOOKS_TOKEN, value_name = "TOKEN",
          hide_env_values = true, value_parser = parse_secret)]
    pub webhooks_token: Option<Secret>,
    /// Where the Referrals API is, and the credential a registration token is asked for with.
    #[command(flatten)]
    pub api: ApiArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: WebhooksCommand,
}

/// The registration commands.
#[derive(Subcommand, Clone, Debug)]
pub enum WebhooksCommand {
    /// Register the URL events are POSTed to (replaces an existing registration)
    Register {
        /// The receiver's URL, e.g. https://crm.example.com/webhooks/partner-center
        #[arg(long, value_name = "URL")]
        url: String,
        /// Events to register [default: the four referral events]; repeat or separate with commas
        #[arg(long, value_delimiter = ',', value_name = "EVENT")]
        events: Vec<String>,
    },
    /// Show the registration
    Show,
    /// List the events that can be registered
    Events,
    /// Ask Partner Center to send a validation (`test-created`) event
    Test {
        /// Then wait for its outcome and print it
        #[arg(long)]
        wait: bool,
        /// How long --wait waits, in seconds
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        wait_timeout: u64,
    },
}

/// `referrals list`.
#[derive(Args, Clone, Debug)]
pub struct ListArgs {
    /// The query in the 2018 form.
    #[command(flatten)]
    pub classic: ClassicQuery,

    /// The query in the OData form.
    #[command(flatten)]
    pub odata: ODataQuery,

    /// How many pages.
    #[command(flatten)]
    pub paging: PagingArgs,

    /// How the referrals are written.
    #[command(flatten)]
    pub output: OutputArgs,

    /// List a local mirror written by `referrals sync` instead, offline (with --status,
    /// --select, --format, --no-header)
    #[arg(long, value_name = "PATH", help_heading = "Offline")]
    pub db: Option<PathBuf>,

    /// With --db: the referrals `sync` received but could not decode (its quarantine), as
    /// NDJSON: id, page, index, error, first and last seen, and the referral as received
    #[arg(long, requires = "db", help_heading = "Offline")]
    pub quarantined: bool,

    /// Where the API is, and the credential.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// The query of `referrals list` in the 2018 form (not with the OData form).
#[derive(Args, Clone, Debug, Default)]
#[group(id = "classic", multiple = true, conflicts_with = "odata")]
#[command(next_help_heading = "Query (2018 form)")]
pub struct ClassicQuery {
    /// Only referrals with this status (New, Active, Closed...)
    #[arg(long)]
    pub status: Option<String>,

    /// Only your own organisation's referrals
    #[arg(long = "self")]
    pub self_only: bool,

    /// Only referrals of this engagement
    #[arg(long, value_name = "ID")]
    pub engagement_id: Option<String>,

    /// Only referrals associated with this inviting organisation
    #[arg(long, value_name = "ORG_ID")]
    pub invited_by: Option<String>,

    /// Referrals per page, 1 to 100
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
}

/// The query of `referrals list` in the OData form.
#[derive(Args, Clone, Debug, Default)]
#[group(id = "odata", multiple = true)]
#[command(next_help_heading = "Query (OData form)")]
pub struct ODataQuery {
    /// An OData filter, e.g. "status eq 'Active' and customerProfile/address/country eq 'US'"
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Sort order: createdDateTime or updatedDateTime, then asc or desc
    #[arg(long, value_name = "FIELD [asc|desc]")]
    pub orderby: Option<String>,

    /// `$top`: at most N referrals in all (pages are followed until then, whatever the
    /// server's next link says); not a page size, see --max-page-size
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub top: Option<u64>,

    /// Referrals per page of the OData form, 1 to 100 (`Prefer: odata.maxpagesize=N`; the
    /// server may send fewer) [default: the server's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_page_size: Option<u32>,

    /// `$select`: only these fields (JSON names, comma-separated), e.g. id,status,name; table
    /// and csv show the columns the selection has
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub select: Vec<String>,

    /// `$skip`: skip this many referrals first
    #[arg(long, value_name = "N")]
    pub skip: Option<u64>,

    /// `$count=true`: print the server's total count of matching referrals on stderr
    #[arg(long)]
    pub count: bool,
}

/// How many pages `referrals list` follows, or where it resumes.
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Paging")]
pub struct PagingArgs {
    /// Follow every page (without it, only the first page is listed): in createdDateTime
    /// ranges at once (see --concurrency), or with --page-size, --self, --engagement-id or
    /// --invited-by 100 referrals per page (`pageSize=100`) unless --page-size is given
    #[arg(long, conflicts_with = "max_items")]
    pub all: bool,

    /// Follow pages until this many referrals are listed
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_items: Option<u64>,

    /// Continue a listing from the checkpoint an earlier run printed (the query is in it)
    #[arg(long, value_name = "CHECKPOINT", conflicts_with_all = ["classic", "odata"])]
    pub resume: Option<String>,

    /// At most this many page requests at once, 1 to 64 [default: 16]. With --all and no
    /// option of the 2018 form only (--page-size, --self, --engagement-id, --invited-by), the
    /// listing speaks the OData form and is split into createdDateTime ranges listed at once,
    /// starting at 4 requests and growing while the service answers fast; 1 is the sequential
    /// listing in the 2018 form (pageSize=100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: Option<u32>,
}

/// How `referrals list` writes the referrals.
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format [default: table on a terminal, ndjson otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// No header row (csv and table), e.g. when appending a resumed listing
    #[arg(long)]
    pub no_header: bool,
}

/// `referrals simulate`.
#[derive(Args, Clone, Debug)]
pub struct SimulateArgs {
    /// The port to listen on, on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// How many synthetic referrals to serve
    #[arg(long, default_value_t = 250)]
    pub referrals: usize,
    /// Seed of the synthetic referrals
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Accept app-only (client credentials) tokens, which the real Referrals API refuses
    #[arg(long)]
    pub allow_app_only: bool,
    /// Make this many random changes (creations, updates, removals) every second
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0)]
    pub churn: u32,
    /// The bearer token the simulator accepts [default: its own, printed when it starts]
    #[arg(long, value_name = "TOKEN", value_parser = parse_secret)]
    pub accept_token: Option<Secret>,
    /// Delay every API answer by this long, e.g. 200ms or 0.5s: the round trip to a distant
    /// service, which a sequential listing pays once per page
    #[arg(long, value_name = "DURATION", value_parser = parse_latency, default_value = "0ms")]
    pub latency: Duration,
    /// Answer 429 (with Retry-After: 1) to API requests beyond this many in flight at once
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
}

/// What `create --from` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON object per line
    Ndjson,
    /// A header row of JSON paths, then one referral per row
    Csv,
}

/// How a listing is written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Aligned columns of the useful fields
    Table,
    /// One JSON array
    Json,
    /// One JSON object per line, each referral exactly as received (unknown fields included)
    Ndjson,
    /// Comma-separated values with a header row and stable columns; a text cell starting with
    /// =, +, -, @, tab or CR gets a leading ' so that a spreadsheet shows it and never runs it
    /// (a deal value that is a number stays a number)
    Csv,
}

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }
}

fn parse_secret(value: &str) -> Result<Secret, String> {
    if value.trim().is_empty() {
        return Err("the token is empty".into());
    }
    Ok(Secret::new(value))
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    let seconds: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number of seconds"))?;
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!(
            "must be more than 0 and at most 86400 seconds, got {value}"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `200ms`, `0.5s`, `2s` (at most a minute).
fn parse_latency(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        return Err(format!("`{text}`: give a unit, e.g. 200ms or 0.5s"));
    };
    let seconds = number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && (0.0..=60.0).contains(s))
        .ok_or_else(|| format!("`{text}` is not a latency from 0 to 60s, like 200ms"))?;
    Ok(Duration::from_secs_f64(seconds))
}

/// `90`, `90s`, `5m`, `2h`, `7d` (a number alone is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 5m, 2h or 7d"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    value
        .checked_mul(unit)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts_must_be_positive_seconds() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-3").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("soon").unwrap_err().contains("soon"));
    }

    #[test]
    fn the_due_horizon_defaults_to_the_library_s() {
        let (cli, _) = Cli::try_parse_with_matches(["referrals", "due", "--demo"]).unwrap();
        let Command::Due(args) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.within, referrals_report::DEFAULT_WITHIN);
        let (cli, _) =
            Cli::try_parse_with_matches(["referrals", "report", "--out", "r.html"]).unwrap();
        let Command::Report(args) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.within, referrals_report::DEFAULT_WITHIN);
    }

    #[test]
    fn latencies_take_milliseconds_or_seconds() {
        assert_eq!(parse_latency("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_latency("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_latency("0ms"), Ok(Duration::ZERO));
        assert!(parse_latency("200").unwrap_err().contains("unit"));
        assert!(parse_latency("-1s").is_err());
        assert!(parse_latency("2m").is_err());
        assert!(parse_latency("61s").is_err());
    }

    #[test]
    fn durations_take_a_unit_and_mistakes_are_named() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("5 weeks").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
