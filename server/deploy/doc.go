// Package deploy turns a room's workflow into a collaborative deploy: a user proposes, the
// server snapshots the workflow, renders it and dry-runs every object as that user, and writes
// the plan into the room's document (root "deploys") for everyone to see; approvals follow the
// room's policy (kept server-side, never in the document, which any client may edit); apply
// runs server-side apply through the one write path (server/write) as the user who presses it,
// in dependency order, under the room's deploy lock (server/deploy/lock), and writes each node's
// rollout status into the document live until everything is ready, something failed, or the
// deploy timed out. A deploy whose workflow changed after its plan is invalidated.
package deploy
