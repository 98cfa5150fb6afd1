// Package config is Yard's typed server configuration: every knob with its documented default,
// read from flags with YARD_* environment variables as fallbacks, and checked by Validate before
// anything starts. Nothing else in the server reads flags or the environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Config is everything `yard serve` can be told. The zero value is not useful; start from Default.
type Config struct {
	// Listen is the HTTP listen address. Default 127.0.0.1:8080. Port 0 picks a free port.
	Listen string
	// Replica names this process wherever replicas tell each other apart: the replica
	// directory (presence, connections, shell sessions), awareness relays, the audit trail. It
	// must differ between replicas. Empty (the default): the host name plus a random suffix.
	Replica string
	// RedisURL selects the Redis backend (redis://host:port/db). Empty: the single-node in-memory
	// backend.
	RedisURL string
	// RedisCluster reads RedisURL as a Redis Cluster in go-redis's cluster URL form
	// (redis://h1:p1?addr=h2:p2&addr=h3:p3): any of the nodes, the client discovers the rest.
	// Default false.
	RedisCluster bool
	// Kubeconfig is the kubeconfig file. Empty: $KUBECONFIG, ~/.kube/config, or in-cluster config.
	Kubeconfig string
	// Contexts are the kubeconfig contexts to serve, one cluster each. Empty: the current context.
	Contexts []string

	// JWTSecret verifies (and, with dev auth, signs) HS256 tokens. Prefer the YARD_JWT_SECRET
	// environment variable to the flag: flags are visible in the process list.
	JWTSecret string
	// JWKSURL verifies RS256 tokens of an OIDC provider with keys from this JWKS document.
	JWKSURL string
	// DevAuth enables POST /api/auth/dev-login: anyone reaching the server may sign in as anyone.
	DevAuth bool
	// InsecureDevAuthAnywhere allows DevAuth on a non-loopback listen address.
	InsecureDevAuthAnywhere bool
	// TokenTTL is the lifetime of tokens issued by dev login and refresh. Default 12h.
	TokenTTL time.Duration
	// AdminGroup makes its members admins. Default "yard-admins".
	AdminGroup string

	// AllowedOrigins lists the browser origins (scheme://host[:port]) allowed to open WebSockets.
	// The server's own origin is always allowed.
	AllowedOrigins []string
	// WriteEnabled allows cluster writes (apply, scale, restart, delete, deploys). Off by default.
	WriteEnabled bool
	// DeployApprovals is the approvals a deploy needs in rooms without a policy of their own
	// (0: the proposer may apply at once). Default 0.
	DeployApprovals int
	// DeployTimeout bounds a deploy's apply and rollout. Default 5m.
	DeployTimeout time.Duration

	// StaticDir is the built browser app served at /. Default "client/dist"; missing is fine.
	StaticDir string

	// LogFormat is "text" (default) or "json".
	LogFormat string
	// LogLevel is debug, info (default), warn or error.
	LogLevel string

	// Limits bound what one user and the whole server may hold open.
	Limits Limits

	// Clusters tunes how Yard talks to its clusters.
	Clusters Clusters

	// Rooms tunes the shared documents (sync).
	Rooms Rooms

	// Streams tunes log streams and shells.
	Streams Streams

	// Audit says where the trail of cluster writes and shells is kept.
	Audit Audit

	// ShutdownTimeout bounds graceful shutdown. Default 10s.
	ShutdownTimeout time.Duration

	// Door checks hosts and tokens and bounds HTTP connections (door.go).
	Door Door
}

// Limits are the server-wide and per-user ceilings. Refusals are coded errors (HTTP 429 on upgrade).
type Limits struct {
	// MaxConnsPerUser bounds a user's open WebSockets. Default 32.
	MaxConnsPerUser int
	// MaxConns bounds all open WebSockets. Default 20000.
	MaxConns int
	// MaxFrameBytes bounds one multiplexer frame. Default 1 MiB.
	MaxFrameBytes int
	// MaxChannelsPerConn bounds the channels open on one multiplexed connection. Default 64.
	MaxChannelsPerConn int
	// MaxConnInboundBytes bounds the client data one multiplexed connection holds for its
	// channels' kinds to read; the channel whose frame would exceed it is closed with limit.
	// Default 8 MiB.
	MaxConnInboundBytes int
}

