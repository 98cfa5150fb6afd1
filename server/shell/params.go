package shell

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/mux"
)

// OpenParams is a parsed shell open request: a new session, or a join.
type OpenParams struct {
	Cluster   string
	Namespace string
	Pod       string
	Container string
	// Command is the explicit command; empty means a shell (bash, else sh).
	Command []string

	// Session, when set, joins that session instead of starting one.
	Session string
	// Role is what a joiner asks to be: RoleObserver (default) or RoleDriver.
	Role string
}

// Roles.
const (
	RoleDriver   = "driver"
	RoleObserver = "observer"
)

const (
	maxCommandArgs  = 64
	maxCommandBytes = 8 << 10
)

// ParseOpen validates params; problems are bad_params errors naming the parameter.
func ParseOpen(p url.Values) (OpenParams, error) {
	bad := func(format string, args ...any) (OpenParams, error) {
		return OpenParams{}, mux.Errorf(mux.CodeBadParams, format, args...)
	}
	o := OpenParams{Session: p.Get("session"), Role: p.Get("role")}
	if o.Session != "" {
		if !ValidSessionID(o.Session) {
			return bad("session %q is not a session id", o.Session)
		}
		switch o.Role {
		case "":
			o.Role = RoleObserver
		case RoleObserver, RoleDriver:
		default:
			return bad("role %q: want observer or driver", o.Role)
		}
		return o, nil
	}
	o.Cluster, o.Namespace, o.Pod, o.Container = p.Get("cluster"), p.Get("namespace"), p.Get("pod"), p.Get("container")
	if o.Namespace == "" || o.Pod == "" {
		return bad("namespace and pod are required (or session to join one)")
	}
	for name, v := range map[string]string{"namespace": o.Namespace, "pod": o.Pod, "container": o.Container} {
		if v != "" && !cluster.ValidName(v) {
			return bad("%s %q is not a valid name", name, v)
		}
	}
	if o.Role != "" && o.Role != RoleDriver {
		return bad("a new session's owner drives it; role %q is only for joining", o.Role)
	}
	o.Role = RoleDriver
	total := 0
	for _, a := range p["command"] {
		total += len(a)
	}
	if len(p["command"]) > maxCommandArgs || total > maxCommandBytes {
		return bad("command: at most %d arguments and %d bytes", maxCommandArgs, maxCommandBytes)
	}
	if len(p["command"]) > 0 && p["command"][0] == "" {
		return bad("command: the program must not be empty")
	}
	o.Command = append([]string(nil), p["command"]...)
	return o, nil
}

// ValidSessionID accepts the ids NewSessionID makes (and nothing that could reach a key or path).
func ValidSessionID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Control is a client's text message.
type Control struct {
	Type string `json:"type"`
	Cols int    `json:"cols,omitempty"`
	Rows int    `json:"rows,omitempty"`
	User string `json:"user,omitempty"`
}

// ParseControl decodes and validates a client control message.
func ParseControl(b []byte) (Control, error) {
	var c Control
	if len(b) > 4096 {
		return c, mux.Errorf(mux.CodeBadParams, "control message too long")
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, mux.Errorf(mux.CodeBadParams, "control message: %v", err)
	}
	switch c.Type {
	case "resize":
		if c.Cols < 1 || c.Cols > 1000 || c.Rows < 1 || c.Rows > 1000 {
			return c, mux.Errorf(mux.CodeBadParams, "resize: cols and rows from 1 to 1000")
		}
	case "request-driver":
	case "grant-driver":
		if c.User == "" || len(c.User) > 256 {
			return c, mux.Errorf(mux.CodeBadParams, "grant-driver: user is required")
		}
	default:
		return c, mux.Errorf(mux.CodeBadParams, "unknown control message type %q", strings.ToValidUTF8(fmt.Sprint(c.Type), "?"))
	}
	return c, nil
}
