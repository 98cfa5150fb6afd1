package httpapi

import (
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/yardhq/yard/server/auth"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/frontdoor"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

type authHandlers struct {
	verifier *auth.Verifier
	tickets  auth.TicketStore
	origins  frontdoor.Origins
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

// devLogin signs anyone in, so it must not be reachable from another site's page: a browser
// sends Origin with every cross-site POST (refused unless allowed), and a form can only post
// form encodings, never application/json, without a CORS preflight that Yard never answers.
func (a *authHandlers) devLogin(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && !a.origins.Same(r, o) {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.Forbidden, "dev login from another origin is not allowed"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "dev login takes a JSON body (Content-Type: application/json)"))
		return
	}
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
	// Admin is membership of --admin-group, decided each time the token is verified.
	if req.Admin && !slices.Contains(groups, a.verifier.AdminGroup()) {
		groups = append(groups, a.verifier.AdminGroup())
	}
	tok, exp, err := a.verifier.Issue(identity.User{ID: req.Name, Name: req.Name, Groups: groups})
	a.respond(w, tok, exp, err)
	a.log.Info("dev login", "user", req.Name, "groups", groups, "admin", req.Admin)
}

// refresh issues a new token for the presented one's session; it never outlives the session's
// sign-in plus --session-max.
func (a *authHandlers) refresh(w http.ResponseWriter, r *http.Request) {
	tok, exp, _, err := a.verifier.Refresh(auth.BearerToken(r.Header.Get("Authorization")))
	if code := auth.CodeOf(err); err != nil && code != auth.CodeRefreshNotHere {
		httpjson.WriteError(w, http.StatusUnauthorized, code, auth.MessageOf(err))
		return
	}
	a.respond(w, tok, exp, err)
}

func (a *authHandlers) respond(w http.ResponseWriter, tok string, exp time.Time, err error) {
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
	if auth.CodeOf(err) == auth.CodeTicketLimit {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.Limit, "%s", auth.MessageOf(err)))
		return
	}
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
