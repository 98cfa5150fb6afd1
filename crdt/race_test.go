//go:build race

package crdt

// raceSlowdown: the race detector slows the engine 5-10x, so time bounds
// of tests scale by this much.
const raceSlowdown = 5
