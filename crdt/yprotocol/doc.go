// Package yprotocol speaks the y-protocols 1.0.x messages that y-websocket clients exchange with a
// server: sync (step 1 with a state vector, step 2 and update with v1 update bytes), awareness
// (presence states with per-client clocks), query-awareness and the auth permission-denied
// message. Every encoding is byte-compatible with the npm y-protocols package; golden files
// generated from it pin that down.
//
// One WebSocket frame carries one message (y-websocket 2.x and 3.x clients read exactly one per
// frame), so the encoders return whole messages, outer type included.
//
// The decoders never panic and never allocate more than their input justifies; bad input yields
// an *Error with a stable code and changes no state. Decoded payloads alias the input buffer.
package yprotocol
