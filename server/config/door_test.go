package config

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDoorDefaultsAndEnvironment(t *testing.T) {
	d := Default().Door
	if d.JWTUserClaim != "sub" || d.SessionMax != 24*time.Hour || d.ReadHeaderTimeout != 10*time.Second ||
		d.ReadBodyTimeout != 30*time.Second || d.MaxHeaderBytes != 64<<10 || d.MetricsListen != "" {
		t.Fatalf("defaults %+v", d)
	}
	if n := Default().HTTPConns(); n != 20000+1024 {
		t.Fatalf("listener limit %d", n)
	}
	c, err := Parse([]string{"--dev-auth"}, env(map[string]string{
		"YARD_ALLOWED_HOSTS": "yard.example.com,yard.internal:8443", "YARD_JWT_USER_CLAIM": "email",
		"YARD_SESSION_MAX": "48h", "YARD_MAX_HTTP_CONNS": "100", "YARD_METRICS_LISTEN": "127.0.0.1:9090",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Door.JWTUserClaim != "email" || c.Door.SessionMax != 48*time.Hour || c.HTTPConns() != 100 || c.Door.MetricsListen != "127.0.0.1:9090" {
		t.Fatalf("environment not applied: %+v", c.Door)
	}
	c.AllowedOrigins = []string{"https://Yard.Example.org"}
	c.Listen = "yard.local:8080"
	hosts := c.ListenHosts()
	for _, want := range []string{"yard.local", "yard.example.org", "yard.example.com", "yard.internal:8443"} {
		if !slices.Contains(hosts, want) {
			t.Errorf("hosts %q lack %q", hosts, want)
		}
	}
}

func TestDoorValidate(t *testing.T) {
	cases := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"jwks without audience": {func(c *Config) { c.JWKSURL, c.Door.JWTIssuer = "https://idp/keys", "https://idp" }, "--jwt-audience"},
		"jwks without issuer":   {func(c *Config) { c.JWKSURL, c.Door.JWTAudience = "https://idp/keys", "yard" }, "--jwt-issuer"},
		"host with scheme":      {func(c *Config) { c.Door.AllowedHosts = []string{"https://yard.example.com"} }, "--allowed-hosts"},
		"host with path":        {func(c *Config) { c.Door.AllowedHosts = []string{"yard.example.com/x"} }, "--allowed-hosts"},
		"host with bad port":    {func(c *Config) { c.Door.AllowedHosts = []string{"yard.example.com:99999"} }, "--allowed-hosts"},
		"metrics without port":  {func(c *Config) { c.Door.MetricsListen = "127.0.0.1" }, "--metrics-listen"},
		"metrics on the app":    {func(c *Config) { c.Door.MetricsListen = c.Listen }, "--metrics-listen"},
		"pprof without metrics": {func(c *Config) { c.Door.Pprof = true }, "--pprof"},
		"empty user claim":      {func(c *Config) { c.Door.JWTUserClaim = "" }, "--jwt-user-claim"},
		"session under ttl":     {func(c *Config) { c.Door.SessionMax = time.Hour }, "--session-max"},
		"no header timeout":     {func(c *Config) { c.Door.ReadHeaderTimeout = 0 }, "--read-header-timeout"},
		"tiny header limit":     {func(c *Config) { c.Door.MaxHeaderBytes = 100 }, "--max-header-bytes"},
		"negative http conns":   {func(c *Config) { c.Door.MaxHTTPConns = -1 }, "--max-http-conns"},
		"inbound under a frame": {func(c *Config) { c.Limits.MaxConnInboundBytes = 1000 }, "--max-conn-inbound-bytes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := Default()
			c.JWTSecret = "0123456789abcdef"
			tc.mut(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
	c := Default()
	c.JWKSURL, c.Door.JWTAudience, c.Door.JWTIssuer = "https://idp/keys", "yard", "https://idp"
	if err := c.Validate(); err != nil {
		t.Fatalf("jwks with audience and issuer: %v", err)
	}
}