// Clusters tunes cluster health monitoring, permission caching and shared watches.
type Clusters struct {
	// HealthInterval is how often the background monitor asks each apiserver for /readyz.
	// Default 30s.
	HealthInterval time.Duration
	// AccessTTL is how long a permission answer (SubjectAccessReview) is trusted; a revoked
	// RoleBinding stops a user's live streams within this time. Default 10s.
	AccessTTL time.Duration
	// WatchGrace keeps a shared upstream watch open this long after its last subscriber left, so
	// a page reload does not cost a re-list. Default 30s.
	WatchGrace time.Duration
	// WatchHistory is how many events each shared upstream watch keeps for clients resuming with
	// a resourceVersion; older resume points get a fresh snapshot. Default 4096.
	WatchHistory int
	// WatchHistoryBytes bounds the same history by the size of its objects, whichever limit is
	// reached first: memory per upstream stays the same whatever the objects weigh. Default 8 MiB.
	WatchHistoryBytes int
}

// Rooms tunes the shared documents.
type Rooms struct {
	// ReadOnly lists who may read rooms but not change them: "user", "group:name", or either
	// prefixed with "room/" for one room only. Default none.
	ReadOnly []string
	// Grace keeps a room's document loaded this long after its last client left. Default 30s.
	Grace time.Duration
	// CompactEvery folds a room's update log into a snapshot after this many updates. Default 500.
	CompactEvery int
	// MaxMessageBytes bounds one sync message from a client. Default 1 MiB.
	MaxMessageBytes int
	// MessageRate bounds the sync messages per second read from one connection, across all its
	// sync channels (bursts of twice as many); a faster client is read more slowly. Default 200.
	MessageRate int
	// MaxDocBytes is a room document's size quota: an update that would take the encoded
	// document past it is refused. Default 64 MiB.
	MaxDocBytes int
	// UserWriteBytesPerSec is each user's budget of document update bytes per second, across the
	// user's connections on this replica (bursts of one second's worth); a user writing faster is
	// read more slowly. Default 1 MiB.
	UserWriteBytesPerSec int
	// SendEvery spaces a room's broadcasts of document updates: an update after a quiet spell
	// leaves at once, updates within SendEvery of the last broadcast leave merged with the next
	// one. 0 sends each as soon as it is stored. Default 15ms.
	SendEvery time.Duration
}

// Streams tunes log streams and shell sessions.
type Streams struct {
	// LogBufferLines and LogBufferBytes bound the lines one log stream holds for a slow client;
	// beyond them the oldest lines are dropped and the client is told how many. Defaults 10000
	// lines and 4 MiB.
	LogBufferLines int
	LogBufferBytes int
	// ShellIdleTimeout ends a shell session with no input and no output for this long. Default 30m.
	ShellIdleTimeout time.Duration
	// ShellGrace keeps a shell session running this long after its last participant left, so a
	// reconnect reattaches. Default 2m.
	ShellGrace time.Duration
	// MaxShellsPerUser bounds the shell sessions one user owns across replicas. Default 5.
	MaxShellsPerUser int
	// ShellScrollbackBytes is the recent output a joiner sees first. Default 64 KiB.
	ShellScrollbackBytes int
	// RecordingsDir receives one asciicast v2 recording per shell session (output and resizes,
	// never input). Default ".yard/recordings"; "off" disables recording.
	RecordingsDir string
}

// Audit is where the audit trail lives: in Redis (a stream) when RedisURL is set, else in File.
type Audit struct {
	// File is the append-only JSON lines file of the trail without Redis (directory 0700, file
	// 0600, never trimmed by Yard: rotate it by renaming). Default ".yard/audit.jsonl".
	File string
	// Retention is how long the Redis trail keeps entries. Default 720h (30 days).
	Retention time.Duration
}

