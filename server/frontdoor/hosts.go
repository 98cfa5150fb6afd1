package frontdoor

import (
	"net"
	"net/http"
	"strings"

	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
)

// Hosts decides which Host headers the server answers. An IP address and "localhost" are
// always allowed: a rebinding attack needs a name the attacker's DNS answers, and a page that
// addresses the server by IP or localhost is of the server's own origin. Names must be listed;
// an entry without a port matches every port.
type Hosts struct {
	names map[string]bool
}

// NewHosts returns the allowlist of names (as config.Config.ListenHosts lists them).
func NewHosts(names []string) Hosts {
	h := Hosts{names: map[string]bool{}}
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			h.names[n] = true
		}
	}
	return h
}

// Allowed reports whether a request with Host header host is for this server.
func (h Hosts) Allowed(host string) bool {
	host = strings.ToLower(host)
	name := host
	if n, _, err := net.SplitHostPort(host); err == nil {
		name = n
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if name == "" {
		return false
	}
	if name == "localhost" || net.ParseIP(name) != nil {
		return true
	}
	return h.names[host] || h.names[name]
}

// Origins is the Origin policy for requests that act with what the browser holds (cookies are
// not used, but a WebSocket upgrade or a sign-in form post from another site must not reach a
// handler): no Origin (not a browser), the server's own origin, or one of the allowlist.
type Origins struct {
	allowed map[string]bool
}

// NewOrigins returns the policy with extra allowed origins (normalized here).
func NewOrigins(allowed []string) Origins {
	o := Origins{allowed: map[string]bool{}}
	for _, s := range allowed {
		if n, err := config.NormalizeOrigin(s); err == nil {
			o.allowed[n] = true
		}
	}
	return o
}

// Allowed reports whether r's Origin is absent, the server's own, or allowlisted.
func (o Origins) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return o.Same(r, origin)
}

// Same reports whether origin (present) is r's own origin or allowlisted.
func (o Origins) Same(r *http.Request, origin string) bool {
	n, err := config.NormalizeOrigin(origin)
	if err != nil {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if n == scheme+"://"+strings.ToLower(r.Host) {
		return true
	}
	return o.allowed[n]
}

func refuseHost(w http.ResponseWriter) {
	httpjson.WriteCoded(w, errcode.Errorf(errcode.MisdirectedHost, "this server does not answer to that host name (see --allowed-hosts)"))
}
