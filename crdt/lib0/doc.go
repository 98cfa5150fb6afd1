// Package lib0 implements the binary encoding used by Yjs (the npm lib0
// package, 0.2.x): variable-length unsigned and signed integers (with a
// distinct negative zero), length-prefixed byte arrays and UTF-8 strings,
// big-endian floats, and the self-describing "Any" value format.
//
// Decoders are written for untrusted input: they never panic, report
// truncated or malformed input as errors wrapping ErrMalformed, and never
// allocate more than the remaining input could possibly encode.
package lib0
