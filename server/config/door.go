package config

import (
	"flag"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Door is the front door: which host names the server answers to, what a token must say, and
// how long and how many HTTP connections may hold the server before any handler runs.
type Door struct {
	// AllowedHosts are the host names (or name:port) browsers use to reach this server, e.g. the
	// public name behind a proxy. A request whose Host is not an IP address, not localhost, not
	// the --listen host, not a host of --allowed-origins and not listed here is refused with 421,
	// so a DNS name an attacker points at the server (DNS rebinding) reaches nothing. Default none.
	AllowedHosts []string
	// MetricsListen serves /metrics on its own listener (host:port) without authentication.
	// Empty (the default): /metrics is on the main listener for admins only (bearer token).
	MetricsListen string
	// Pprof adds Go's runtime profiles (/debug/pprof/) to the --metrics-listen listener, which
	// it requires: never on the main listener. Default off.
	Pprof bool

	// JWTAudience and JWTIssuer, when set, must match every token's aud and iss; both are
	// required with --jwks-url, since a provider signs tokens for many applications.
	JWTAudience string
	JWTIssuer   string
	// JWTUserClaim names the claim whose value is the Kubernetes user name Yard impersonates: a
	// stable identifier, never a display name that users may change. Default "sub".
	JWTUserClaim string
	// SessionMax bounds a session from its sign-in: refresh never issues a token that outlives
	// it. Default 24h.
	SessionMax time.Duration

	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// ReadBodyTimeout bounds reading a request's body (WebSocket upgrades have none). Default 30s.
	ReadBodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for this long. Default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers. Default 64 KiB.
	MaxHeaderBytes int
	// MaxHTTPConns bounds the TCP connections the main listener holds at once (WebSockets
	// included); further clients wait in the kernel's backlog. 0 (the default): --max-conns
	// plus 1024 for plain requests.
	MaxHTTPConns int
}

func defaultDoor() Door {
	return Door{
		JWTUserClaim:      "sub",
		SessionMax:        24 * time.Hour,
		ReadHeaderTimeout: 10 * time.Second,
		ReadBodyTimeout:   30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// HTTPConns is the effective listener limit.
func (c Config) HTTPConns() int {
	if c.Door.MaxHTTPConns > 0 {
		return c.Door.MaxHTTPConns
	}
	return c.Limits.MaxConns + 1024
}

// ListenHosts returns the host names the server answers to besides IP addresses and localhost:
// the --listen host when it is a name, the hosts of --allowed-origins, and --allowed-hosts.
func (c Config) ListenHosts() []string {
	var hosts []string
	if h, _, err := net.SplitHostPort(c.Listen); err == nil && h != "" && net.ParseIP(h) == nil {
		hosts = append(hosts, strings.ToLower(h))
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(strings.TrimSpace(o)); err == nil && u.Host != "" {
			hosts = append(hosts, strings.ToLower(u.Host))
		}
	}
	for _, h := range c.Door.AllowedHosts {
		hosts = append(hosts, strings.ToLower(strings.TrimSpace(h)))
	}
	return hosts
}

func (c Config) validateDoor(bad func(string, ...any)) {
	d := c.Door
	for _, h := range d.AllowedHosts {
		if !validHost(h) {
			bad("--allowed-hosts %q: want a host name or name:port (no scheme, no path)", h)
		}
	}
	if d.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(d.MetricsListen); err != nil || port == "" {
			bad("--metrics-listen %q: want host:port", d.MetricsListen)
		} else if d.MetricsListen == c.Listen && port != "0" {
			bad("--metrics-listen must differ from --listen")
		}
	}
	if d.Pprof && d.MetricsListen == "" {
		bad("--pprof needs --metrics-listen: profiles are served there only")
	}
	if c.JWKSURL != "" && (d.JWTAudience == "" || d.JWTIssuer == "") {
		bad("--jwks-url needs --jwt-audience and --jwt-issuer: a provider's keys sign tokens for " +
			"other applications too, and only aud and iss tell Yard's apart")
	}
	if d.JWTUserClaim == "" || strings.ContainsAny(d.JWTUserClaim, " \t") {
		bad("--jwt-user-claim %q: want a claim name such as sub or email", d.JWTUserClaim)
	}
	if d.SessionMax < c.TokenTTL {
		bad("--session-max %s: at least --token-ttl (%s)", d.SessionMax, c.TokenTTL)
	}
	if d.ReadHeaderTimeout < 100*time.Millisecond || d.ReadBodyTimeout < 100*time.Millisecond ||
		d.IdleTimeout < time.Second {
		bad("--read-header-timeout and --read-body-timeout must be at least 100ms, --http-idle-timeout at least 1s")
	}
	if d.MaxHeaderBytes < 4096 || d.MaxHeaderBytes > 1<<20 {
		bad("--max-header-bytes %d: from 4096 to 1 MiB", d.MaxHeaderBytes)
	}
	if d.MaxHTTPConns < 0 {
		bad("--max-http-conns must not be negative (0 = --max-conns + 1024)")
	}
	if l := c.Limits; l.MaxConnInboundBytes < l.MaxFrameBytes {
		bad("--max-conn-inbound-bytes %d: at least --max-frame-bytes (%d)", l.MaxConnInboundBytes, l.MaxFrameBytes)
	}
}

// validHost accepts "name" and "name:port" (an IPv6 address in brackets with a port).
func validHost(h string) bool {
	if h == "" || strings.ContainsAny(h, "/?#@ ") {
		return false
	}
	if host, port, err := net.SplitHostPort(h); err == nil {
		p, perr := strconv.Atoi(port)
		return host != "" && perr == nil && p > 0 && p < 65536
	}
	return !strings.Contains(h, ":")
}

func bindDoor(fs *flag.FlagSet, c *Config) {
	d := &c.Door
	fs.Var((*listFlag)(&d.AllowedHosts), "allowed-hosts", "host names (or name:port) browsers use to reach the server, e.g. behind a proxy; other names get 421 (comma-separated)")
	fs.StringVar(&d.MetricsListen, "metrics-listen", d.MetricsListen, "serve /metrics without authentication on this host:port only; empty = on the main listener for admins")
	fs.BoolVar(&d.Pprof, "pprof", d.Pprof, "serve Go's runtime profiles at /debug/pprof/ on --metrics-listen (which it needs)")
	fs.StringVar(&d.JWTAudience, "jwt-audience", d.JWTAudience, "audience (aud) every token must name; required with --jwks-url")
	fs.StringVar(&d.JWTIssuer, "jwt-issuer", d.JWTIssuer, "issuer (iss) every token must name; required with --jwks-url")
	fs.StringVar(&d.JWTUserClaim, "jwt-user-claim", d.JWTUserClaim, "token claim whose value is the Kubernetes user name to impersonate (a stable id, not a display name)")
	fs.DurationVar(&d.SessionMax, "session-max", d.SessionMax, "longest session from sign-in: refresh never issues a token past it")
	fs.DurationVar(&d.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "time to read a request's headers")
	fs.DurationVar(&d.ReadBodyTimeout, "read-body-timeout", d.ReadBodyTimeout, "time to read a request's body")
	fs.DurationVar(&d.IdleTimeout, "http-idle-timeout", d.IdleTimeout, "close a keep-alive connection idle for this long")
	fs.IntVar(&d.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "largest request header block")
	fs.IntVar(&d.MaxHTTPConns, "max-http-conns", d.MaxHTTPConns, "TCP connections the main listener holds at once; 0 = --max-conns + 1024")
	fs.IntVar(&c.Limits.MaxConnInboundBytes, "max-conn-inbound-bytes", c.Limits.MaxConnInboundBytes, "client data one multiplexed connection may have buffered for its channels (more: the channel closes with limit)")
}
