//go:build !race

package crdt

const raceSlowdown = 1