// Default returns the documented defaults.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		TokenTTL:        12 * time.Hour,
		AdminGroup:      "yard-admins",
		StaticDir:       "client/dist",
		LogFormat:       "text",
		LogLevel:        "info",
		ShutdownTimeout: 10 * time.Second,
		DeployTimeout:   5 * time.Minute,
		Door:            defaultDoor(),
		Limits: Limits{
			MaxConnsPerUser:     32,
			MaxConns:            20000,
			MaxFrameBytes:       1 << 20,
			MaxChannelsPerConn:  64,
			MaxConnInboundBytes: 8 << 20,
		},
		Clusters: Clusters{
			HealthInterval:    30 * time.Second,
			AccessTTL:         10 * time.Second,
			WatchGrace:        30 * time.Second,
			WatchHistory:      4096,
			WatchHistoryBytes: 8 << 20,
		},
		Streams: Streams{
			LogBufferLines:       10000,
			LogBufferBytes:       4 << 20,
			ShellIdleTimeout:     30 * time.Minute,
			ShellGrace:           2 * time.Minute,
			MaxShellsPerUser:     5,
			ShellScrollbackBytes: 64 << 10,
			RecordingsDir:        ".yard/recordings",
		},
		Audit: Audit{
			File:      ".yard/audit.jsonl",
			Retention: 30 * 24 * time.Hour,
		},
		Rooms: Rooms{
			Grace:                30 * time.Second,
			CompactEvery:         500,
			MaxMessageBytes:      1 << 20,
			MessageRate:          200,
			SendEvery:            15 * time.Millisecond,
			MaxDocBytes:          64 << 20,
			UserWriteBytesPerSec: 1 << 20,
		},
	}
}

