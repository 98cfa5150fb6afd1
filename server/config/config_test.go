package config

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsNeedOnlyAWayToSignIn(t *testing.T) {
	c := Default()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "no way to sign in") {
		t.Fatalf("want the sign-in error, got %v", err)
	}
	c.DevAuth = true
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults + dev auth: %v", err)
	}
	if c.Listen != "127.0.0.1:8080" || c.AdminGroup != "yard-admins" || c.WriteEnabled {
		t.Fatalf("defaults changed: %+v", c)
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	c, err := Parse([]string{"--listen", "127.0.0.1:9000", "--context", "a", "--context", "b,c"},
		env(map[string]string{
			"YARD_LISTEN":     "127.0.0.1:7000",
			"YARD_REDIS_URL":  "redis://127.0.0.1:6379/0",
			"YARD_DEV_AUTH":   "true",
			"YARD_TOKEN_TTL":  "2h",
			"YARD_MAX_CONNS":  "5",
			"YARD_JWT_SECRET": "a-secret-long-enough",
		}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("listen %q: the flag must win", c.Listen)
	}
	if c.RedisURL != "redis://127.0.0.1:6379/0" || !c.DevAuth || c.TokenTTL != 2*time.Hour || c.Limits.MaxConns != 5 {
		t.Errorf("environment not applied: %+v", c)
	}
	if strings.Join(c.Contexts, "|") != "a|b|c" {
		t.Errorf("contexts %q", c.Contexts)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBadEnvironmentValueNamesTheVariableNotTheValue(t *testing.T) {
	_, err := Parse(nil, env(map[string]string{"YARD_MAX_CONNS": "lots-secret"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "YARD_MAX_CONNS") || strings.Contains(err.Error(), "lots-secret") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		mut  func(*Config)
		want string
	}{
		"dev auth on all interfaces": {func(c *Config) { c.DevAuth, c.Listen = true, "0.0.0.0:8080" }, "non-loopback"},
		"dev auth on a public name":  {func(c *Config) { c.DevAuth, c.Listen = true, "yard.example.com:80" }, "non-loopback"},
		"short secret":               {func(c *Config) { c.JWTSecret = "short" }, "at least 16 bytes"},
		"bad listen":                 {func(c *Config) { c.Listen = "8080" }, "--listen"},
		"bad origin":                 {func(c *Config) { c.AllowedOrigins = []string{"example.com"} }, "--allowed-origins"},
		"bad redis":                  {func(c *Config) { c.RedisURL = "http://x" }, "--redis-url"},
		"cluster without redis":      {func(c *Config) { c.RedisCluster = true }, "--redis-cluster"},
		"cluster over a unix socket": {func(c *Config) { c.RedisURL, c.RedisCluster = "unix:///tmp/r.sock", true }, "--redis-cluster"},
		"bad jwks":                   {func(c *Config) { c.JWKSURL = "ftp://x/keys" }, "--jwks-url"},
		"bad log format":             {func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		"zero limit":                 {func(c *Config) { c.Limits.MaxConnsPerUser = 0 }, "--max-conns-per-user"},
		"tiny frames":                {func(c *Config) { c.Limits.MaxFrameBytes = 100 }, "--max-frame-bytes"},
		"no audit file":              {func(c *Config) { c.Audit.File = "" }, "--audit-file"},
		"short audit retention":      {func(c *Config) { c.Audit.Retention = time.Second }, "--audit-retention"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := Default()
			c.JWTSecret = "0123456789abcdef"
			tc.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
	c := Default()
	c.DevAuth, c.Listen, c.InsecureDevAuthAnywhere = true, "0.0.0.0:8080", true
	if err := c.Validate(); err != nil {
		t.Fatalf("explicit insecure dev auth: %v", err)
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"HTTP://Example.COM:8080": "http://example.com:8080",
		"https://yard.dev/":       "https://yard.dev",
	} {
		got, err := NormalizeOrigin(in)
		if err != nil || got != want {
			t.Errorf("%q -> %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "example.com", "http://x/path", "http://x?q=1"} {
		if _, err := NormalizeOrigin(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestFlagsTableCoversEveryFlag(t *testing.T) {
	rows := Flags()
	if len(rows) < 20 {
		t.Fatalf("%d flags listed", len(rows))
	}
	for _, r := range rows {
		if r[1] != EnvName(r[0]) || !strings.HasPrefix(r[1], "YARD_") || r[3] == "" {
			t.Errorf("row %q", r)
		}
	}
}

// The README's configuration table is the users' reference: every flag must be in it.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Flags() {
		if !strings.Contains(string(readme), "| `--"+r[0]+"` | `"+r[1]+"` |") {
			t.Errorf("README.md lacks a row for --%s (%s)", r[0], r[1])
		}
	}
}

func TestAuditKnobs(t *testing.T) {
	c, err := Parse([]string{"--dev-auth"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.File != ".yard/audit.jsonl" || c.Audit.Retention != 720*time.Hour {
		t.Fatalf("defaults %+v", c.Audit)
	}
	c, err = Parse([]string{"--dev-auth", "--audit-retention", "48h"},
		env(map[string]string{"YARD_AUDIT_FILE": "var/trail.jsonl", "YARD_AUDIT_RETENTION": "1h"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.File != "var/trail.jsonl" || c.Audit.Retention != 48*time.Hour {
		t.Fatalf("flag over environment: %+v", c.Audit)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestClusterKnobs(t *testing.T) {
	c, err := Parse([]string{"--dev-auth", "--access-ttl", "2s", "--cluster-health-interval", "5s", "--watch-grace", "0s"},
		env(map[string]string{"YARD_WATCH_HISTORY": "100"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Clusters.AccessTTL != 2*time.Second || c.Clusters.HealthInterval != 5*time.Second ||
		c.Clusters.WatchGrace != 0 || c.Clusters.WatchHistory != 100 {
		t.Fatalf("clusters %+v", c.Clusters)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := Default().Clusters; d.AccessTTL != 10*time.Second || d.HealthInterval != 30*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	c.Clusters.HealthInterval = 0
	c.Clusters.WatchHistory = 0
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--cluster-health-interval") || !strings.Contains(err.Error(), "--watch-history") {
		t.Fatalf("err = %v", err)
	}
}

func TestRoomSendEvery(t *testing.T) {
	if d := Default().Rooms.SendEvery; d != 15*time.Millisecond {
		t.Fatalf("default %s", d)
	}
	c, err := Parse([]string{"--dev-auth"}, env(map[string]string{"YARD_ROOM_SEND_EVERY": "0"}), io.Discard)
	if err != nil || c.Rooms.SendEvery != 0 {
		t.Fatalf("YARD_ROOM_SEND_EVERY=0: %v, %v", c.Rooms.SendEvery, err)
	}
	c.Rooms.SendEvery = -time.Millisecond
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--room-send-every") {
		t.Fatalf("negative: err = %v", err)
	}
	c.Rooms.SendEvery = 2 * time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--room-send-every") {
		t.Fatalf("2s: err = %v", err)
	}
}

func TestRoomDocQuotaAndWriteBudget(t *testing.T) {
	if d := Default().Rooms; d.MaxDocBytes != 64<<20 || d.UserWriteBytesPerSec != 1<<20 {
		t.Fatalf("defaults %d, %d", d.MaxDocBytes, d.UserWriteBytesPerSec)
	}
	c, err := Parse([]string{"--dev-auth"}, env(map[string]string{
		"YARD_ROOM_MAX_DOC_BYTES": "2097152", "YARD_ROOM_USER_WRITE_BYTES_PER_SEC": "4096",
	}), io.Discard)
	if err != nil || c.Rooms.MaxDocBytes != 2<<20 || c.Rooms.UserWriteBytesPerSec != 4096 {
		t.Fatalf("from the environment: %d, %d, %v", c.Rooms.MaxDocBytes, c.Rooms.UserWriteBytesPerSec, err)
	}
	c.Rooms.MaxDocBytes = c.Rooms.MaxMessageBytes - 1
	c.Rooms.UserWriteBytesPerSec = 100
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--room-max-doc-bytes") || !strings.Contains(err.Error(), "--room-user-write-bytes-per-sec") {
		t.Fatalf("err = %v", err)
	}
}
