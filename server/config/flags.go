package config

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// EnvPrefix prefixes the environment variable of every flag: --redis-url is YARD_REDIS_URL.
const EnvPrefix = "YARD_"

// EnvName is the environment variable that stands in for a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse reads `yard serve` flags, with YARD_* environment variables (through getenv) as the
// fallback for every flag not given. A flag given on the command line wins over the environment.
func Parse(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("yard serve", flag.ContinueOnError)
	fs.SetOutput(output)
	bind(fs, &cfg)
	fs.Usage = func() {
		fmt.Fprintf(output, "Usage: yard serve [flags]\n\nEvery flag can also be set with its %s* environment variable.\n\n", EnvPrefix)
		fs.VisitAll(func(f *flag.Flag) {
			def := f.DefValue
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(output, "  --%s (%s, default %s)\n      %s\n", f.Name, EnvName(f.Name), def, f.Usage)
		})
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				// The value may be a secret: name the variable, not what it holds.
				envErr = fmt.Errorf("%s: invalid value", EnvName(f.Name))
			}
		}
	})
	return cfg, envErr
}

// Flags lists every flag with its environment variable, default and meaning, sorted by name; the
// README's configuration table is generated from it (`yard serve --help` prints the same).
func Flags() [][4]string {
	cfg := Default()
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	bind(fs, &cfg)
	var rows [][4]string
	fs.VisitAll(func(f *flag.Flag) { rows = append(rows, [4]string{f.Name, EnvName(f.Name), f.DefValue, f.Usage}) })
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	return rows
}

