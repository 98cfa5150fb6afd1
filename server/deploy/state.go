package deploy

import (
	"slices"
)

// States of a deploy.
const (
	StatePlanned     = "planned"
	StateApproved    = "approved"
	StateApplying    = "applying"
	StateSucceeded   = "succeeded"
	StateFailed      = "failed"
	StateCancelled   = "cancelled"
	StateInvalidated = "invalidated"
	StateRejected    = "rejected"
	StateRolledBack  = "rolled-back"
)

// transitions is the state machine: from -> the states it may move to. A state absent as a key
// is final.
var transitions = map[string][]string{
	StatePlanned:   {StateApproved, StateApplying, StateRejected, StateInvalidated, StateCancelled},
	StateApproved:  {StateApproved, StateApplying, StateRejected, StateInvalidated, StateCancelled},
	StateApplying:  {StateSucceeded, StateFailed, StateCancelled},
	StateSucceeded: {StateRolledBack},
}

// CanMove reports whether a deploy in state from may move to state to.
func CanMove(from, to string) bool { return slices.Contains(transitions[from], to) }

// Open reports whether a deploy in state s still waits for approval or apply (so a change of
// the workflow invalidates it).
func Open(s string) bool { return s == StatePlanned || s == StateApproved }

// Node statuses written under a deploy's nodes.
const (
	NodePending     = "pending"
	NodeApplying    = "applying"
	NodeProgressing = "progressing"
	NodeReady       = "ready"
	NodeFailed      = "failed"
)

// Plan actions.
const (
	ActionCreate    = "create"
	ActionUpdate    = "update"
	ActionUnchanged = "unchanged"
	ActionDelete    = "delete"
)

// Policy is a room's approval rule.
type Policy struct {
	// Approvals is how many approvals a deploy needs before it may be applied (0: the
	// proposer's plan may be applied at once).
	Approvals int `json:"approvals"`
	// FourEyes: the proposer's own approval does not count.
	FourEyes bool `json:"fourEyes"`
}

// MaxApprovals bounds Policy.Approvals.
const MaxApprovals = 10

// Approval is one approval or rejection.
type Approval struct {
	User string `json:"user"`
	At   string `json:"at"`
}

// PlanRow is what the plan says about one object (or one node that cannot render).
type PlanRow struct {
	NodeID    string `json:"nodeId"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Action    string `json:"action"`
	Diff      string `json:"diff"`
	Error     string `json:"error"`
}

// NodeStatus is one node's rollout status.
type NodeStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Deploy is one deploy as the document holds it (root "deploys", key ID).
type Deploy struct {
	ID           string                `json:"id"`
	Proposer     string                `json:"proposer"`
	CreatedAt    string                `json:"createdAt"`
	Cluster      string                `json:"cluster"`
	State        string                `json:"state"`
	WorkflowHash string                `json:"workflowHash"`
	Plan         []PlanRow             `json:"plan"`
	Approvals    []Approval            `json:"approvals"`
	Rejections   []Approval            `json:"rejections"`
	Required     int                   `json:"required"`
	FourEyes     bool                  `json:"fourEyes"`
	Nodes        map[string]NodeStatus `json:"nodes"`
	AppliedBy    string                `json:"appliedBy"`
	FinishedAt   string                `json:"finishedAt"`
	// Message says why a deploy failed, was cancelled or invalidated.
	Message string `json:"message"`
	Prune   bool   `json:"prune"`
	// RollbackOf names the deploy a rollback undoes (it becomes rolled-back when the rollback
	// succeeds).
	RollbackOf string `json:"rollbackOf"`
	// Token is the fencing token of the lock the applying replica holds.
	Token int64 `json:"token"`
	// Manifests are the rendered objects (JSON), kept for apply and rollback.
	Manifests string `json:"manifests"`
}

// counted returns the approvals that count under the deploy's rule.
func (d *Deploy) counted() int {
	n := 0
	for _, a := range d.Approvals {
		if d.FourEyes && a.User == d.Proposer {
			continue
		}
		n++
	}
	return n
}

// PolicyMet reports whether the deploy has the approvals it needs.
func (d *Deploy) PolicyMet() bool { return d.counted() >= d.Required }

// planErrors counts the plan's rows with an error.
func (d *Deploy) planErrors() int {
	n := 0
	for _, r := range d.Plan {
		if r.Error != "" {
			n++
		}
	}
	return n
}
