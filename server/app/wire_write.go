package app

import (
	"log/slog"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/metrics"
	"github.com/yardhq/yard/server/write"
)

// wireWrite builds the one write path (the Writer, for the deploy too, and its API): every cluster write (apply, scale, restart, delete) goes
// through it, audited in trail and reported to the room it was made from.
func wireWrite(cfg config.Config, log *slog.Logger, m *metrics.Set, cls *clusters, rms *rooms, trail audit.Trail) (*write.Writer, *write.API, error) {
	w, err := write.New(write.Options{
		Clusters:   cls.set,
		Trail:      trail,
		Rooms:      rms.manager,
		Enabled:    cfg.WriteEnabled,
		Replica:    rms.replica,
		Logger:     log.With("component", "write"),
		Registerer: m.Registry,
	})
	if err != nil {
		return nil, nil, err
	}
	return w, write.NewAPI(w, httpapi.RequestIDFrom), nil
}