// Validate reports every problem at once, each naming the flag to fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("--listen %q: want host:port (%v)", c.Listen, err)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		bad("--listen %q: bad port", c.Listen)
	}
	if c.DevAuth && err == nil && !isLoopback(host) && !c.InsecureDevAuthAnywhere {
		bad("--dev-auth lets anyone sign in as anyone; it is refused on the non-loopback address %q "+
			"(listen on 127.0.0.1, or add --insecure-dev-auth-anywhere if you really mean it)", c.Listen)
	}
	if c.JWTSecret == "" && c.JWKSURL == "" && !c.DevAuth {
		bad("no way to sign in: set --jwt-secret (or YARD_JWT_SECRET), --jwks-url, or --dev-auth")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 16 {
		bad("--jwt-secret must be at least 16 bytes")
	}
	if c.JWKSURL != "" {
		if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("--jwks-url %q: want an http(s) URL", c.JWKSURL)
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			bad("--redis-url %q: want redis://host:port[/db], rediss://... or unix://path", c.RedisURL)
		}
		if c.RedisCluster && strings.HasPrefix(c.RedisURL, "unix:") {
			bad("--redis-cluster: a cluster is reached over TCP, want redis://host:port?addr=host:port...")
		}
	}
	if c.RedisCluster && c.RedisURL == "" {
		bad("--redis-cluster needs --redis-url")
	}
	for _, o := range c.AllowedOrigins {
		if _, err := NormalizeOrigin(o); err != nil {
			bad("--allowed-origins: %v", err)
		}
	}
	if c.TokenTTL < time.Minute {
		bad("--token-ttl %s: at least 1m", c.TokenTTL)
	}
	if c.AdminGroup == "" {
		bad("--admin-group must not be empty")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("--log-format %q: want text or json", c.LogFormat)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	l := c.Limits
	for name, v := range map[string]int{
		"--max-conns-per-user": l.MaxConnsPerUser, "--max-conns": l.MaxConns,
		"--max-frame-bytes": l.MaxFrameBytes, "--max-channels-per-conn": l.MaxChannelsPerConn,
	} {
		if v <= 0 {
			bad("%s must be positive (got %d)", name, v)
		}
	}
	if l.MaxFrameBytes > 0 && l.MaxFrameBytes < 4096 {
		bad("--max-frame-bytes %d: at least 4096", l.MaxFrameBytes)
	}
	if c.Clusters.HealthInterval < time.Second {
		bad("--cluster-health-interval %s: at least 1s", c.Clusters.HealthInterval)
	}
	if c.Clusters.AccessTTL < 0 || c.Clusters.AccessTTL > 10*time.Minute {
		bad("--access-ttl %s: between 0 (no caching) and 10m", c.Clusters.AccessTTL)
	}
	if c.Clusters.WatchGrace < 0 {
		bad("--watch-grace must not be negative")
	}
	if c.Clusters.WatchHistory < 1 {
		bad("--watch-history must be positive (got %d)", c.Clusters.WatchHistory)
	}
	if c.Clusters.WatchHistoryBytes < 64<<10 {
		bad("--watch-history-bytes must be at least 65536 (got %d)", c.Clusters.WatchHistoryBytes)
	}
	if c.ShutdownTimeout <= 0 {
		bad("--shutdown-timeout must be positive")
	}
	if c.DeployApprovals < 0 || c.DeployApprovals > 10 {
		bad("--deploy-approvals must be between 0 and 10 (got %d)", c.DeployApprovals)
	}
	if c.DeployTimeout <= 0 {
		bad("--deploy-timeout must be positive")
	}
	if c.Rooms.SendEvery < 0 || c.Rooms.SendEvery > time.Second {
		bad("--room-send-every must be between 0 and 1s")
	}
	if c.Rooms.Grace < 0 {
		bad("--room-grace must not be negative")
	}
	if c.Rooms.CompactEvery < 1 || c.Rooms.MaxMessageBytes < 1024 || c.Rooms.MessageRate < 1 {
		bad("--room-compact-every and --room-message-rate must be positive, --room-max-message-bytes at least 1024")
	}
	if c.Rooms.MaxDocBytes < c.Rooms.MaxMessageBytes {
		bad("--room-max-doc-bytes %d: at least --room-max-message-bytes (%d)", c.Rooms.MaxDocBytes, c.Rooms.MaxMessageBytes)
	}
	if c.Rooms.UserWriteBytesPerSec < 1024 {
		bad("--room-user-write-bytes-per-sec %d: at least 1024", c.Rooms.UserWriteBytesPerSec)
	}
	st := c.Streams
	if st.LogBufferLines < 16 || st.LogBufferBytes < 64<<10 {
		bad("--log-buffer-lines must be at least 16 and --log-buffer-bytes at least 65536")
	}
	if st.ShellIdleTimeout < time.Second || st.ShellGrace < 0 || st.MaxShellsPerUser < 1 {
		bad("--shell-idle-timeout must be at least 1s, --shell-grace not negative, --max-shells-per-user positive")
	}
	if st.ShellScrollbackBytes < 1024 || st.ShellScrollbackBytes > 16<<20 {
		bad("--shell-scrollback-bytes %d: from 1024 to 16 MiB", st.ShellScrollbackBytes)
	}
	if st.RecordingsDir == "" {
		bad(`--recordings-dir must not be empty (use "off" to disable recording)`)
	}
	if c.Audit.File == "" {
		bad("--audit-file must not be empty")
	}
	if c.Audit.Retention < time.Minute {
		bad("--audit-retention %s: at least 1m", c.Audit.Retention)
	}
	for _, r := range c.Rooms.ReadOnly {
		if strings.TrimSpace(r) == "" || strings.ContainsAny(r, " {}") {
			bad("--room-read-only %q: want user, group:name, room/user or room/group:name", r)
		}
	}
	c.validateDoor(bad)
	return errors.Join(errs...)
}

// NormalizeOrigin turns "HTTP://Example.com:443" into "http://example.com:443" form
// (lower-case scheme and host, no path), the form browsers send in the Origin header.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", fmt.Errorf("origin %q: want scheme://host[:port]", o)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
