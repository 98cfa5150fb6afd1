// Package shell serves the "shell" channel kind and /ws/shell: a TTY exec into a container, run
// as the user who opened it, that other users may join to watch or, when handed the keyboard,
// to type.
//
// A session lives on the replica that started its exec (its home). Everyone in it, including
// its owner, talks to the home through a Hub: input, resizes and requests go to the home, output
// and participant changes come back. The in-memory Hub serves one replica; the Redis Hub lets a
// participant on any replica join. Live sessions are listed in the replica directory
// (server/directory, scope "shells"), where a claim also bounds each owner's sessions across
// replicas. The home keeps a bounded scrollback for joiners, records
// output and resizes (never input) as asciicast v2, and puts the exec attempt and who joined,
// left, took the keyboard or ended it in the audit trail (server/audit).
package shell
