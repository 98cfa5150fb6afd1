package app

import (
	"github.com/yardhq/yard/server/httpapi"
	"github.com/yardhq/yard/server/workflow"
)

// wireWorkflow serves the workflow's templates and compose import, written through the rooms'
// documents.
func wireWorkflow(r *rooms) httpapi.Mounter {
	return workflow.NewAPI(r.manager, nil)
}
