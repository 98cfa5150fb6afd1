package shell

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

// MountAdmin serves the shell admin API under /admin/sessions: every replica's sessions, ending
// one, and a session's recording (from the replica that ran it). The caller puts it behind the
// admin check; the sessions' audit is in the audit trail (/api/admin/audit?verb=exec).
func (m *Manager) MountAdmin(r chi.Router) {
	r.Route("/admin/sessions", m.mountSessions)
}

func (m *Manager) mountSessions(r chi.Router) {
	r.Get("/", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		list, err := m.Sessions(ctx)
		if err != nil {
			httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "%v", err))
			return
		}
		if list == nil {
			list = []Info{}
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"sessions": list})
	})
	r.Delete("/{id}", func(w http.ResponseWriter, req *http.Request) {
		u, _ := identity.FromContext(req.Context())
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		if err := m.End(ctx, chi.URLParam(req, "id"), u); err != nil {
			httpjson.WriteCoded(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/{id}/recording", func(w http.ResponseWriter, req *http.Request) {
		id := chi.URLParam(req, "id")
		p, ok := m.RecordingPath(id)
		if !ok {
			httpjson.WriteCoded(w, errcode.Errorf(errcode.NotFound, "no recording of session %s on this replica", id))
			return
		}
		w.Header().Set("Content-Type", "application/x-asciicast")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.cast"`, id))
		http.ServeFile(w, req, p)
	})
}
