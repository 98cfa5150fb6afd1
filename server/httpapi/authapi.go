package httpapi

import (
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

type authHandlers struct {
	verifier *auth.Verifier
	tickets  auth.TicketStore
	log      *slog.Logger
}

// Kubernetes accepts almost any user name; dev login takes a conservative subset so names are
// safe in logs, URLs and impersonation headers.
var devName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$`)

type tokenResponse struct {
	Token     string        `json:"token"`
	ExpiresAt time.Time     `json:"expiresAt"`
	User      identity.User `json:"user"`
}

func (a *authHandlers) devLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
		Admin  bool     `json:"admin"`
	}
	if !httpjson.DecodeJSON(w, r, 4096, &req) {
		return
	}
	if !devName.MatchString(req.Name) {
		httpjson.WriteError(w, http.StatusBadRequest, "invalid_name", "name: 1-63 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
		return
	}
	var groups []string
	for _, g := range req.Groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if strings.HasPrefix(g, "system:") || !devName.MatchString(g) {
			httpjson.WriteError(w, http.StatusBadRequest, "invalid_group", "group "+g+": not allowed")
			return
		}
		groups = append(groups, g)
	}
	// The token records admin only when asked; group membership of --admin-group makes admins
	// too, at verification time.
	a.issue(w, identity.User{ID: req.Name, Name: req.Name, Groups: groups, Admin: req.Admin})
	a.log.Info("dev login", "user", req.Name, "groups", groups, "admin", req.Admin)
}

func (a *authHandlers) refresh(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.FromContext(r.Context())
	a.issue(w, u)
}

func (a *authHandlers) issue(w http.ResponseWriter, u identity.User) {
	tok, exp, err := a.verifier.Issue(u)
	if err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, auth.CodeOf(err), "this server issues no tokens: get a new one from the identity provider")
		return
	}
	// Verify what was just issued so the response reports the user as every later request
	// will see it (admin through --admin-group).
	seen, err := a.verifier.Verify(tok)
	if err != nil {
		httpjson.WriteError(w, http.StatusInternalServerError, "internal", "issued token does not verify")
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, tokenResponse{Token: tok, ExpiresAt: exp.UTC(), User: seen})
}

func (a *authHandlers) wsTicket(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.FromContext(r.Context())
	t, exp, err := a.tickets.Issue(r.Context(), u)
	if err != nil {
		httpjson.WriteError(w, http.StatusServiceUnavailable, "tickets_unavailable", "cannot issue a ticket now")
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"ticket": t, "expiresAt": exp.UTC()})
}

func (a *authHandlers) me(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.FromContext(r.Context())
	httpjson.WriteJSON(w, http.StatusOK, u)
}