func bind(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP listen address (host:port; port 0 picks a free port)")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "Redis URL for rooms, presence and shared terminals across replicas; empty = single-node in-memory backend")
	fs.BoolVar(&c.RedisCluster, "redis-cluster", c.RedisCluster, "--redis-url names a Redis Cluster (redis://h1:p1?addr=h2:p2&addr=h3:p3)")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "kubeconfig file; empty = $KUBECONFIG, ~/.kube/config or in-cluster config")
	fs.Var((*listFlag)(&c.Contexts), "context", "kubeconfig context to serve as a cluster (repeatable or comma-separated); empty = current context")
	fs.StringVar(&c.JWTSecret, "jwt-secret", c.JWTSecret, "HS256 secret for bearer tokens (prefer the environment variable: flags show in ps)")
	fs.StringVar(&c.JWKSURL, "jwks-url", c.JWKSURL, "JWKS URL of an OIDC provider for RS256 tokens")
	fs.BoolVar(&c.DevAuth, "dev-auth", c.DevAuth, "enable POST /api/auth/dev-login (sign in as anyone; loopback only)")
	fs.BoolVar(&c.InsecureDevAuthAnywhere, "insecure-dev-auth-anywhere", c.InsecureDevAuthAnywhere, "allow --dev-auth on a non-loopback listen address")
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of tokens issued by dev login and refresh")
	fs.StringVar(&c.AdminGroup, "admin-group", c.AdminGroup, "members of this group are admins")
	fs.Var((*listFlag)(&c.AllowedOrigins), "allowed-origins", "browser origins allowed to open WebSockets besides the server's own (comma-separated)")
	fs.BoolVar(&c.WriteEnabled, "write-enabled", c.WriteEnabled, "allow cluster writes (apply, scale, restart, delete, deploys); off by default")
	fs.IntVar(&c.DeployApprovals, "deploy-approvals", c.DeployApprovals, "approvals a deploy needs in rooms without their own policy (0: the proposer may apply)")
	fs.DurationVar(&c.DeployTimeout, "deploy-timeout", c.DeployTimeout, "how long a deploy's apply and rollout may take before it fails")
	fs.StringVar(&c.StaticDir, "static-dir", c.StaticDir, "directory of the built browser app served at /")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.IntVar(&c.Limits.MaxConnsPerUser, "max-conns-per-user", c.Limits.MaxConnsPerUser, "open WebSockets per user (more: HTTP 429)")
	fs.IntVar(&c.Limits.MaxConns, "max-conns", c.Limits.MaxConns, "open WebSockets in all (more: HTTP 429)")
	fs.IntVar(&c.Limits.MaxFrameBytes, "max-frame-bytes", c.Limits.MaxFrameBytes, "largest multiplexer frame accepted")
	fs.IntVar(&c.Limits.MaxChannelsPerConn, "max-channels-per-conn", c.Limits.MaxChannelsPerConn, "channels open at once on one connection")
	fs.DurationVar(&c.Clusters.HealthInterval, "cluster-health-interval", c.Clusters.HealthInterval, "how often each cluster's apiserver readiness is checked")
	fs.DurationVar(&c.Clusters.AccessTTL, "access-ttl", c.Clusters.AccessTTL, "how long a user's permission answers (SubjectAccessReviews) are cached")
	fs.DurationVar(&c.Clusters.WatchGrace, "watch-grace", c.Clusters.WatchGrace, "how long a shared upstream watch outlives its last subscriber")
	fs.IntVar(&c.Clusters.WatchHistory, "watch-history", c.Clusters.WatchHistory, "events kept per shared upstream watch for resuming clients")
	fs.IntVar(&c.Clusters.WatchHistoryBytes, "watch-history-bytes", c.Clusters.WatchHistoryBytes, "bytes of objects kept in each shared upstream watch's history (the smaller of the two limits wins)")
	fs.StringVar(&c.Replica, "replica-id", c.Replica, "name of this replica in presence and Redis (must differ between replicas); empty = host name + random suffix")
	fs.Var((*listFlag)(&c.Rooms.ReadOnly), "room-read-only", "who may read rooms but not change them: user, group:name, room/user or room/group:name (comma-separated)")
	fs.DurationVar(&c.Rooms.Grace, "room-grace", c.Rooms.Grace, "how long a room stays loaded after its last client left")
	fs.IntVar(&c.Rooms.CompactEvery, "room-compact-every", c.Rooms.CompactEvery, "updates after which a room's log is folded into a snapshot")
	fs.IntVar(&c.Rooms.MaxMessageBytes, "room-max-message-bytes", c.Rooms.MaxMessageBytes, "largest sync message accepted from a client")
	fs.IntVar(&c.Rooms.MessageRate, "room-message-rate", c.Rooms.MessageRate, "sync messages per second read from one connection")
	fs.IntVar(&c.Rooms.MaxDocBytes, "room-max-doc-bytes", c.Rooms.MaxDocBytes, "a room document's size quota: updates that would take it past this are refused")
	fs.IntVar(&c.Rooms.UserWriteBytesPerSec, "room-user-write-bytes-per-sec", c.Rooms.UserWriteBytesPerSec, "document update bytes per second read from one user across its connections on this replica")
	fs.DurationVar(&c.Rooms.SendEvery, "room-send-every", c.Rooms.SendEvery, "least time between a room's broadcasts of updates: updates arriving sooner leave merged with the next (0 = each at once)")
	fs.IntVar(&c.Streams.LogBufferLines, "log-buffer-lines", c.Streams.LogBufferLines, "log lines held per stream for a slow client before the oldest are dropped")
	fs.IntVar(&c.Streams.LogBufferBytes, "log-buffer-bytes", c.Streams.LogBufferBytes, "bytes of log lines held per stream for a slow client")
	fs.DurationVar(&c.Streams.ShellIdleTimeout, "shell-idle-timeout", c.Streams.ShellIdleTimeout, "end a shell session with no input and no output for this long")
	fs.DurationVar(&c.Streams.ShellGrace, "shell-grace", c.Streams.ShellGrace, "keep a shell session running this long after its last participant left (reconnects reattach)")
	fs.IntVar(&c.Streams.MaxShellsPerUser, "max-shells-per-user", c.Streams.MaxShellsPerUser, "shell sessions one user may own across replicas")
	fs.IntVar(&c.Streams.ShellScrollbackBytes, "shell-scrollback-bytes", c.Streams.ShellScrollbackBytes, "recent shell output replayed to a joiner")
	fs.StringVar(&c.Streams.RecordingsDir, "recordings-dir", c.Streams.RecordingsDir, `directory of shell session recordings (asciicast v2, output only); "off" disables recording`)
	fs.StringVar(&c.Audit.File, "audit-file", c.Audit.File, "append-only JSON lines file of the audit trail when there is no Redis (never trimmed: rotate by renaming)")
	fs.DurationVar(&c.Audit.Retention, "audit-retention", c.Audit.Retention, "how long the audit trail in Redis keeps entries")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long graceful shutdown may take")
	bindDoor(fs, c)
}

// listFlag is a string list that accepts repetition and commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
